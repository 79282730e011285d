"""Penalties, weight decay parameter groups, ridge regression and dropout.

Conventions (used throughout the book): the L2-regularized objective is
``L(w) + (lam / 2) * ||w||^2``, whose gradient is ``grad L(w) + lam * w``; this is exactly what
``torch.optim.SGD(weight_decay=lam)`` adds to the gradient.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from .checks import checked, module, non_negative, positive_int, probability, tensor

__all__ = [
    "l2_penalty",
    "l1_penalty",
    "weight_decay_step",
    "decay_parameter_groups",
    "ridge_closed_form",
    "dropout",
    "ScratchDropout",
    "parameter_norms",
    "soft_threshold",
    "lasso_ista",
]

# Module types whose weights are scale/shift parameters, not feature detectors: never decayed.
_NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.LocalResponseNorm,
)
if hasattr(nn, "RMSNorm"):
    _NORM_TYPES += (nn.RMSNorm,)


@checked(w=tensor)
def l2_penalty(w: torch.Tensor) -> torch.Tensor:
    """The L2 penalty ``||w||^2 / 2``; its gradient is ``w``.

    Raises:
        TypeError: if ``w`` is not a tensor.
    """
    return (w**2).sum() / 2


@checked(w=tensor)
def l1_penalty(w: torch.Tensor) -> torch.Tensor:
    """The L1 penalty ``||w||_1 = sum |w_i|``; its (sub)gradient is ``sign(w)`` (0 at 0).

    Raises:
        TypeError: if ``w`` is not a tensor.
    """
    return w.abs().sum()


@torch.no_grad()
@checked(w=tensor, grad=tensor, lr=non_negative, weight_decay=non_negative)
def weight_decay_step(w: torch.Tensor, grad: torch.Tensor, lr: float, weight_decay: float) -> torch.Tensor:
    """One SGD step on ``L + (weight_decay/2)||w||^2``, written as decay then step:
    ``(1 - lr * weight_decay) * w - lr * grad``. Returns a new tensor.

    Raises:
        TypeError: if ``w`` or ``grad`` is not a tensor.
        ValueError: on mismatched shapes, a negative ``lr``/``weight_decay``, or
            ``lr * weight_decay >= 1`` (the factor would no longer shrink ``w`` toward 0).
    """
    if w.shape != grad.shape:
        raise ValueError(f"w and grad must have the same shape, got {tuple(w.shape)} and {tuple(grad.shape)}")
    if lr * weight_decay >= 1:
        raise ValueError(f"lr * weight_decay must be < 1 for decay, got {lr * weight_decay}")
    return (1 - lr * weight_decay) * w - lr * grad


@checked(model=module, weight_decay=non_negative)
def decay_parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Split ``model``'s trainable parameters into two optimizer groups.

    Weights of layers that compute features (``Linear``, ``Conv*``, embeddings, ...) get
    ``weight_decay``; biases and all parameters of normalization layers get ``0``, following
    He et al., "Bag of Tricks" (2019). Pass the result straight to an optimizer.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module`` or ``weight_decay`` is not a number.
        ValueError: if ``weight_decay`` is negative.
    """
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    seen: set[int] = set()
    for layer in model.modules():
        for name, param in layer.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            if isinstance(layer, _NORM_TYPES) or name.endswith("bias") or param.ndim <= 1:
                no_decay.append(param)
            else:
                decay.append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


@checked(X=tensor, y=tensor, lam=non_negative)
def ridge_closed_form(X: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    """Minimizer of ``||X w - y||^2 / (2n) + (lam/2) ||w||^2``: ``(X^T X / n + lam I)^-1 X^T y / n``.

    Computed through the SVD ``X = U S V^T`` as ``V diag(s / (s^2 + n lam)) U^T y``, which shows
    the shrinkage: direction ``i`` is scaled by ``s_i^2 / (s_i^2 + n lam)``.

    Raises:
        TypeError: if ``X`` or ``y`` is not a tensor.
        ValueError: if ``X`` is not 2-D, ``y`` does not have ``X.shape[0]`` rows, or ``lam < 0``.
    """
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, d), got shape {tuple(X.shape)}")
    if y.shape[0] != X.shape[0] or y.ndim > 2:
        raise ValueError(f"y must have shape ({X.shape[0]},) or ({X.shape[0]}, k), got {tuple(y.shape)}")
    n = X.shape[0]
    U, s, Vh = torch.linalg.svd(X, full_matrices=False)
    factor = s / (s**2 + n * lam)
    if lam == 0:
        factor = torch.where(s > s.max() * 1e-10, 1 / s, torch.zeros_like(s))  # pseudo-inverse
    uy = U.T @ y
    scaled = factor[:, None] * uy if y.ndim == 2 else factor * uy
    return Vh.T @ scaled


@checked(x=tensor, threshold=non_negative)
def soft_threshold(x: torch.Tensor, threshold: float) -> torch.Tensor:
    """The proximal operator of ``threshold * ||x||_1``: ``sign(x) * max(|x| - threshold, 0)``.

    Raises:
        TypeError: if ``x`` is not a tensor.
        ValueError: if ``threshold`` is negative.
    """
    return torch.sign(x) * torch.clamp(x.abs() - threshold, min=0)


@checked(X=tensor, y=tensor, lam=non_negative, steps=positive_int)
def lasso_ista(X: torch.Tensor, y: torch.Tensor, lam: float, steps: int = 5000) -> torch.Tensor:
    """Minimize ``||X w - y||^2 / (2n) + lam * ||w||_1`` by proximal gradient descent (ISTA).

    Each step is a gradient step on the squared error followed by :func:`soft_threshold`, which
    sets small coordinates to exactly zero: this is how L1 produces sparse solutions. The step
    size is ``1 / L`` with ``L = s_max^2 / n``, which guarantees convergence.

    Raises:
        TypeError: if ``X`` or ``y`` is not a tensor.
        ValueError: on bad shapes, ``lam < 0`` or ``steps < 1``.
    """
    if X.ndim != 2 or y.shape != (X.shape[0],):
        raise ValueError(f"X must be (n, d) and y (n,), got {tuple(X.shape)} and {tuple(y.shape)}")
    n = X.shape[0]
    step = n / torch.linalg.matrix_norm(X, ord=2) ** 2
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    for _ in range(steps):
        w = soft_threshold(w - step * X.T @ (X @ w - y) / n, float(step * lam))
    return w


@checked(x=tensor, p=probability)
def dropout(x: torch.Tensor, p: float, training: bool = True, generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale survivors by ``1/(1-p)``.

    In evaluation (``training=False``) or with ``p == 0`` it returns ``x`` unchanged; with
    ``p == 1`` it returns zeros. The mask is drawn on ``x``'s device, so it works on CPU and CUDA.

    Raises:
        TypeError: if ``x`` is not a tensor or ``p`` is not a number.
        ValueError: if ``p`` is not in ``[0, 1]``.
    """
    if not training or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    keep = torch.rand(x.shape, device=x.device, generator=generator) >= p
    return x * keep / (1 - p)


class ScratchDropout(nn.Module):
    """:func:`dropout` as a layer: active in ``model.train()`` mode, the identity in ``model.eval()``.

    Raises:
        TypeError, ValueError: if ``p`` is not a number in ``[0, 1]`` (checked at construction).
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = probability("p", p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, training=self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def parameter_norms(named_parameters: Iterable[tuple[str, torch.Tensor]]) -> dict[str, float]:
    """L2 norm of each named parameter, as plain floats (for logging weight-norm curves)."""
    return {name: float(p.detach().norm()) for name, p in named_parameters}

