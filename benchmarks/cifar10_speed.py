"""CIFAR-10 speed: this book's recipe against the original tutorial's, like for like, in one run.

Measures, on one device:
  1. this recipe's wall-clock time to the original's 78 % test accuracy, once per seed, with the
     *sprint* settings (the recipe sized for 78 %, chosen on a validation split by
     ``cifar10_sprint_tuning.py``): the set-up (network, whitening layer, optimizer, loaders), the
     training up to the first epoch whose one-view evaluation reaches 78 %, and that evaluation (or
     all the training and the final test-time-augmented evaluation, if only that reaches 78 %);
  2. the original's time to 78 %, an *estimate*: its ResNet (96 px, batch 64, plain SGD) timed on
     random tensors in windows of ``--original-steps`` batches, one before the seeds and one after
     each, times the 16 epochs of 50,000 images its log needed (seed 000: "Epoch 15. ... Valid Acc:
     0.784217", epochs counted from 0); the median window is used;
  3. the work each needs, in floating-point operations counted from the two networks
     (``torch.utils.flop_counter``: forward and backward of a training image, forward of a test view).

Like for like: both recipes compute under the same precision policy, bf16 autocast where the CPU has
native bf16 instructions (AVX512-BF16 or AMX; ``utils.reproducibility.native_bf16``), else fp32, and
each in its faster memory format (the original is timed both ways and keeps the faster; the recipe
uses channels_last). That ratio is the headline. The script also times both in fp32 (the sprint
trained again in fp32) and prints that ratio, the ratio of operations, and, for a learner, the
original's own time on its GPU (the log's 16 epoch times) beside this recipe's time here.

The ratios are CPU figures and depend on the CPU (what a small network gains over a large one,
whether bf16 is native); the machine's state moves them too, so compare ratios only within one run.

Usage: python benchmarks/cifar10_speed.py [--preset cpu] [--seeds 0 1 2] [--data PATH] [--epochs N]
       [--original-steps 32] [--sprint NAME] [--out results.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tuning script beside this one

from cifar10_sprint_tuning import CANDIDATES, seconds_to_target

from utils.cifar10 import load_cifar10
from utils.cifar_train import TrainConfig, cifar_config, precision_dtype, precision_name, train_cifar10
from utils.models import FastResNet
from utils.presets import choose_preset, per_preset
from utils.reproducibility import describe_device, get_device, native_bf16
from utils.run_results import results_header, write_results


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


ORIGINAL_EPOCHS_TO_78 = 16  # "Epoch 15. ... Valid Acc: 0.784217": the first line at or above 78 %
ORIGINAL_BATCH, ORIGINAL_SIZE, TRAIN_IMAGES, TEST_IMAGES = 64, 96, 50_000, 10_000
# The "Time" of the original's first 16 epochs on its GPU, as its log prints them (seed 000).
ORIGINAL_GPU_EPOCH_SECONDS = (26, 27, 28, 27, 27, 27, 28, 28, 28, 27, 27, 28, 27, 27, 27, 27)
TTA_VIEWS = {0: 1, 1: 2, 2: 6}  # forward passes per test image at each test-time augmentation level
TARGET = 0.78  # also the default of seconds_to_target
SPEED_UP_GOAL = 250

# the candidate that benchmarks/cifar10_sprint_tuning.py chose (round 10)
CPU_SPRINT = "e2 w16-64-128 bf16 lr x2 frozen bias wd x2 tta1 blr32 warm10 on 42k"

# Overrides of each preset for the time-to-78% run (see the module docstring).
# The CPU sprint trains on as many images as it was tuned with: the tuning's split leaves 45,000,
# of which a candidate may take fewer (its own n_train).
TUNED_TRAIN_IMAGES = 45_000


def _cpu_sprint(candidate: str) -> dict[str, object]:
    """A tuning candidate's overrides, on as many training images as it was tuned with."""
    return {"n_train": TUNED_TRAIN_IMAGES} | CANDIDATES[candidate]


