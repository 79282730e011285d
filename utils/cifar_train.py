"""The fast CIFAR-10 recipe of chapter 5: presets, mixed precision, checkpoints, history.

One call, :func:`train_cifar10`, trains a :class:`~utils.models.FastResNet` with the recipe of
Keller Jordan's airbench (2024), written here from its published description: the first layer
whitens 2x2 patches (set from the data, frozen; its bias learns for the first epochs); Nesterov SGD
with momentum 0.85 on the label-smoothed cross-entropy; a learning rate that rises from 0.2 to 1
times its peak over the first 23 % of the steps and falls to 0.07 times it; batch-norm biases with a
64 times larger learning rate; Lookahead weight averaging (:mod:`utils.lookahead`); weight decay on
conv and linear weights only (:func:`~utils.regularization.decay_parameter_groups`); batches
translated and mirrored on the device, with mirror images alternating between epochs
(:class:`~utils.augment.DeviceLoader`); and six-view test-time augmentation
(:func:`~utils.training.tta_outputs`). On CUDA it uses mixed precision (bf16 where the GPU supports
it natively, else fp16 with a gradient scaler) and ``channels_last``; on the CPU, fp32, unless the
config asks for bf16 (``precision="bf16"``: the speed benchmark's CPU sprint, on CPUs with native bf16).
Optionally the first ``low_res_epochs`` epochs train on smaller images, which cost less per image
(progressive resizing, as in fast.ai's DAWNBench ImageNet entry): downsized to ``low_res_size``
pixels, or, with ``low_res_crop``, random ``low_res_size``-pixel windows of the images (the same
scale, less of each scene). The speed benchmark's sprint tuning tried both; its chosen sprint uses
neither.

airbench states its hyperparameters per 1,024 examples of a summed loss; here they are in
PyTorch's own terms for the mean loss, so that ``weight_decay`` is exactly the lambda that
``torch.optim.SGD`` adds to the gradient: airbench's lr 11.5 and weight decay 0.0153 at batch
1,024 and momentum 0.85 become ``lr = 11.5 / (1 + 1 / 0.15) = 1.5`` and
``weight_decay = 0.0153 / 11.5 = 1.33e-3``; at another batch size ``B`` the learning rate scales
as ``1.5 * B / 1024`` and the weight decay stays.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from .augment import DeviceLoader, normalize
from .checks import positive_int
from .cifar10 import CIFAR10
from .files import atomic_torch_save
from .lookahead import EVERY as lookahead_every
from .lookahead import Lookahead, lookahead_decay
from .models import FastResNet
from .presets import choose_preset, per_preset
from .progress import Progress
from .regularization import decay_parameter_groups, parameter_norms
from .reproducibility import get_device, native_bf16
from .training import History, evaluate

__all__ = [
    "TrainConfig",
    "CIFAR_PRESETS",
    "cifar_config",
    "eval_batch_size",
    "make_optimizer",
    "amp_dtype",
    "precision_dtype",
    "precision_name",
    "lr_factor",
    "parameter_groups",
    "train_epoch",
    "train_cifar10",
]


PRECISIONS = ("auto", "mixed", "fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run (a checkpoint only resumes a run with an equal config).

    ``lr`` is the peak learning rate of the decayed weights for the batch-mean loss; batch-norm biases
    get ``bias_lr_scale`` times it. ``lr_start`` and ``lr_end`` are the schedule's first and last
    factors (:func:`lr_factor`). ``whiten_bias_epochs``: epochs during which the whitening layer's
    bias learns. ``tta``: the test-time augmentation level of the final evaluation (0, 1 or 2).
    ``precision``: ``"auto"`` (mixed precision on CUDA, fp32 on the CPU: :func:`amp_dtype`), ``"mixed"``
    (bf16 autocast wherever the device computes bf16 natively, a CPU with AVX512-BF16 or AMX included;
    else as ``"auto"``), ``"fp32"``,
    or ``"bf16"`` (bf16 autocast on any device; fast on CPUs with native bf16 instructions).
    ``low_res_epochs``: the first epochs train on ``low_res_size``-pixel images, resized, or random
    crops of that size if ``low_res_crop`` (the crop's position then replaces the translation).
    """

    epochs: int = 10
    batch_size: int = 1024
    lr: float = 1.5
    momentum: float = 0.85
    weight_decay: float = 1.33e-3
    bias_lr_scale: float = 64.0
    label_smoothing: float = 0.2
    warmup_fraction: float = 0.23
    lr_start: float = 0.2
    lr_end: float = 0.07
    whiten_bias_epochs: int = 3
    widths: tuple[int, ...] = (64, 256, 256)
    depth: int = 1
    max_shift: int = 2
    tta: int = 2
    low_res_epochs: int = 0
    low_res_size: int = 16
    low_res_crop: bool = False
    n_train: int | None = None
    n_test: int | None = None
    seed: int = 0
    residual: bool = True
    decay_biases: bool = False
    precision: str = "auto"

    def __post_init__(self):
        checks = {
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "momentum": 0 <= self.momentum < 1,
            "weight_decay": self.weight_decay >= 0,
            "bias_lr_scale": self.bias_lr_scale > 0,
            "label_smoothing": 0 <= self.label_smoothing < 1,
            "warmup_fraction": 0 <= self.warmup_fraction < 1,
            "lr_start": 0 <= self.lr_start <= 1,
            "lr_end": 0 <= self.lr_end <= 1,
            "whiten_bias_epochs": self.whiten_bias_epochs >= 0,
            "depth": self.depth >= 1,
            "tta": self.tta in (0, 1, 2),
            # the last epoch is always at full resolution: the test images are
            "low_res_epochs": 0 <= self.low_res_epochs < self.epochs,
            "low_res_size": self.low_res_size >= 8,
            "precision": self.precision in PRECISIONS,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"invalid {name}: {getattr(self, name)!r}")


