"""d2l's high-dimensional linear regression, trained from scratch and with ``torch.optim``.

The experiment of Zhang et al., *Dive into Deep Learning*, section "Weight Decay": 20 training
examples, 200 inputs, ``y = 0.01 * sum(x) + 0.05 + noise``. Far more parameters than examples,
so an unregularized model memorises the noise. Chapters 2 and 3 share this code so that the
concise version can be proved equal to the from-scratch one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .checks import check_positive_int
from .regularization import l2_penalty
from .training import History, fit

__all__ = [
    "RegressionData",
    "make_regression_data",
    "init_linear_params",
    "squared_loss",
    "half_mse",
    "sgd_",
    "train_scratch",
    "train_concise",
]


@dataclass
class RegressionData:
    """Train/test tensors and the minibatch loader of the synthetic experiment."""

    train_features: torch.Tensor
    train_labels: torch.Tensor
    test_features: torch.Tensor
    test_labels: torch.Tensor
    train_loader: torch.utils.data.DataLoader
    true_w: torch.Tensor
    true_b: float

    @property
    def num_inputs(self) -> int:
        """Number of input features."""
        return self.train_features.shape[1]


def make_regression_data(
    n_train: int = 20, n_test: int = 100, num_inputs: int = 200, batch_size: int = 5, seed: int = 0
) -> RegressionData:
    """Build the data with ``d2l.synthetic_data`` (noise sd 0.01) and ``d2l.load_array``.

    Raises:
        ValueError: if a size is not a positive integer.
    """
    sizes = {"n_train": n_train, "n_test": n_test, "num_inputs": num_inputs, "batch_size": batch_size}
    for name, value in sizes.items():
        check_positive_int(name, value)
    from d2l import torch as d2l

    torch.manual_seed(seed)
    true_w, true_b = torch.ones((num_inputs, 1)) * 0.01, 0.05
    train_X, train_y = d2l.synthetic_data(true_w, true_b, n_train)
    test_X, test_y = d2l.synthetic_data(true_w, true_b, n_test)
    loader = d2l.load_array((train_X, train_y), batch_size)
    return RegressionData(train_X, train_y, test_X, test_y, loader, true_w, true_b)


def init_linear_params(num_inputs: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``w ~ N(0, 1)`` of shape ``(num_inputs, 1)`` and ``b = 0``, both requiring gradients."""
    w = torch.normal(0, 1, size=(num_inputs, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    return w, b


def squared_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example squared loss ``(y_hat - y)^2 / 2`` (not reduced)."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def half_mse(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean of :func:`squared_loss`: ``nn.MSELoss`` halved, so both chapters optimise the same loss."""
    return F.mse_loss(y_hat, y.reshape(y_hat.shape)) / 2


@torch.no_grad()
def sgd_(params: list[torch.Tensor], lr: float, batch_size: int) -> None:
    """Minibatch SGD in place; gradients were *summed* over the batch, so divide by its size."""
    for param in params:
        param -= lr * param.grad / batch_size
        param.grad.zero_()


def _norm_metric(w: torch.Tensor) -> dict[str, float]:
    return {"w_norm": float(w.detach().norm())}


def train_scratch(
    data: RegressionData, lambd: float, *, epochs: int = 100, lr: float = 0.003, seed: int = 1
) -> tuple[torch.Tensor, torch.Tensor, History]:
    """Train ``X @ w + b`` on ``squared_loss + lambd * ||w||^2 / 2`` with hand-written SGD.

    ``seed`` drives the initialisation and the minibatch order; keep it different from the data's
    seed, or ``w``'s initial value would repeat the random numbers of the first training example.
    Returns the final ``w``, ``b`` and a history of ``train_loss``, ``test_loss`` and ``w_norm``.

    Raises:
        ValueError: if ``lambd`` is negative or ``epochs`` is not a positive int.
    """
    if not lambd >= 0:
        raise ValueError(f"lambd must be >= 0, got {lambd}")
    check_positive_int("epochs", epochs)
    torch.manual_seed(seed)  # the same seed gives the same init and the same minibatch order
    w, b = init_linear_params(data.num_inputs)

    def net(X: torch.Tensor) -> torch.Tensor:
        return X @ w + b

    history = History()
    for epoch in range(1, epochs + 1):
        for X, y in data.train_loader:
            loss = squared_loss(net(X), y) + lambd * l2_penalty(w)  # the penalty, once per example
            loss.sum().backward()
            sgd_([w, b], lr, len(y))
        with torch.no_grad():
            history.append(
                epoch=epoch,
                train_loss=float(squared_loss(net(data.train_features), data.train_labels).mean()),
                test_loss=float(squared_loss(net(data.test_features), data.test_labels).mean()),
                **_norm_metric(w),
            )
    return w.detach(), b.detach(), history


def train_concise(
    data: RegressionData,
    weight_decay: float,
    *,
    epochs: int = 100,
    lr: float = 0.003,
    seed: int = 1,
    momentum: float = 0.0,
) -> tuple[nn.Linear, History]:
    """Train ``nn.Linear`` with ``torch.optim.SGD``, decaying the weight only (parameter groups).

    Uses the same seed, initialisation, minibatch order and loss (:func:`half_mse`) as
    :func:`train_scratch`, so with ``momentum=0`` the two produce the same parameters.

    Raises:
        ValueError: if ``weight_decay`` is negative.
    """
    if not weight_decay >= 0:  # torch.optim only checks the default, not a group's own value
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    net = nn.Linear(data.num_inputs, 1)  # its default init draws random numbers: seed after it
    torch.manual_seed(seed)
    w, b = init_linear_params(data.num_inputs)
    with torch.no_grad():
        net.weight.copy_(w.T)
        net.bias.copy_(b)
    optimizer = torch.optim.SGD(
        [{"params": [net.weight], "weight_decay": weight_decay}, {"params": [net.bias]}],  # bias: no decay
        lr=lr,
        momentum=momentum,
    )
    splits = {
        "train": [(data.train_features, data.train_labels)],
        "test": [(data.test_features, data.test_labels)],
    }
    history = fit(
        net,
        data.train_loader,
        half_mse,
        optimizer,
        epochs,
        eval_batches=splits,
        extra_metrics=lambda model: _norm_metric(model.weight),
        label=f"weight_decay={weight_decay}",
    )
    return net, history

