"""Where the CPU sprint's time goes: one sprint run of `cifar10_speed.py`, profiled by operator.

Prints two views of one run (the sprint settings of the speed benchmark, one seed):
  1. the phases the training history records: set-up (network, whitening, optimizer, loaders),
     each epoch's training, each one-view test evaluation, the final test-time augmentation;
  2. the operators' own CPU time (``torch.profiler``, self time, so nothing is counted twice),
     in groups (convolutions forward and backward, batch norm, optimizer, data augmentation, other)
     and the busiest operators one by one.

The profiler adds some overhead, so its total is longer than an unprofiled run: read the shares,
not the seconds. Usage:
    python benchmarks/cifar10_sprint_profile.py [--preset cpu] [--seed 0] [--top 12] [--data PATH]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cifar10_speed import sprint_config

from utils.cifar10 import load_cifar10
from utils.cifar_train import train_cifar10
from utils.reproducibility import describe_cpu, describe_device, get_device

# An operator belongs to the first group whose marker occurs in its name (checked in this order).
GROUPS = (
    ("convolution, backward", ("convolution_backward", "mkldnn_convolution_backward")),
    ("convolution, forward", ("convolution", "conv2d")),
    ("batch norm", ("batch_norm",)),
    ("optimizer and Lookahead", ("_foreach", "sgd", "lerp")),
    ("matrix products (whitening, classifier)", ("addmm", "mm", "bmm", "linear")),
    ("pooling and activations", ("max_pool", "gelu", "relu", "threshold")),
    ("data: copies, flips, crops, casts", ("copy_", "flip", "index", "gather", "to", "cat", "stack")),
)


def group_of(name: str) -> str:
    """The group of an operator's name (``other`` if no marker matches)."""
    lowered = name.lower()
    for group, markers in GROUPS:
        if any(marker in lowered for marker in markers):
            return group
    return "other"


def main(argv: list[str] | None = None) -> int:
    """Profile one sprint run and print its phases and operator groups."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu", help="whose sprint to profile (default: cpu)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=12, help="how many single operators to list")
    parser.add_argument("--data", default=None, help="local CIFAR-10 copy (default: $BOOK_CIFAR10)")
    args = parser.parse_args(argv)
    if args.top < 0:
        parser.error("--top must be 0 or more")

    device = get_device()
    config = sprint_config(args.preset, seed=args.seed, device=device)
    cpu = describe_cpu()
    print(f"device: {describe_device(device)}; {cpu['model']} ({cpu['capability']}, native bf16: {cpu['native_bf16']})")
    print(f"sprint: {config}")
    data = load_cifar10(args.data)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        _, history = train_cifar10(data, config, device=device, label="  profiled ")
    records = history.records

    phases = {"set-up": records[0]["setup_seconds"]}
    for epoch, record in enumerate(records, start=1):
        phases[f"epoch {epoch}, training"] = record["seconds"]
        phases[f"epoch {epoch}, one-view test"] = record["test_seconds"]
    phases["final test-time augmentation"] = records[-1].get("final_tta_seconds", 0.0)
    total = sum(phases.values())
    print(f"\nphases of the run (profiled, {total:.1f} s in all):")
    for phase, seconds in phases.items():
        print(f"  {phase:32s} {seconds:6.2f} s  {100 * seconds / total:5.1f} %")

    events = prof.key_averages()
    own = {event.key: event.self_cpu_time_total / 1e6 for event in events}
    grouped: dict[str, float] = defaultdict(float)
    for name, seconds in own.items():
        grouped[group_of(name)] += seconds
    busy = sum(own.values())
    print(f"\noperators' own CPU time, by group ({busy:.1f} s of operator time):")
    for group, seconds in sorted(grouped.items(), key=lambda item: -item[1]):
        print(f"  {group:40s} {100 * seconds / busy:5.1f} %")
    print(f"\nthe {args.top} busiest operators:")
    for name, seconds in sorted(own.items(), key=lambda item: -item[1])[: args.top]:
        print(f"  {name:40s} {100 * seconds / busy:5.1f} %  ({group_of(name)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