CIFAR_PRESETS: dict[str, TrainConfig] = per_preset(
    # CI: seconds, on a small subset; only checks that everything runs.
    smoke=TrainConfig(epochs=2, batch_size=256, lr=0.375, widths=(16, 32, 32), n_train=2048, n_test=1024, tta=1),
    # A CPU: chosen on a validation split by benchmarks/cifar10_preset_tuning.py, the fastest of its
    # candidates at 88.5 % (its results file); bf16 where the CPU has native bf16 instructions.
    cpu=TrainConfig(epochs=10, batch_size=512, lr=0.75, widths=(64, 128, 128), precision="mixed"),
    # A CUDA GPU: airbench94's widths and batch size, 10 epochs.
    gpu=TrainConfig(epochs=10, batch_size=1024, lr=1.5, widths=(64, 256, 256)),
)


def cifar_config(preset: str | None = None, **overrides: object) -> TrainConfig:
    """The :class:`TrainConfig` of a preset (chosen by :func:`~utils.presets.choose_preset`), with overrides.

    Raises:
        ValueError: for an unknown preset or an invalid override value.
        TypeError: for an unknown override name.
    """
    return dataclasses.replace(CIFAR_PRESETS[choose_preset(preset)], **overrides)


TRAIN_SLICE = 10_000  # training images evaluated clean at the end of a run
WHITEN_IMAGES = 5_000  # training images whose patches set the whitening layer
# Evaluation batches: on a 2-core CPU, 10,000 random images (the test set's size) took 0.74-0.76 s in
# batches of 500, 250 or 128 against 1.15 s in batches of 1,000, possibly because those batches'
# first activations (46 MB in bf16) exceed the cache (benchmarks/cifar10_eval_batch.py; its output:
# benchmarks/results/eval_batch.log).
EVAL_BATCH = 250
# On a GPU, small batches leave the device idle between launches (six-view TTA of 10,000 images in
# batches of 250 is 240 passes): evaluate in batches of 2,000 there.
CUDA_EVAL_BATCH = 2_000
RECIPE_VERSION = 2  # raise when a change to the training code makes old checkpoints another recipe's


def fixed_sample(n_total: int, n: int) -> torch.Tensor:
    """Indices of ``min(n, n_total)`` of ``n_total`` training images: a random sample, the same for every
    run and seed. A copy of CIFAR-10 read from class folders is sorted by class, so its first
    images would all be airplanes.

    Raises:
        ValueError: if ``n_total`` or ``n`` is not a positive int.
    """
    positive_int("n_total", n_total)
    positive_int("n", n)
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(0))[:n]


def eval_batch_size(device: torch.device) -> int:
    """Images per evaluation batch on ``device``: :data:`CUDA_EVAL_BATCH` on CUDA, else :data:`EVAL_BATCH`."""
    return CUDA_EVAL_BATCH if device.type == "cuda" else EVAL_BATCH


