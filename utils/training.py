"""A small, general training loop with a per-epoch history."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from .checks import positive_int
from .progress import Progress

__all__ = ["History", "evaluate", "fit", "tta_outputs"]

Batch = tuple[torch.Tensor, torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class History:
    """Per-epoch records of a training run: ``history["train_loss"]`` is a list, one value an epoch."""

    records: list[dict[str, float]] = field(default_factory=list)

    def append(self, **values: float) -> None:
        """Add one epoch's values (all must be numbers)."""
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"history value {key!r} must be a number, got {type(value).__name__}")
        self.records.append({k: float(v) for k, v in values.items()})

    def __getitem__(self, key: str) -> list[float]:
        """The values of ``key``, one per epoch that recorded it (a final-only metric gives one value)."""
        values = [record[key] for record in self.records if key in record]
        if not values:
            raise KeyError(f"no {key!r} in history; known keys: {sorted(self.keys())}")
        return values

    def __len__(self) -> int:
        return len(self.records)

    def keys(self) -> list[str]:
        """Every name recorded, in order of first appearance."""
        return list(dict.fromkeys(key for record in self.records for key in record))


@torch.no_grad()
def tta_outputs(model: nn.Module, images: torch.Tensor, level: int) -> torch.Tensor:
    """``model``'s outputs (in float32 at least) on ``images`` averaged over test-time augmented views.

    Level 0: the images alone. Level 1: the mean over each image and its mirror image. Level 2:
    half of that, plus a quarter each of the same mirror mean on the image shifted one pixel up
    and left, and one pixel down and right (reflecting at the borders): six views in all.
    """

    def outputs(x: torch.Tensor) -> torch.Tensor:  # at least float32: bf16 averages can tie
        out = model(x)
        return out.to(torch.promote_types(out.dtype, torch.float32))

    def mirror_mean(x: torch.Tensor) -> torch.Tensor:
        return (outputs(x) + outputs(x.flip(-1))) / 2

    if level == 0:
        return outputs(images)
    if level == 1:
        return mirror_mean(images)
    h, w = images.shape[-2:]
    padded = torch.nn.functional.pad(images, (1, 1, 1, 1), mode="reflect")
    shifted = (padded[..., :h, :w], padded[..., 2:, 2:])
    return mirror_mean(images) / 2 + sum(mirror_mean(x) for x in shifted) / 4


def evaluate(
    model: nn.Module,
    batches: Iterable[Batch],
    loss_fn: LossFn,
    *,
    device: torch.device | None = None,
    accuracy: bool = False,
    tta: int = 0,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """Mean loss (and optionally classification accuracy) of ``model`` over ``batches``.

    ``loss_fn`` must return the batch *mean*; the result weights each batch by its size.
    ``tta`` is the level of test-time augmentation for images (:func:`tta_outputs`): 0 none,
    1 the mean over each input and its mirror image, 2 adds one-pixel translations (airbench's
    "mirror + translate"); ``autocast_dtype`` runs the model under
    ``torch.autocast`` in that precision. Outputs are cast to float32 before the loss, the
    average and ``argmax`` (an average in bf16 can round two classes to a tie), and the sums
    stay on the device until the end, so a GPU is not made to wait after every batch. The model
    is put in eval mode for the pass and restored to its previous mode after.

    Raises:
        ValueError: if ``batches`` is empty, or ``tta`` is not 0, 1 or 2.
    """
    if tta not in (0, 1, 2):
        raise ValueError(f"tta must be 0 (none), 1 (mirror) or 2 (mirror + translate), got {tta!r}")
    was_training = model.training
    model.eval()
    # The sums start from the first batch, on its device: a zero made on the host and moved to a
    # GPU would be a copy the host waits for.
    total_loss: torch.Tensor | None = None
    correct: torch.Tensor | None = None
    count = 0
    try:
        for X, y in batches:
            if device is not None:
                X, y = X.to(device), y.to(device)
            with torch.autocast(X.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                out = tta_outputs(model, X, tta)
            batch_loss = loss_fn(out, y) * len(y)
            total_loss = batch_loss if total_loss is None else total_loss + batch_loss
            if accuracy:
                batch_correct = (out.argmax(dim=1) == y).sum()
                correct = batch_correct if correct is None else correct + batch_correct
            count += len(y)
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("batches is empty: nothing to evaluate")
    result = {"loss": total_loss.item() / count}
    if accuracy:
        result["accuracy"] = correct.item() / count
    return result


def fit(
    model: nn.Module,
    train_batches: Iterable[Batch],
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    *,
    eval_batches: Mapping[str, Iterable[Batch]] | None = None,
    device: torch.device | None = None,
    accuracy: bool = False,
    extra_metrics: Callable[[nn.Module], Mapping[str, float]] | None = None,
    print_every: int = 0,
    label: str = "training",
) -> History:
    """Train ``model`` for ``epochs`` epochs and return its :class:`History`.

    After each epoch every loader in ``eval_batches`` (e.g. ``{"train": ..., "test": ...}``) is
    evaluated and recorded as ``<name>_loss`` (and ``<name>_accuracy``); ``extra_metrics(model)``
    may add more numbers (e.g. a weight norm). ``print_every=k`` prints a line every ``k`` epochs.
    A progress bar is shown in interactive sessions only (see :mod:`utils.progress`).

    Raises:
        ValueError: if ``epochs`` is not a positive int or ``print_every`` is negative.
    """
    positive_int("epochs", epochs)
    if print_every < 0:
        raise ValueError(f"print_every must be >= 0, got {print_every}")
    history = History()
    with Progress(epochs, label) as bar:
        for epoch in range(1, epochs + 1):
            model.train()
            for X, y in train_batches:
                if device is not None:
                    X, y = X.to(device), y.to(device)
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(X), y)
                loss.backward()
                optimizer.step()
            record: dict[str, float] = {"epoch": epoch}
            for name, batches in (eval_batches or {}).items():
                for key, value in evaluate(model, batches, loss_fn, device=device, accuracy=accuracy).items():
                    record[f"{name}_{key}"] = value
            if extra_metrics is not None:
                with torch.no_grad():
                    record.update(extra_metrics(model))
            history.append(**record)
            bar.update()
            if print_every and (epoch % print_every == 0 or epoch == epochs):
                print(f"epoch {epoch:4d}  " + "  ".join(f"{k} {v:.4g}" for k, v in record.items() if k != "epoch"))
    return history
