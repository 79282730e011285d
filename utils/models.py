"""Networks for CIFAR-10: the fast residual network of chapter 5.

The design follows the published description of Keller Jordan's airbench (*94% on CIFAR-10 in 3.29
seconds on a single GPU*, 2024), which grew out of Page's *How to train your ResNet* (2019): a frozen
patch-whitening first layer, convolutions initialised as identities (Dirac), batch norm with a frozen
scale, and a small logit scale. One family for every preset: only the widths differ.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FastResNet", "count_parameters", "whitening_filters"]

WHITEN_KERNEL = 2  # 2x2 patches of 3 channels: 12 directions, each used with both signs


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (the frozen whitening filters and batch-norm scales are not)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def whitening_filters(images: torch.Tensor, kernel_size: int = WHITEN_KERNEL, eps: float = 5e-4) -> torch.Tensor:
    """Conv filters that whiten the ``kernel_size`` x ``kernel_size`` patches of ``images``.

    The patch covariance ``C = V diag(e) V^T`` gives filters ``v_i / sqrt(e_i + eps)``: the patches'
    coordinates along the eigenvectors, each scaled to unit variance. Each filter appears with both
    signs (so a GELU after it passes either half), largest eigenvalue first: shape
    ``(2 k^2 c, c, k, k)``. Computed in float64 so that every machine gets the same filters.

    Raises:
        ValueError: if ``images`` is not a 4-D batch, or has fewer patches than patch dimensions.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    c, k = images.shape[1], kernel_size
    patches = images.double().unfold(2, k, 1).unfold(3, k, 1)  # (N, C, H', W', k, k)
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * k * k)
    if len(patches) < c * k * k:
        raise ValueError(f"{len(patches)} patches cannot estimate a {c * k * k}-dimensional covariance")
    eigenvalues, eigenvectors = torch.linalg.eigh(patches.T @ patches / len(patches))
    filters = (eigenvectors / torch.sqrt(eigenvalues + eps)).T.flip(0).reshape(-1, c, k, k)
    return torch.cat((filters, -filters)).float()


def _conv(c_in: int, c_out: int) -> nn.Conv2d:
    """A 3x3 convolution whose first ``min(c_in, c_out)`` filters start as the identity (Dirac init)."""
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
    with torch.no_grad():
        nn.init.dirac_(conv.weight[: min(c_in, c_out)])
    return conv


def _batch_norm(channels: int) -> nn.BatchNorm2d:
    """Batch norm with a frozen scale of 1 (only its bias learns) and fast-moving running statistics."""
    norm = nn.BatchNorm2d(channels, eps=1e-12, momentum=0.4)
    norm.weight.requires_grad_(False)
    return norm


class _Residual(nn.Module):
    """``depth`` conv-BN-GELU layers, with a skip connection around them if ``skip`` (airbench has none)."""

    def __init__(self, channels: int, depth: int = 1, skip: bool = True):
        super().__init__()
        layers = [[_conv(channels, channels), _batch_norm(channels), nn.GELU()] for _ in range(depth)]
        self.body = nn.Sequential(*[m for layer in layers for m in layer])
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.skip else self.body(x)


def _check_sizes(widths: tuple[int, ...], depth: int) -> None:
    """Raise ``ValueError`` unless ``widths`` is a non-empty tuple of positive ints and ``depth`` a positive int."""
    if not widths or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"widths must be positive ints, got {widths!r}")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be a positive int, got {depth!r}")


class FastResNet(nn.Module):
    """A ResNet-9-style network for 32x32 images, after airbench and Page.

    ``whiten``: a 2x2 convolution with 24 frozen filters set from the data
    by :meth:`whiten_from` (only its bias learns); GELU. Then one group per
    width: a 3x3 conv, 2x2 max-pooling, batch norm, GELU, and a residual
    block of ``depth`` conv-BN-GELU layers; then global max-pooling and a
    linear classifier whose output is scaled by ``logit_scale`` (small
    logits train better with label smoothing). ``residual=False`` drops the
    skip connections: airbench94's own network (Jordan, 2024) has none,
    Page's ResNet-9 has them. Every 3x3 conv starts as an identity on its
    first channels (Dirac initialisation) and is followed by batch norm,
    so its weights are scale-invariant (chapter 5); batch norm's own scale
    is frozen at 1, so batch norm alone fixes a channel's output scale.

    Raises:
        ValueError: if ``widths`` is empty or holds a non-positive width,
            or ``depth < 1``.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (64, 256, 256),
        num_classes: int = 10,
        logit_scale: float = 1 / 9,
        depth: int = 1,
        residual: bool = True,
    ):
        super().__init__()
        _check_sizes(widths, depth)
        c_in = 2 * 3 * WHITEN_KERNEL**2
        self.whiten = nn.Conv2d(3, c_in, WHITEN_KERNEL, bias=True)
        self.whiten.weight.requires_grad_(False)
        # Its bias learns the offsets; a random start would shift the
        # whitened patches.
        nn.init.zeros_(self.whiten.bias)
        layers: list[nn.Module] = [nn.GELU()]
        for width in widths:
            block = _Residual(width, depth, residual)
            layers += [_conv(c_in, width), nn.MaxPool2d(2),
                       _batch_norm(width), nn.GELU(), block]
            c_in = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_in, num_classes, bias=False)
        self.logit_scale = logit_scale

    @torch.no_grad()
    def whiten_from(self, images: torch.Tensor) -> None:
        """Set the frozen first layer to whiten the patches of ``images``.

        ``images``: normalised training images.
        """
        filters = whitening_filters(images, self.whiten.kernel_size[0])
        self.whiten.weight.copy_(filters.to(self.whiten.weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(self.whiten(x))
        x = torch.amax(x, dim=(2, 3))
        return self.classifier(x) * self.logit_scale
