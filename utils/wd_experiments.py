"""Weight decay on small nonlinear networks, repeated over many seeds at once (chapter 2).

- :class:`StackedMLP` -- ``R`` independent copies of one fully connected network, held as stacked
  float64 tensors. Copy ``r`` is initialised from its own seed with PyTorch's default distribution
  for ``nn.Linear``, drawn so that a seed gives the same network on every CPU. An optional dropout
  after every hidden activation (chapter 4) draws its masks with ``torch.rand``.
- :func:`train_stacked` -- full-batch ``torch.optim.SGD`` (with optional momentum and
  ``weight_decay``) on every copy's own mean squared error, all copies in one pass.
- :func:`layer_grad_norms` -- the norm of each layer's weight gradient in each copy, from the
  first layer to the last: the profile that shows vanishing gradients.
- :func:`sin_regression_data` and :func:`line_regression_data` -- the data of the two original
  tutorials' experiments, one independent draw per seed.
- :func:`time_sgd_step` -- the cost of ``optimizer.step()`` with and without ``weight_decay``,
  next to the cost of the forward and backward passes.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .checks import checked, non_negative, positive_int, probability
from .regularization import ScratchDropout
from .reproducibility import portable_uniform_

__all__ = [
    "ACTIVATIONS",
    "StackedMLP",
    "StackedRun",
    "stacked_mse",
    "train_stacked",
    "layer_grad_norms",
    "RegressionSplits",
    "sin_regression_data",
    "line_regression_data",
    "StepTimes",
    "time_sgd_step",
]

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}
_MODULES: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class StackedMLP(nn.Module):
    """``len(seeds)`` independent copies of the MLP ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``.

    Every layer but the last is followed by ``activation`` (``"relu"``, ``"tanh"`` or ``"sigmoid"``)
    and, when ``dropout > 0``, by a :class:`~utils.regularization.ScratchDropout` submodule (``drop``)
    with that probability: active in training mode, the identity in eval mode; each copy draws its
    own masks. Layer ``l`` of all copies is one weight tensor of shape ``(R, in, out)`` and one bias
    of shape ``(R, 1, out)``, in float64. Copy ``r`` draws its weights and biases, layer by layer, from a
    generator seeded with ``seeds[r]``, from U(-1/sqrt(in), 1/sqrt(in)): the distribution of
    ``nn.Linear``'s default initialisation. :meth:`forward` maps ``(N, in)`` (the same inputs for
    every copy) or ``(R, N, in)`` to ``(R, N, out)``; the copies never interact.

    Raises:
        ValueError: if ``sizes`` has fewer than two entries or a size is not a positive int,
            ``seeds`` is empty, ``activation`` is unknown, or ``dropout`` is not in ``[0, 1]``.
    """

    def __init__(self, sizes: Sequence[int], seeds: Sequence[int], activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"sizes needs an input and an output size, got {list(sizes)}")
        for size in sizes:
            positive_int("sizes", size)
        if not seeds:
            raise ValueError("seeds is empty")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.sizes = tuple(int(s) for s in sizes)
        self.seeds = tuple(int(s) for s in seeds)
        self.activation = activation
        self.dropout = probability("dropout", dropout)
        if self.dropout > 0:  # without dropout, no submodule: the model is exactly what it always was
            self.drop = ScratchDropout(self.dropout)
        generators = [torch.Generator().manual_seed(seed) for seed in self.seeds]
        weights, biases = [], []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            bound = 1 / math.sqrt(fan_in)
            # the same numbers on every CPU (see portable_uniform_), drawn as nn.Linear's (out, in)
            w = [portable_uniform_(torch.empty(fan_out, fan_in, dtype=torch.float64), bound, g) for g in generators]
            b = [portable_uniform_(torch.empty(fan_out, dtype=torch.float64), bound, g) for g in generators]
            weights.append(nn.Parameter(torch.stack([wr.T for wr in w]).contiguous()))
            biases.append(nn.Parameter(torch.stack(b).unsqueeze(1)))
        self.weights = nn.ParameterList(weights)
        self.biases = nn.ParameterList(biases)

    @property
    def copies(self) -> int:
        """The number of stacked copies ``R``."""
        return len(self.seeds)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 2:
            x = x.expand(self.copies, *x.shape)
        if x.ndim != 3 or x.shape[0] != self.copies or x.shape[2] != self.sizes[0]:
            raise ValueError(f"x must have shape (N, {self.sizes[0]}) or ({self.copies}, N, {self.sizes[0]}), "
                             f"got {tuple(x.shape)}")  # fmt: skip
        act = ACTIVATIONS[self.activation]
        last = len(self.weights) - 1
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(bias, x, weight)
            if index < last:
                x = act(x)
                if self.dropout > 0:
                    x = self.drop(x)
        return x

    def copy(self, r: int) -> nn.Sequential:
        """Copy ``r`` as an ordinary float64 ``nn.Sequential`` of ``nn.Linear`` layers and activations
        (each activation followed by a ``ScratchDropout`` when the stack has dropout)."""
        if not 0 <= r < self.copies:
            raise IndexError(f"copy {r} out of range for {self.copies} copies")
        layers: list[nn.Module] = []
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            linear = nn.Linear(weight.shape[1], weight.shape[2], dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(weight[r].T)
                linear.bias.copy_(bias[r, 0])
            layers.append(linear)
            if index < len(self.weights) - 1:
                layers.append(_MODULES[self.activation]())
                if self.dropout > 0:
                    layers.append(ScratchDropout(self.dropout))
        return nn.Sequential(*layers)


def stacked_mse(model: StackedMLP, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each copy's mean squared error on ``(x, y)`` (the mean over examples and outputs): shape ``(R,)``.

    ``y`` has shape ``(N, out)`` (the same targets for every copy) or ``(R, N, out)``.
    """
    return ((model(x) - y) ** 2).mean(dim=(1, 2))


