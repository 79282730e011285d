"""Chapter 4's dropout experiments, built to be repeated.

- :func:`regression_mlp` -- the 3-hidden-layer MLP of the 1-D regression experiment, with our
  :class:`~utils.regularization.ScratchDropout` layers (their masks come from ``torch.rand``,
  which draws the same numbers on every CPU). The chapter's 20 repetitions of that experiment
  train at once as one :class:`~utils.wd_experiments.StackedMLP` with ``dropout``.
- :class:`MLPStack` and :func:`train_stack` -- copies of *given* networks of this kind (any
  ``Linear``/``ReLU``/dropout stack, in any dtype) trained at once, as stacked weight tensors and
  batched matrix products: each copy follows exactly the trajectory it would follow alone. The
  appendix "Numbers that hold on every machine" trains one-ulp twins of given networks with it.
- :func:`cifar_mlp_run` and :data:`CIFAR_MLP_PRESETS` -- dropout on real data: an MLP on a subset of
  CIFAR-10, sized by the run preset.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .checks import checked, positive_int, probability
from .cifar10 import CIFAR10
from .presets import per_preset
from .regularization import ScratchDropout, dropout
from .reproducibility import portable_uniform_

__all__ = [
    "regression_mlp",
    "MLPStack",
    "StackHistory",
    "train_stack",
    "CifarMLPConfig",
    "CIFAR_MLP_PRESETS",
    "cifar_mlp",
    "cifar_mlp_run",
]


@checked(hidden=positive_int, p=probability)
def regression_mlp(hidden: int = 200, p: float = 0.0, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """``1 -> hidden -> hidden -> hidden -> 1`` with ReLUs and dropout ``p`` before the last three layers.

    Every weight and bias is drawn from PyTorch's default distribution for ``nn.Linear``,
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), but with :func:`portable_uniform_`, so that a seed gives the
    same network on every CPU.
    """
    model = nn.Sequential(
        nn.Linear(1, hidden), nn.ReLU(),
        ScratchDropout(p), nn.Linear(hidden, hidden), nn.ReLU(),
        ScratchDropout(p), nn.Linear(hidden, hidden), nn.ReLU(),
        ScratchDropout(p), nn.Linear(hidden, 1),
    ).to(dtype)  # fmt: skip
    for layer in model:
        if isinstance(layer, nn.Linear):
            bound = 1 / math.sqrt(layer.in_features)
            portable_uniform_(layer.weight, bound)
            portable_uniform_(layer.bias, bound)
    return model


class MLPStack(nn.Module):
    """``len(models)`` copies of one ``Linear``/``ReLU``/dropout stack, held as stacked tensors.

    Copy ``r`` starts from the weights of ``models[r]``. :meth:`forward` maps inputs of shape
    ``(R, N, in)`` to ``(R, N, out)`` with one batched matrix product per layer; in training mode
    each copy draws its own dropout masks.

    Raises:
        ValueError: if ``models`` is empty, the models differ in structure, or a layer is not
            ``nn.Linear``, ``nn.ReLU``, ``nn.Dropout`` or ``ScratchDropout``.
    """

    def __init__(self, models: Sequence[nn.Sequential]):
        super().__init__()
        if not models:
            raise ValueError("models is empty")
        self.plan: list[tuple[str, float | int]] = []  # ("linear", index), ("relu", 0) or ("dropout", p)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for index, layer in enumerate(models[0]):
            column = [model[index] for model in models]
            if any(type(other) is not type(layer) for other in column):
                raise ValueError(f"layer {index} differs between the models")
            if isinstance(layer, nn.Linear):
                self.plan.append(("linear", len(self.weights)))
                # stored transposed, (R, in, out), so that forward is x @ W
                self.weights.append(nn.Parameter(torch.stack([m.weight.detach().T for m in column]).contiguous()))
                self.biases.append(nn.Parameter(torch.stack([m.bias.detach() for m in column]).unsqueeze(1)))
            elif isinstance(layer, nn.ReLU):
                self.plan.append(("relu", 0))
            elif isinstance(layer, (nn.Dropout, ScratchDropout)):
                self.plan.append(("dropout", float(layer.p)))
            else:
                raise ValueError(f"unsupported layer {index}: {type(layer).__name__}")

    @property
    def copies(self) -> int:
        """The number of stacked copies ``R``."""
        return self.weights[0].shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[0] != self.copies:
            raise ValueError(f"x must have shape ({self.copies}, N, features), got {tuple(x.shape)}")
        for kind, value in self.plan:
            if kind == "linear":
                x = torch.baddbmm(self.biases[value], x, self.weights[value])
            elif kind == "relu":
                x = torch.relu(x)
            else:
                x = dropout(x, value, training=self.training)
        return x


@dataclass
class StackHistory:
    """What :func:`train_stack` recorded every ``record_every`` iterations (one row per record).

    ``weight_norms`` and ``grad_norms`` have shape ``(records, layers, R)``: the Frobenius norm of
    each linear layer's weight (and of its gradient) in each copy.
    """

    iterations: list[int]
    weight_norms: torch.Tensor
    grad_norms: torch.Tensor


@checked(iterations=positive_int)
def train_stack(
    stack: MLPStack,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    iterations: int,
    lr: float,
    momentum: float = 0.0,
    record_every: int = 0,
) -> StackHistory:
    """Full-batch SGD on every copy's own mean squared error, all copies in one pass.

    ``x`` is ``(N, in)`` (shared) or ``(R, N, in)``; ``y`` is ``(R, N, out)``. The loss summed over
    copies has, for each copy's weights, exactly that copy's gradient, and SGD (with momentum)
    updates each weight from its own gradient alone: the copies do not interact.

    Raises:
        ValueError: on bad shapes or a non-positive ``iterations``.
    """
    if record_every < 0:
        raise ValueError(f"record_every must be >= 0, got {record_every}")
    if x.ndim == 2:
        x = x.expand(stack.copies, *x.shape)
    if y.ndim != 3 or y.shape[:2] != x.shape[:2]:
        raise ValueError(f"y must have shape ({stack.copies}, {x.shape[1]}, out), got {tuple(y.shape)}")
    optimizer = torch.optim.SGD(stack.parameters(), lr=lr, momentum=momentum)
    stack.train()
    recorded: list[int] = []
    weight_norms: list[torch.Tensor] = []
    grad_norms: list[torch.Tensor] = []
    for it in range(1, iterations + 1):
        optimizer.zero_grad(set_to_none=True)
        loss = ((stack(x) - y) ** 2).mean(dim=(1, 2)).sum()  # each copy's mean error, summed over copies
        loss.backward()
        if record_every and it % record_every == 0:
            recorded.append(it)
            with torch.no_grad():
                weight_norms.append(torch.stack([w.norm(dim=(1, 2)) for w in stack.weights]))
                grad_norms.append(torch.stack([w.grad.norm(dim=(1, 2)) for w in stack.weights]))
        optimizer.step()
    empty = torch.empty(0, len(stack.weights), stack.copies)
    return StackHistory(
        iterations=recorded,
        weight_norms=torch.stack(weight_norms) if weight_norms else empty,
        grad_norms=torch.stack(grad_norms) if grad_norms else empty,
    )


@dataclass(frozen=True)
class CifarMLPConfig:
    """Size of the CIFAR-10 dropout measurement: data, network, training and repetitions.

    ``val_per_class`` images of each class are held out of the training set as the validation
    split (:meth:`~utils.cifar10.CIFAR10.validation_split`, the same images for every seed).
    """

    n_train: int
    n_test: int
    hidden: int
    epochs: int
    batch_size: int
    lr: float
    seeds: int
    val_per_class: int = 100


# smoke only checks that the code runs; gpu is the cpu run with more seeds (a GPU trains this small MLP in seconds).
CIFAR_MLP_PRESETS: dict[str, CifarMLPConfig] = per_preset(
    smoke=CifarMLPConfig(n_train=500, n_test=1_000, hidden=64, epochs=2, batch_size=100, lr=0.02, seeds=3,
                         val_per_class=20),
    cpu=CifarMLPConfig(n_train=4_000, n_test=10_000, hidden=512, epochs=20, batch_size=100, lr=0.02, seeds=10),
    gpu=CifarMLPConfig(n_train=4_000, n_test=10_000, hidden=512, epochs=20, batch_size=100, lr=0.02, seeds=20),
)  # fmt: skip


@checked(hidden=positive_int, p=probability)
def cifar_mlp(hidden: int, p: float) -> nn.Sequential:
    """``3072 -> hidden -> hidden -> 10`` with ReLUs and ``nn.Dropout(p)`` after each hidden layer."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(3 * 32 * 32, hidden), nn.ReLU(), nn.Dropout(p),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(p),
        nn.Linear(hidden, 10),
    )  # fmt: skip