SPRINT_OVERRIDES: dict[str, dict[str, object]] = per_preset(
    smoke={"epochs": 1},
    cpu=_cpu_sprint(CPU_SPRINT),
    gpu={"epochs": 2},
)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def sprint_config(
    preset: str | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    device: torch.device | None = None,
    candidate: str | None = None,
) -> TrainConfig:
    """The preset's config with its sprint overrides (and ``epochs`` and ``seed``, if given). On a
    ``device`` without native bf16 a bf16 sprint runs in fp32 (see the module docstring).
    ``candidate``: another of the tuning's candidates instead of the chosen one (``cpu`` preset only).

    Raises:
        ValueError: if ``candidate`` is not a candidate of the tuning, or the preset is not ``cpu``.
    """
    preset = choose_preset(preset)
    overrides = dict(SPRINT_OVERRIDES[preset])
    if candidate is not None:
        if candidate not in CANDIDATES or preset != "cpu":
            raise ValueError(f"--sprint takes a candidate of the cpu preset's tuning, {list(CANDIDATES)}")
        overrides = _cpu_sprint(candidate)
    if overrides.get("precision") == "bf16" and device is not None and not native_bf16(device):
        overrides["precision"] = "fp32"
    if epochs is not None:  # the last epoch is at full size: fewer low-resolution epochs if need be
        overrides["epochs"] = epochs
        overrides["low_res_epochs"] = min(int(overrides.get("low_res_epochs", 0)), epochs - 1)
    if seed is not None:
        overrides["seed"] = seed
    return cifar_config(preset, **overrides)


def throughput(
    model, batch_size, image_size, device, optimizer, steps, warmup=2, channels_last=False, autocast_dtype=None
) -> float:
    """Images per second of forward + backward + step on random data of the given shape (under
    ``torch.autocast`` in ``autocast_dtype`` if given)."""
    x = torch.randn(batch_size, 3, image_size, image_size, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch_size,), device=device)
    model.train()
    for i in range(warmup + steps):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            loss = F.cross_entropy(model(x).float(), y)
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch_size * steps / (time.perf_counter() - start)


def recipe_throughput(config: TrainConfig, device: torch.device) -> float:
    """Images/s of this recipe's network, batch size and precision from ``config`` (channels_last; the
    whitening bias frozen if the config never trains it)."""
    torch.manual_seed(0)
    model = FastResNet(config.widths, depth=config.depth).to(device, memory_format=torch.channels_last)
    model.whiten.bias.requires_grad_(config.whiten_bias_epochs > 0)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    dtype = precision_dtype(device, config.precision)
    return throughput(
        model, config.batch_size, 32, device, optimizer, steps=10, channels_last=True, autocast_dtype=dtype
    )


def training_flops_per_image(model: nn.Module, image_size: int) -> float:
    """Floating-point operations of one training image: forward and backward (two images, halved)."""
    x = torch.randn(2, 3, image_size, image_size)
    model.train()
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x).float(), torch.tensor([0, 1])).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / 2


def forward_flops_per_image(model: nn.Module, image_size: int) -> float:
    """Floating-point operations of one test view: a forward pass in eval mode."""
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(2, 3, image_size, image_size))
    return counter.get_total_flops() / 2


def sprint_flops_to_target(
    records: list[dict[str, float]], images_per_epoch: int, train_per_image: float, view_per_image: float,
    tta: int, target: float = 0.78,
) -> float | None:
    """Operations until the evaluation that first reaches ``target`` (as ``seconds_to_target`` counts
    time): every training epoch up to it and that evaluation of the test set; ``None`` if none does."""
    for epochs, record in enumerate(records, start=1):
        done = epochs * images_per_epoch * train_per_image
        if record["test_accuracy"] >= target:
            return done + TEST_IMAGES * view_per_image
        if record.get("final_tta_accuracy", 0.0) >= target:
            return done + TEST_IMAGES * view_per_image * TTA_VIEWS[tta]
    return None


class OriginalArm:
    """The original recipe timed in one precision, in the faster of its two memory formats.

    Both formats are timed once (a quarter window each) and the faster is kept; then
    :meth:`window` times ``steps`` batches, as often as asked, for the median.
    """

    def __init__(self, device: torch.device, dtype: torch.dtype | None, steps: int):
        torch.manual_seed(0)
        self.device, self.dtype, self.steps = device, dtype, steps
        self.model = TutorialResNet().to(device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, weight_decay=1e-4)
        probe_steps = max(2, steps // 4)
        self.probe = {fmt: self._time(fmt == "channels_last", probe_steps) for fmt in ("contiguous", "channels_last")}
        self.channels_last = self.probe["channels_last"] > self.probe["contiguous"]
        self.windows: list[float] = []

    @property
    def name(self) -> str:
        """The precision and memory format, in words."""
        precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]
        return f"{precision}, {'channels_last' if self.channels_last else 'contiguous'}"

    def _time(self, channels_last: bool, steps: int) -> float:
        self.model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        return throughput(
            self.model, ORIGINAL_BATCH, ORIGINAL_SIZE, self.device, self.optimizer, steps=steps,
            channels_last=channels_last, autocast_dtype=self.dtype,
        )  # fmt: skip

    def window(self) -> float:
        """One more window of the throughput in images/s."""
        self.windows.append(self._time(self.channels_last, self.steps))
        return self.windows[-1]

    def seconds_to_78(self) -> float:
        """The estimate: 16 epochs of 50,000 images at the median window's throughput."""
        return ORIGINAL_EPOCHS_TO_78 * TRAIN_IMAGES / statistics.median(self.windows)

    def record(self) -> dict[str, object]:
        """What the results file keeps of this arm."""
        return {
            "precision_and_format": self.name, "format_probe_images_per_second": self.probe,
            "windows_images_per_second": self.windows, "images_per_second": statistics.median(self.windows),
            "seconds_to_78": self.seconds_to_78(),
        }  # fmt: skip