@dataclass
class StackedRun:
    """What :func:`train_stacked` measured: final losses per copy, and curves if asked for.

    ``train_loss`` and ``test_loss`` have shape ``(R,)``; ``train_curve`` and ``test_curve`` have
    shape ``(len(steps), R)``, recorded after the steps listed in ``steps``. Test entries are
    ``None`` when no test set was given.
    """

    train_loss: torch.Tensor
    test_loss: torch.Tensor | None
    steps: list[int]
    train_curve: torch.Tensor
    test_curve: torch.Tensor | None


@checked(steps=positive_int, weight_decay=non_negative, momentum=non_negative)
def train_stacked(
    model: StackedMLP,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    x_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
    record_every: int = 0,
) -> StackedRun:
    """Train every copy of ``model`` in place with full-batch SGD on its own mean squared error.

    The optimizer is ``torch.optim.SGD(model.parameters(), lr, momentum, weight_decay)``: the decay
    applies to every weight *and bias*, as in the original tutorials. The loss is the sum over copies
    of each copy's mean squared error, so each copy receives exactly its own gradient, and since SGD
    (with momentum and weight decay) updates each number from its own gradient, copy ``r`` follows
    the trajectory it would follow alone. The model trains in training mode (dropout, if it has
    any, on); the recorded and final losses are those of the whole network, in eval mode.

    Raises:
        ValueError: if ``steps`` is not a positive int, ``lr`` is not positive, ``weight_decay``,
            ``momentum`` or ``record_every`` is negative, or only one of ``x_test``/``y_test`` is given.
    """
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if record_every < 0:
        raise ValueError(f"record_every must be >= 0, got {record_every}")
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    recorded: list[int] = []
    train_curve: list[torch.Tensor] = []
    test_curve: list[torch.Tensor] = []

    def evaluate(inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        model.eval()  # the whole network: no dropout mask (no change at all without dropout)
        with torch.no_grad():
            loss = stacked_mse(model, inputs, targets)
        model.train()
        return loss

    def record(step: int) -> None:
        recorded.append(step)
        train_curve.append(evaluate(x, y))
        if x_test is not None:
            test_curve.append(evaluate(x_test, y_test))

    model.train()
    for step in range(1, steps + 1):
        optimizer.zero_grad(set_to_none=True)
        stacked_mse(model, x, y).sum().backward()
        optimizer.step()
        if record_every and step % record_every == 0:
            record(step)
    train_loss = evaluate(x, y)
    test_loss = evaluate(x_test, y_test) if x_test is not None else None
    empty = torch.empty(0, model.copies, dtype=torch.float64)
    return StackedRun(
        train_loss=train_loss,
        test_loss=test_loss,
        steps=recorded,
        train_curve=torch.stack(train_curve) if train_curve else empty,
        test_curve=(torch.stack(test_curve) if test_curve else empty) if x_test is not None else None,
    )


def layer_grad_norms(model: StackedMLP, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``||dL_r/dW_l||`` for every layer ``l`` (first to last) and copy ``r``: shape ``(layers, R)``.

    ``L_r`` is copy ``r``'s mean squared error on ``(x, y)``, without any penalty: this is the
    gradient that backpropagation delivers to each layer. The model's ``.grad`` fields are untouched.
    """
    loss = stacked_mse(model, x, y).sum()
    grads = torch.autograd.grad(loss, list(model.weights))
    return torch.stack([g.norm(dim=(1, 2)) for g in grads]).detach()


@dataclass
class RegressionSplits:
    """Training and test data, one independent draw per seed, stacked: ``(R, N, features)``."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


@checked(n_train=positive_int, n_test=positive_int, dim=positive_int, noise=non_negative)
def sin_regression_data(
    seeds: Sequence[int], *, n_train: int = 1000, n_test: int = 100, dim: int = 30, noise: float = 0.1
) -> RegressionSplits:
    """Seed 004's data: ``x ~ N(0, I)`` in ``dim`` dimensions and ``y = sin(x) + noise * e`` elementwise.

    For each seed, the training inputs, training noise, test inputs and test noise are drawn in
    that order, in float64, from a generator seeded with it (the same numbers on every CPU).

    Raises:
        ValueError: if a size is not a positive int, ``noise`` is negative or ``seeds`` is empty.
    """
    if not seeds:
        raise ValueError("seeds is empty")
    parts: list[list[torch.Tensor]] = [[], [], [], []]
    for seed in seeds:
        g = torch.Generator().manual_seed(int(seed))
        for n, (xs, ys) in ((n_train, (parts[0], parts[1])), (n_test, (parts[2], parts[3]))):
            x = torch.randn(n, dim, generator=g, dtype=torch.float64)
            xs.append(x)
            ys.append(torch.sin(x) + noise * torch.randn(n, dim, generator=g, dtype=torch.float64))
    return RegressionSplits(*(torch.stack(p) for p in parts))


@checked(n_train=positive_int, noise=non_negative)
def line_regression_data(
    seeds: Sequence[int], *, n_train: int = 10, slope: float = 1.5, noise: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Seed 003's data: ``n_train`` evenly spaced ``x`` in [-1, 1] and ``y = slope * x + noise * e``.

    Returns ``x`` of shape ``(n_train, 1)`` (the same for every seed) and ``y`` of shape
    ``(R, n_train, 1)``, the noise of seed ``r`` drawn in float64 from a generator seeded with it.

    Raises:
        ValueError: if ``n_train`` is not a positive int, ``noise`` is negative or ``seeds`` is empty.
    """
    if not seeds:
        raise ValueError("seeds is empty")
    x = torch.linspace(-1, 1, n_train, dtype=torch.float64).unsqueeze(1)
    e = torch.stack([torch.randn(n_train, 1, generator=torch.Generator().manual_seed(int(s)), dtype=torch.float64)
                     for s in seeds])  # fmt: skip
    return x, slope * x + noise * e


@dataclass(frozen=True)
class StepTimes:
    """Median seconds of the parts of one training step over ``repeats`` timed repetitions."""

    forward_backward: float
    step_plain: float
    step_decay: float
    repeats: int

    @property
    def decay_overhead(self) -> float:
        """Extra seconds per step that ``weight_decay`` costs: ``step_decay - step_plain``."""
        return self.step_decay - self.step_plain


@checked(repeats=positive_int, weight_decay=non_negative, momentum=non_negative)
def time_sgd_step(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    weight_decay: float,
    momentum: float = 0.9,
    repeats: int = 30,
    warmup: int = 3,
    fused: bool | None = None,
) -> StepTimes:
    """Median wall-clock times of forward + backward and of ``SGD.step()`` without and with decay.

    Two ``torch.optim.SGD`` optimizers share the model's parameters, one with ``weight_decay=0``
    and one with ``weight_decay``; each repetition times one forward and backward pass, then one
    step of each optimizer on the same gradients (in alternating order, so that neither always runs
    first). The learning rate is tiny, so the parameters barely move. ``warmup`` untimed repetitions
    come first. ``fused`` is passed to both optimizers: ``True`` asks for the single-kernel update
    that applies momentum, decay and step in one pass over the parameters; ``None`` keeps PyTorch's
    default. Times are measured with ``time.perf_counter``, so this is for the CPU (a GPU would need
    synchronising).

    Raises:
        ValueError: if ``repeats`` is not a positive int, ``warmup`` is negative or
            ``weight_decay`` is not positive.
    """
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    if weight_decay == 0:
        raise ValueError("weight_decay must be > 0: the point is to compare with 0")
    params = [p for p in model.parameters() if p.requires_grad]
    plain = torch.optim.SGD(params, lr=1e-8, momentum=momentum, fused=fused)
    decay = torch.optim.SGD(params, lr=1e-8, momentum=momentum, weight_decay=weight_decay, fused=fused)
    times: dict[str, list[float]] = {"forward_backward": [], "plain": [], "decay": []}
    for rep in range(warmup + repeats):
        for p in params:
            p.grad = None
        start = time.perf_counter()
        loss_fn(model(x), y).backward()
        elapsed = {"forward_backward": time.perf_counter() - start}
        order = (("plain", plain), ("decay", decay)) if rep % 2 == 0 else (("decay", decay), ("plain", plain))
        for name, optimizer in order:
            start = time.perf_counter()
            optimizer.step()
            elapsed[name] = time.perf_counter() - start
        if rep >= warmup:
            for name, seconds in elapsed.items():
                times[name].append(seconds)
    return StepTimes(
        forward_backward=statistics.median(times["forward_backward"]),
        step_plain=statistics.median(times["plain"]),
        step_decay=statistics.median(times["decay"]),
        repeats=repeats,
    )
