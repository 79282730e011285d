"""d2l's high-dimensional linear regression, trained from scratch and with ``torch.optim``.

The experiment of Zhang et al., *Dive into Deep Learning*, section "Weight Decay": 20 training
examples, 200 inputs, ``y = 0.01 * sum(x) + 0.05 + noise``. Far more parameters than examples,
so an unregularized model memorises the noise. Chapters 2 and 3 share this code so that the
concise version can be proved equal to the from-scratch one. The batched helpers at the end run
the experiment on many fresh draws at once, so that a comparison can state its spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .checks import checked, non_negative, positive_int
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
    "RegressionDraws",
    "draw_regression_data",
    "RepeatedRuns",
    "train_scratch_repeated",
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


@checked(n_train=positive_int, n_test=positive_int, num_inputs=positive_int, batch_size=positive_int)
def make_regression_data(
    n_train: int = 20, n_test: int = 100, num_inputs: int = 200, batch_size: int = 5, seed: int = 0
) -> RegressionData:
    """Build the data with ``d2l.synthetic_data`` (noise sd 0.01) and ``d2l.load_array``.

    Raises:
        ValueError: if a size is not a positive integer.
    """
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


@checked(lambd=non_negative, epochs=positive_int)
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


@checked(weight_decay=non_negative)  # torch.optim checks only the default, not a group's own value
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


@dataclass
class RegressionDraws:
    """``repeats`` independent data sets of the experiment, stacked along a leading dimension.

    Features have shape ``(repeats, n, num_inputs)`` and labels ``(repeats, n)``, all float64.
    """

    train_features: torch.Tensor
    train_labels: torch.Tensor
    test_features: torch.Tensor
    test_labels: torch.Tensor
    true_w: torch.Tensor
    true_b: float

    @property
    def repeats(self) -> int:
        """Number of independent data sets."""
        return self.train_features.shape[0]

    @property
    def num_inputs(self) -> int:
        """Number of input features."""
        return self.train_features.shape[2]


@checked(repeats=positive_int, n_train=positive_int, n_test=positive_int, num_inputs=positive_int)
def draw_regression_data(
    repeats: int, *, n_train: int = 20, n_test: int = 100, num_inputs: int = 200, seed: int = 0
) -> RegressionDraws:
    """``repeats`` fresh data sets of the experiment of :func:`make_regression_data`, drawn at once.

    The model is that of ``d2l.synthetic_data``: ``x ~ N(0, I)``, ``y = 0.01 * sum(x) + 0.05 + e``
    with ``e ~ N(0, 0.01^2)``. The numbers are drawn in float64 from a generator seeded with
    ``seed``; float64 normal draws are the same on every CPU, float32 ones are not.

    Raises:
        ValueError: if a size is not a positive integer.
    """
    generator = torch.Generator().manual_seed(seed)
    true_w, true_b = torch.full((num_inputs,), 0.01, dtype=torch.float64), 0.05

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        X = torch.randn(repeats, n, num_inputs, generator=generator, dtype=torch.float64)
        noise = torch.randn(repeats, n, generator=generator, dtype=torch.float64)
        return X, X @ true_w + true_b + 0.01 * noise

    train_X, train_y = draw(n_train)
    test_X, test_y = draw(n_test)
    return RegressionDraws(train_X, train_y, test_X, test_y, true_w, true_b)


@dataclass
class RepeatedRuns:
    """The final state of one training run per repetition: row ``r`` belongs to data set ``r``."""

    w: torch.Tensor  # (repeats, num_inputs)
    b: torch.Tensor  # (repeats,)
    train_loss: torch.Tensor  # (repeats,) mean of (y_hat - y)^2 / 2 on the training set
    test_loss: torch.Tensor  # (repeats,) the same on the test set

    @property
    def w_norm(self) -> torch.Tensor:
        """``||w||`` of each repetition."""
        return self.w.norm(dim=1)


def _half_squared_error(X: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    residual = (X @ w[..., None])[..., 0] + b[:, None] - y
    return (residual**2 / 2).mean(dim=1)


@torch.no_grad()
@checked(lambd=non_negative, epochs=positive_int, batch_size=positive_int)
def train_scratch_repeated(
    draws: RegressionDraws,
    lambd: float,
    w_init: torch.Tensor,
    *,
    epochs: int = 100,
    lr: float = 0.003,
    batch_size: int = 5,
    seed: int = 1,
) -> RepeatedRuns:
    """:func:`train_scratch` on every data set of ``draws`` at once, batched over the repetitions.

    Repetition ``r`` starts from ``w = w_init[r]`` and ``b = 0`` and runs minibatch SGD on
    ``(x^T w + b - y)^2 / 2 + lambd * ||w||^2 / 2`` with the gradient written out,
    ``X_B^T (X_B w + b - y_B) / |B| + lambd * w``. Each epoch visits every training example once,
    in an order drawn per repetition from a generator seeded with ``seed``: runs with the same
    ``seed`` and ``w_init`` differ only in ``lambd``, which makes them a paired comparison.

    Raises:
        ValueError: if ``lambd`` is negative, a count is not a positive int, or ``w_init`` does
            not have shape ``(repeats, num_inputs)``.
    """
    repeats, n_train, num_inputs = draws.train_features.shape
    if w_init.shape != (repeats, num_inputs):
        raise ValueError(f"w_init must have shape {(repeats, num_inputs)}, got {tuple(w_init.shape)}")
    generator = torch.Generator().manual_seed(seed)
    w = w_init.to(torch.float64).clone()
    b = torch.zeros(repeats, dtype=torch.float64)
    rows = torch.arange(repeats)[:, None]
    for _ in range(epochs):
        order = torch.rand(repeats, n_train, generator=generator, dtype=torch.float64).argsort(dim=1)
        for start in range(0, n_train, batch_size):
            batch = order[:, start : start + batch_size]
            X, y = draws.train_features[rows, batch], draws.train_labels[rows, batch]  # (R, B, d), (R, B)
            residual = (X @ w[..., None])[..., 0] + b[:, None] - y
            grad_w = (X.mT @ residual[..., None])[..., 0] / batch.shape[1] + lambd * w
            w -= lr * grad_w
            b -= lr * residual.mean(dim=1)
    return RepeatedRuns(
        w=w,
        b=b,
        train_loss=_half_squared_error(draws.train_features, draws.train_labels, w, b),
        test_loss=_half_squared_error(draws.test_features, draws.test_labels, w, b),
    )