@torch.no_grad()
def _accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    model.eval()
    correct = sum(int((model(images[i : i + batch_size]).argmax(1) == labels[i : i + batch_size]).sum())
                  for i in range(0, len(labels), batch_size))  # fmt: skip
    return correct / len(labels)


def _normalised(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (images.float() / 255 - mean) / std


def cifar_mlp_run(
    data: CIFAR10,
    p: float,
    seed: int,
    config: CifarMLPConfig,
    device: torch.device | None = None,
) -> dict[str, float]:
    """Train :func:`cifar_mlp` with dropout ``p`` on a subset of ``data``; return clean accuracies.

    ``config.val_per_class`` images of each class are held out of the training set as a validation
    split, the same for every seed (``data.validation_split(config.val_per_class, seed=0)``). The
    seed picks ``config.n_train`` training images among the rest, ``config.n_test`` test images,
    the initial weights and the order of the batches, so runs with different ``p`` and the same
    seed are paired. Inputs are scaled to [0, 1] and normalised per channel with the training
    subset's mean and standard deviation. Plain SGD with momentum 0.9 and a cosine learning-rate
    schedule, no augmentation and no weight decay. All accuracies are measured after training in
    eval mode on whole splits (the training one is *not* the running accuracy of dropped-out
    batches), so ``gap`` is the clean train-minus-test gap. Choose ``p`` by ``val_accuracy``.
    """
    device = device or torch.device("cpu")
    split = data.validation_split(config.val_per_class, seed=0)
    train = split.subset(config.n_train, None, seed=seed)  # its "test" split: the validation images
    subset = data.subset(None, config.n_test, seed=seed)  # its test split: the test images
    pixels = train.train_images.float() / 255
    mean, std = pixels.mean(dim=(0, 2, 3), keepdim=True), pixels.std(dim=(0, 2, 3), keepdim=True)
    images = _normalised(train.train_images, mean, std).to(device)
    labels = train.train_labels.to(device)
    torch.manual_seed(seed)
    model = cifar_mlp(config.hidden, p).to(device)
    steps_per_epoch = len(labels) // config.batch_size
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs * steps_per_epoch)
    order = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(config.epochs):
        model.train()
        permutation = torch.randperm(len(labels), generator=order).to(device)
        for step in range(steps_per_epoch):
            index = permutation[step * config.batch_size : (step + 1) * config.batch_size]
            optimizer.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(images[index]), labels[index]).backward()
            optimizer.step()
            scheduler.step()
    seconds = time.perf_counter() - start
    train_accuracy = _accuracy(model, images, labels)
    test_images = _normalised(subset.test_images, mean, std).to(device)
    test_accuracy = _accuracy(model, test_images, subset.test_labels.to(device))
    val_images = _normalised(train.test_images, mean, std).to(device)
    val_accuracy = _accuracy(model, val_images, train.test_labels.to(device))
    return {
        "train_accuracy": train_accuracy,
        "val_accuracy": val_accuracy,
        "test_accuracy": test_accuracy,
        "gap": train_accuracy - test_accuracy,
        "seconds": seconds,
    }