def make_optimizer(model: nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.SGD:
    """Nesterov SGD over :func:`parameter_groups`; fused on CUDA.

    The fused implementation updates every parameter in one kernel and lets a gradient scaler (fp16)
    skip a step without the host reading the scaler's overflow flag, which it must do (and wait for
    the GPU) after every step of the other implementations.
    """
    fused = True if device.type == "cuda" else None
    return torch.optim.SGD(
        parameter_groups(model, config), momentum=config.momentum, nesterov=True, fused=fused
    )


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype: bf16 on GPUs with native bf16, fp16 on other GPUs, ``None`` (fp32) on CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if native_bf16(device) else torch.float16


def precision_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype of a run with ``precision`` (see :class:`TrainConfig`); ``None`` means fp32.

    Raises:
        ValueError: for a precision other than ``"auto"``, ``"mixed"``, ``"fp32"`` and ``"bf16"``.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "mixed" and native_bf16(device):
        return torch.bfloat16
    if precision in ("auto", "mixed"):
        return amp_dtype(device)
    return torch.bfloat16 if precision == "bf16" else None



def precision_name(config: TrainConfig, device: torch.device) -> str:
    """``fp32``, ``bf16`` or ``fp16``: what ``config`` computes in on ``device`` (:func:`precision_dtype`)."""
    dtype = precision_dtype(device, config.precision)
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]

def lr_factor(step: int, total: int, warmup_fraction: float, start: float = 0.2, end: float = 0.07) -> float:
    """The schedule's factor at ``step`` of ``total``: linear from ``start`` to 1 over the first
    ``warmup_fraction`` of the steps, then linear from 1 to ``end`` at the last step."""
    warmup = max(1, int(total * warmup_fraction))
    if step < warmup:
        return start + (1 - start) * step / warmup
    return 1 + (end - 1) * (step - warmup) / max(1, total - warmup)


def parameter_groups(model: nn.Module, config: TrainConfig) -> list[dict]:
    """The optimizer's groups: conv and linear weights with ``weight_decay``; batch-norm biases with
    ``bias_lr_scale`` times the learning rate; other biases (the whitening layer's). Only the first is
    decayed, unless ``config.decay_biases``: then the batch-norm biases get ``weight_decay /
    bias_lr_scale`` (so that ``lr * weight_decay``, the shrink per step, is the weights') and the other
    biases ``weight_decay``, as in airbench94."""
    decayed, not_decayed = decay_parameter_groups(model, config.weight_decay)
    norm_ids = {
        id(p) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) for p in m.parameters()
    }
    norm = [p for p in not_decayed["params"] if id(p) in norm_ids]
    other = [p for p in not_decayed["params"] if id(p) not in norm_ids]
    bias_decay = config.weight_decay if config.decay_biases else 0.0
    return [
        decayed | {"lr": config.lr},
        {"params": norm, "weight_decay": bias_decay / config.bias_lr_scale, "lr": config.lr * config.bias_lr_scale},
        {"params": other, "weight_decay": bias_decay, "lr": config.lr},
    ]


def _scale_invariant_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    """Trained conv weights (each followed by batch norm), named for logging."""
    return {name: p for name, p in model.named_parameters() if p.ndim == 4 and p.requires_grad}


