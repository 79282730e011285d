"""Networks for CIFAR-10: a fast residual network, and the original tutorial's ResNet as a baseline."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["FastResNet", "TutorialResNet", "count_parameters"]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _conv_bn(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.GELU()]


class _Residual(nn.Module):
    def __init__(self, channels: int, depth: int = 1):
        super().__init__()
        self.body = nn.Sequential(*[m for _ in range(depth) for m in _conv_bn(channels, channels)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class FastResNet(nn.Module):
    """A ResNet-9-style network for 32x32 images (after Page, 2019, and Jordan's airbench, 2024).

    Stem conv, then one group per width: conv, 2x2 max-pool, batch norm, GELU, and a residual
    block of ``depth`` conv-BN-GELU layers; then global max-pooling and a linear classifier whose
    output is scaled by ``logit_scale`` (small logits train better with label smoothing).
    Every conv is followed by batch norm, so conv weights are scale-invariant (chapter 5).

    Raises:
        ValueError: if ``widths`` is empty or holds a non-positive width.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (64, 128, 256),
        num_classes: int = 10,
        logit_scale: float = 0.125,
        depth: int = 1,
    ):
        super().__init__()
        if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
            raise ValueError(f"widths must be positive ints, got {widths!r}")
        stem = widths[0] // 2
        layers: list[nn.Module] = [*_conv_bn(3, stem)]
        c_in = stem
        for width in widths:
            layers += [
                nn.Conv2d(c_in, width, 3, padding=1, bias=False),
                nn.MaxPool2d(2),
                nn.BatchNorm2d(width),
                nn.GELU(),
                _Residual(width, depth),
            ]
            c_in = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_in, num_classes, bias=False)
        self.logit_scale = logit_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = torch.amax(x, dim=(2, 3))
        return self.classifier(x) * self.logit_scale


class _TutorialBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, same_shape: bool = True):
        super().__init__()
        stride = 1 if same_shape else 2
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = None if same_shape else nn.Conv2d(c_in, c_out, 1, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        if self.shortcut is not None:
            x = self.shortcut(x)
        return F.relu(x + out)


class TutorialResNet(nn.Module):
    """The original tutorial's ResNet, made for 96x96 inputs (CIFAR-10 upsampled from 32 px).

    A 7x7 stride-2 stem, max-pooling, four stages of two residual blocks (64, 128, 256, 512
    channels), a 3x3 average pool and a linear classifier: about 11 million parameters.
    It is the baseline of the speed benchmark, not a recipe to copy.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, 64, 7, stride=2)
        self.stages = nn.Sequential(
            nn.MaxPool2d(3, 2), _TutorialBlock(64, 64), _TutorialBlock(64, 64),
            _TutorialBlock(64, 128, False), _TutorialBlock(128, 128),
            _TutorialBlock(128, 256, False), _TutorialBlock(256, 256),
            _TutorialBlock(256, 512, False), _TutorialBlock(512, 512),
            nn.AvgPool2d(3),
        )  # fmt: skip
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.classifier(x.flatten(1))
