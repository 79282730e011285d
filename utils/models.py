"""Networks for CIFAR-10: the fast residual network of chapter 5."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FastResNet", "count_parameters"]


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