def train_epoch(
    model: nn.Module,
    loader: DeviceLoader,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    lookahead: Lookahead,
    total_steps: int,
    *,
    label_smoothing: float = 0.0,
    autocast_dtype: torch.dtype | None = None,
    bar: Progress | None = None,
) -> tuple[float, float]:
    """One pass over ``loader``; returns the mean loss and accuracy on its (augmented) batches.

    Weight decay is not in the loss: it enters in ``optimizer.step()``, through the optimizer's
    parameter groups (:func:`parameter_groups`), as ``lambda * w`` added to the gradient of each
    decayed weight. Every ``EVERY`` steps of the ``total_steps`` of the run, Lookahead pulls the
    weights toward their slow average.
    """
    model.train()
    loss_sum = torch.zeros((), device=loader.device)  # sums stay on the device: no wait per step
    correct = torch.zeros((), dtype=torch.long, device=loader.device)
    for x, y in loader:
        with torch.autocast(loader.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            logits = model(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)  # here each decayed weight's gradient gains weight_decay * w
        scaler.update()
        scheduler.step()
        step = scheduler.last_epoch  # optimizer steps taken so far in the run
        if step % lookahead_every == 0 or step == total_steps:  # the last step too: end on the average
            lookahead.update(model, lookahead_decay(step, total_steps))
        loss_sum += loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
        if bar is not None:
            bar.update()
    count = len(loader) * loader.batch_size
    return loss_sum.item() / count, correct.item() / count


def _read_checkpoint(path: Path, config: TrainConfig, precision: str) -> tuple[dict | None, str]:
    """The state saved at ``path`` if it belongs to this run (same config and precision), else ``None``;
    and a message when the reader should be told why a run's own checkpoint was not resumed."""
    if not path.exists():
        return None, ""
    # To the CPU first: load_state_dict puts each tensor where it belongs, and the loader's
    # generator state must stay a CPU tensor.
    state = torch.load(path, weights_only=True, map_location="cpu")
    # a field added to TrainConfig after the checkpoint was written: that run had the field's default
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    if defaults | state["config"] != dataclasses.asdict(config):
        return None, ""  # another run's checkpoint: silently not this one
    if state.get("recipe_version") != RECIPE_VERSION:
        return None, f"{path.name} was written by an older version of the training code: not resumed"
    if state.get("precision") != precision:  # e.g. an fp32 run's empty gradient-scaler state cannot drive fp16
        return None, f"{path.name} holds a {state.get('precision')} run, this one is {precision}: not resumed"
    return state, ""


def _save_checkpoint(path: Path, config: TrainConfig, precision: str, epoch: int, history: History, **parts) -> None:
    """Write the run's state after ``epoch`` atomically; ``parts`` are objects with a ``state_dict``."""
    state = {name: part.state_dict() for name, part in parts.items()}
    state |= {"config": dataclasses.asdict(config), "precision": precision, "recipe_version": RECIPE_VERSION,
              "epoch": epoch, "torch_rng": torch.get_rng_state(), "history": history.records}  # fmt: skip
    atomic_torch_save(state, path)


def _epoch_line(label: str, record: dict[str, float]) -> str:
    """The line printed after an epoch (and replayed from a checkpoint's history on resume)."""
    return (
        f"{label}epoch {int(record['epoch']):2d}  "
        f"train loss {record['train_loss']:.3f} acc {record['train_accuracy']:.3f}  "
        f"test loss {record['test_loss']:.3f} acc {record['test_accuracy']:.3f}  {record['seconds']:.0f}s"
    )


def train_cifar10(
    data: CIFAR10,
    config: TrainConfig,
    *,
    device: torch.device | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    log_dir: str | os.PathLike[str] | None = None,
    stop_after_epoch: int | None = None,
    label: str = "",
    verbose: bool = True,
) -> tuple[nn.Module, History]:
    """Train the fast ResNet on ``data`` with ``config``; return the model and its per-epoch history.

    The history records ``train_loss``, ``train_accuracy`` (on the augmented batches),
    ``test_loss``, ``test_accuracy``, ``lr``, ``seconds`` (the epoch's training time),
    ``test_seconds`` (its one-view test evaluation's time), and for every conv layer its weight norm
    (``norm/<name>``) and effective learning rate ``lr / ||w||^2`` (``eff_lr/<name>``, with the epoch's
    mean ``lr`` and the norm at its end). The first epoch's record also holds ``setup_seconds``: the
    time spent before it building the network, setting its whitening layer from the training
    images (about half a second on a 2-core CPU), the optimizer and the data loaders (not choosing
    the ``n_train`` subset). After the last
    epoch, ``final_tta_accuracy`` adds the test-time augmentation of ``config.tta`` (its time:
    ``final_tta_seconds``), and ``final_train_clean_accuracy`` is the accuracy on a fixed random sample of
    up to 10,000 training images, one clean (not augmented) view in eval mode: with the last epoch's
    one-view ``test_accuracy`` (not the TTA accuracy) it gives an honest train-test gap.

    Args:
        checkpoint: a file written atomically after every epoch; if it exists and holds a run
            with the same config, training resumes from it (a Colab disconnect loses one epoch).
        log_dir: write TensorBoard scalars and weight histograms there.
        stop_after_epoch: stop early after this epoch (to simulate an interruption in tests).
        label: printed at the start of each per-epoch line.
        verbose: print a line per epoch.

    Raises:
        ValueError: if ``config.batch_size`` exceeds the number of training images (after ``n_train``),
            or ``n_train``/``n_test`` exceed the data.
    """
    device = device or get_device()
    dtype = precision_dtype(device, config.precision)
    precision = str(dtype or torch.float32)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its fastest kernels
    data = data.subset(config.n_train, config.n_test, seed=config.seed)
    if len(data.train_labels) < config.batch_size:  # else an epoch would have no batch at all
        raise ValueError(f"batch_size {config.batch_size} exceeds the {len(data.train_labels)} training images")
    setup_start = time.perf_counter()
    torch.manual_seed(config.seed)
    model = FastResNet(config.widths, depth=config.depth, residual=config.residual)
    sample = fixed_sample(len(data.train_labels), max(WHITEN_IMAGES, TRAIN_SLICE))
    model.whiten_from(normalize(data.train_images[sample[:WHITEN_IMAGES]]))
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config, device)
    lookahead = Lookahead(model)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    train_loader = DeviceLoader(
        data.train_images, data.train_labels, config.batch_size, train=True, device=device,
        max_shift=config.max_shift, seed=config.seed, channels_last=True,
    )  # fmt: skip
    eval_batch = eval_batch_size(device)
    test_loader = DeviceLoader(
        data.test_images, data.test_labels, eval_batch, train=False, device=device, channels_last=True
    )
    train_slice = DeviceLoader(
        data.train_images[sample[:TRAIN_SLICE]], data.train_labels[sample[:TRAIN_SLICE]], eval_batch, train=False,
        device=device, channels_last=True,
    )  # fmt: skip
    total_steps = config.epochs * len(train_loader)
    setup_seconds = time.perf_counter() - setup_start  # part of the training: the whitening is set from data

    def schedule(step: int) -> float:  # one definition: the optimizer's and the logged learning rates
        return lr_factor(step, total_steps, config.warmup_fraction, config.lr_start, config.lr_end)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    parts = {
        "model": model, "optimizer": optimizer, "scheduler": scheduler, "scaler": scaler, "loader": train_loader,
        "lookahead": lookahead,
    }  # fmt: skip
    history, start_epoch = History(), 1
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if checkpoint is not None:
        state, message = _read_checkpoint(checkpoint, config, precision)
        if state is not None:
            for name, part in parts.items():
                part.load_state_dict(state[name])
            torch.set_rng_state(state["torch_rng"])
            history, start_epoch = History([dict(r) for r in state["history"]]), state["epoch"] + 1
            if verbose:
                print(f"{label}resumed from {checkpoint.name} after epoch {state['epoch']}; its log so far:")
                for record in history.records:
                    print(_epoch_line(label, record))
        elif verbose and message:
            print(f"{label}{message}, training from the start")
    writer = None
    if log_dir is not None:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(log_dir))
    conv_weights = _scale_invariant_weights(model)
    for epoch in range(start_epoch, config.epochs + 1):
        start = time.perf_counter()
        low_res = config.low_res_size if epoch <= config.low_res_epochs else None
        train_loader.image_size, train_loader.crop_size = (None, low_res) if config.low_res_crop else (low_res, None)
        model.whiten.bias.requires_grad_(epoch <= config.whiten_bias_epochs)
        with Progress(len(train_loader), f"{label}epoch {epoch}") as bar:
            train_loss, train_accuracy = train_epoch(
                model, train_loader, optimizer, scheduler, scaler, lookahead, total_steps,
                label_smoothing=config.label_smoothing, autocast_dtype=dtype, bar=bar,
            )  # fmt: skip
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        test = evaluate(model, test_loader, F.cross_entropy, accuracy=True, autocast_dtype=dtype)
        test_seconds = time.perf_counter() - start  # evaluate's .item() has waited for the device
        lr_now = optimizer.param_groups[0]["lr"]
        record = {
            "epoch": epoch, "train_loss": train_loss, "train_accuracy": train_accuracy,
            "test_loss": test["loss"], "test_accuracy": test["accuracy"], "lr": lr_now, "seconds": seconds,
            "test_seconds": test_seconds,
        }  # fmt: skip
        if epoch == 1:
            record["setup_seconds"] = setup_seconds
        epoch_steps = range((epoch - 1) * len(train_loader), epoch * len(train_loader))
        factors = [schedule(t) for t in epoch_steps]
        lr_mean = config.lr * sum(factors) / len(factors)
        for name, norm in parameter_norms(conv_weights.items()).items():
            record[f"norm/{name}"] = norm
            record[f"eff_lr/{name}"] = lr_mean / norm**2
        if epoch == config.epochs:
            start = time.perf_counter()
            final = evaluate(model, test_loader, F.cross_entropy, accuracy=True, tta=config.tta, autocast_dtype=dtype)
            if device.type == "cuda":
                torch.cuda.synchronize()
            record["final_tta_accuracy"] = final["accuracy"]
            record["final_tta_seconds"] = time.perf_counter() - start
            clean = evaluate(model, train_slice, F.cross_entropy, accuracy=True, autocast_dtype=dtype)
            record["final_train_clean_accuracy"] = clean["accuracy"]
        history.append(**record)
        if verbose:
            print(_epoch_line(label, record))
        if writer is not None:
            for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr"):
                writer.add_scalar(key, record[key], epoch)
            for name, weight in conv_weights.items():
                writer.add_histogram(f"weights/{name}", weight.detach().float(), epoch)
        if checkpoint is not None:
            _save_checkpoint(checkpoint, config, precision, epoch, history, **parts)
        if stop_after_epoch is not None and epoch >= stop_after_epoch:
            break
    if writer is not None:
        writer.close()
    return model, history