def _ratio(numerator: float, denominator: float | None) -> float | None:
    return None if denominator is None else numerator / denominator


def main(argv: list[str] | None = None) -> int:
    """Measure and print; return 0 if every seed reached 78 % in every precision timed, else 1."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default=None, help="smoke, cpu or gpu (default: automatic)")
    parser.add_argument("--data", default=None, help="local CIFAR-10 copy (default: $BOOK_CIFAR10 or download)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one sprint per seed")
    parser.add_argument("--epochs", type=_positive, default=None, help="schedule length of the time-to-78%% run")
    parser.add_argument(
        "--original-steps", type=_positive, default=32, help="timed batches per window of the original recipe"
    )
    parser.add_argument(
        "--sprint", default=None, metavar="NAME",
        help=f"time another candidate of the tuning instead of the chosen one (cpu preset; default: {CPU_SPRINT!r})",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="JSON results file")
    args = parser.parse_args(argv)

    preset = choose_preset(args.preset)
    device = get_device()
    if device.type == "cuda":  # before anything is timed: fixed shapes, let cuDNN pick its fastest kernels
        torch.backends.cudnn.benchmark = True
    try:
        sprint = sprint_config(preset, args.epochs, device=device, candidate=args.sprint)
    except ValueError as error:
        parser.error(str(error))
    sprint_name = args.sprint or (CPU_SPRINT if preset == "cpu" else f"{preset} preset, {SPRINT_OVERRIDES[preset]}")
    shared = precision_name(sprint, device)  # the precision policy both recipes follow
    print(f"device: {describe_device(device)};  preset: {preset};  precision policy: {shared}")
    if SPRINT_OVERRIDES[preset].get("precision") == "bf16" and sprint.precision == "fp32":
        print("this CPU has no native bf16 instructions: both recipes are timed in fp32")
    sprints = {shared: sprint}
    if shared != "fp32":
        sprints["fp32"] = dataclasses.replace(sprint, precision="fp32")

    recipe_ips = {p: recipe_throughput(config, device) for p, config in sprints.items()}
    arms = {p: OriginalArm(device, precision_dtype(device, config.precision), args.original_steps)
            for p, config in sprints.items()}  # fmt: skip
    for p, arm in arms.items():
        arm.window()
        print(
            f"throughput, {p}: this recipe's sprint network (widths {sprint.widths}, 32 px, batch "
            f"{sprint.batch_size}, channels_last) {recipe_ips[p]:.0f} images/s; the original's (96 px, batch 64, "
            f"{arm.name}, the faster of {arm.probe['contiguous']:.1f} contiguous and "
            f"{arm.probe['channels_last']:.1f} channels_last) {arm.windows[0]:.1f} images/s"
        )
    print("(compute only, on random tensors: no data pipeline, which favours the original)")
    original_net, sprint_net = TutorialResNet(), FastResNet(sprint.widths, depth=sprint.depth)
    flops = {
        "original_training_per_image": training_flops_per_image(original_net, ORIGINAL_SIZE),
        "sprint_training_per_image": training_flops_per_image(sprint_net, 32),
        "sprint_test_view_per_image": forward_flops_per_image(sprint_net, 32),
    }
    flops["original_to_78"] = ORIGINAL_EPOCHS_TO_78 * TRAIN_IMAGES * flops["original_training_per_image"]
    print(
        f"operations per training image: original {flops['original_training_per_image'] / 1e9:.3g} GFLOP, "
        f"sprint {flops['sprint_training_per_image'] / 1e9:.3g} GFLOP; the original's 16 epochs: "
        f"{flops['original_to_78'] / 1e12:.0f} TFLOP"
    )

    data = load_cifar10(args.data)
    print(f"time-to-{TARGET:.0%} runs on {data.source}, seeds {args.seeds}, sprint {sprint_name!r}:\n  {sprint}")
    results = results_header(
        argv, describe_device(device), data.source, preset=preset, sprint_name=sprint_name,
        sprint=dataclasses.asdict(sprint), precision_policy=shared, flops=flops,
        original_gpu_seconds_to_78=sum(ORIGINAL_GPU_EPOCH_SECONDS), seeds=[],
    )  # fmt: skip
    for seed in args.seeds:
        run: dict[str, object] = {"seed": seed}
        for p, config in sprints.items():
            _, history = train_cifar10(
                data, dataclasses.replace(config, seed=seed), device=device, label=f"  seed {seed} {p} "
            )
            records = history.records
            run[p] = {
                "final_tta_accuracy": records[-1]["final_tta_accuracy"],
                "final_one_view_accuracy": records[-1]["test_accuracy"],
                "setup_seconds": records[0]["setup_seconds"], "training_seconds": sum(history["seconds"]),
                "seconds_to_78": seconds_to_target(records, TARGET),
            }  # fmt: skip
            if p == shared:
                n_train = min(config.n_train or len(data.train_labels), len(data.train_labels))
                images_per_epoch = n_train - n_train % config.batch_size  # the partial batch is dropped
                run["flops_to_78"] = sprint_flops_to_target(
                    records, images_per_epoch, flops["sprint_training_per_image"],
                    flops["sprint_test_view_per_image"], config.tta, TARGET,
                )  # fmt: skip
            reached = run[p]["seconds_to_78"]
            print(
                f"seed {seed}, {p}: final test accuracy {100 * run[p]['final_tta_accuracy']:.2f} % with test-time "
                f"augmentation, {100 * run[p]['final_one_view_accuracy']:.2f} % one view; "
                + ("did not reach 78%" if reached is None else f"78% after {reached:.1f} s"),
                flush=True,
            )
        for arm in arms.values():
            arm.window()  # interleaved: a slow or fast spell of the machine reaches both recipes
        results["seeds"].append(run)
        write_results(args.out, results | {"original": {p: arm.record() for p, arm in arms.items()}})

    results["original"] = {p: arm.record() for p, arm in arms.items()}
    for run in results["seeds"]:
        run["speed_up"] = _ratio(arms[shared].seconds_to_78(), run[shared]["seconds_to_78"])
        run["speed_up_fp32"] = _ratio(arms["fp32"].seconds_to_78(), run["fp32"]["seconds_to_78"])
        run["flop_ratio"] = _ratio(flops["original_to_78"], run["flops_to_78"])
    write_results(args.out, results)
    for arm in arms.values():
        print(
            f"original recipe, {arm.name}: {statistics.median(arm.windows):.1f} images/s, the median of "
            f"{len(arm.windows)} windows ({min(arm.windows):.1f} to {max(arm.windows):.1f}); time to 78%: "
            f"{arm.seconds_to_78():.0f} s (estimated: {ORIGINAL_EPOCHS_TO_78} epochs x 50,000 images)"
        )
    for run in results["seeds"]:
        parts = [f"like for like ({shared}) {_times(run['speed_up'])}"]
        if shared != "fp32":
            parts.append(f"fp32 {_times(run['speed_up_fp32'])}")
        parts.append(f"in operations {_times(run['flop_ratio'])}")
        print(f"  seed {run['seed']}: speed-up to 78%: " + ", ".join(parts))
    times = [run[shared]["seconds_to_78"] for run in results["seeds"]]
    if None not in times:
        print(
            f"for a learner: the original tutorial took about {sum(ORIGINAL_GPU_EPOCH_SECONDS)} s to 78% on its GPU "
            f"(its log: {ORIGINAL_EPOCHS_TO_78} epochs of {min(ORIGINAL_GPU_EPOCH_SECONDS)}-"
            f"{max(ORIGINAL_GPU_EPOCH_SECONDS)} s); this recipe took {min(times):.1f}-{max(times):.1f} s here"
        )
    speed_ups = [run["speed_up"] for run in results["seeds"]]
    if None in speed_ups or any(run["fp32"]["seconds_to_78"] is None for run in results["seeds"]):
        print(f"not every seed reached {TARGET:.0%} in every precision: no speed-up claimed; try more --epochs")
        return 1
    verdict = "met" if min(speed_ups) >= SPEED_UP_GOAL else "not met"
    print(
        f"like-for-like speed-up to 78% over {len(speed_ups)} seeds: lowest {min(speed_ups):.0f}x, highest "
        f"{max(speed_ups):.0f}x (goal {SPEED_UP_GOAL}x for every seed: {verdict})"
    )
    return 0


def _times(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.0f}x"


if __name__ == "__main__":
    sys.exit(main())
