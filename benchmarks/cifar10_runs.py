"""Train chapter 5's recipe for a preset over seeds and weight decays, and store what it printed.

The chapter runs one pair of runs live; this script runs the measurements that do not fit its time
budget, on whatever device it is given, and writes them where the chapter reads them:

- the ``gpu`` preset's accuracy, measured by running it (on a CPU in fp32 if no GPU is lent);
- weight decay's effect as a paired difference over seeds: each seed trains twice with the same
  initialisation, data order and augmentation, once with the preset's ``weight_decay`` and once
  with 0;
- a sweep of weight decays over seeds on a subset of the training set, where data is scarce
  (``--set n_train=5000 epochs=32``).

Every run keeps a checkpoint after each epoch (under ``$BOOK_OUTPUT/checkpoints/benchmarks``, or
``--checkpoint-dir``), so an interrupted invocation resumes where it stopped, and a run that chapter 5
already made (same preset, seed and weight decay) is reused when pointed at its checkpoints. The
results file (JSON) holds the command, the device, the torch version, the data source, each run's
config, per-epoch history, final accuracies and wall time; the same lines are printed as the runs go.

``--set NAME=VALUE`` changes a field of the preset's config for every run (its runs are named and
checkpointed apart), e.g. ``--set residual=false decay_biases=true`` for airbench94's own network and
parameter groups.

Usage:
  python benchmarks/cifar10_runs.py --preset gpu --seeds 0 --out benchmarks/results/gpu_preset_cpu.json
  python benchmarks/cifar10_runs.py --preset cpu --seeds 0 1 2 --weight-decays default 0 \\
      --out benchmarks/results/cpu_weight_decay_pairs.json
  python benchmarks/cifar10_runs.py --preset cpu --seeds 0 1 2 --weight-decays 0 5e-5 5e-4 default 5e-3 \\
      --set n_train=5000 epochs=32 --out benchmarks/results/cpu_weight_decay_sweep_5k.json
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from utils.cifar10 import load_cifar10
from utils.cifar_train import TrainConfig, cifar_config, train_cifar10
from utils.files import output_path
from utils.presets import PRESET_NAMES
from utils.reproducibility import describe_device, get_device
from utils.run_results import results_header, write_results


def _weight_decays(values: list[str], default: float) -> list[float]:
    """``default`` stands for the preset's own weight decay; other values are numbers >= 0."""
    decays = []
    for value in values:
        decay = default if value == "default" else float(value)
        if decay < 0:
            raise argparse.ArgumentTypeError(f"a weight decay must be >= 0, got {value}")
        decays.append(decay)
    return decays


def _override(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` for a field of :class:`TrainConfig`, the value parsed as that field's type
    (``true``/``false`` for a switch, ``64,256,256`` for the widths)."""
    name, sep, value = text.partition("=")
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    if not sep or name not in defaults:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with NAME one of {sorted(defaults)}, got {text!r}")
    default = defaults[name]
    try:
        if isinstance(default, bool):
            if value.lower() not in ("true", "false"):
                raise ValueError(value)
            return name, value.lower() == "true"
        if isinstance(default, tuple):
            return name, tuple(int(v) for v in value.split(","))
        if isinstance(default, str):  # e.g. precision=bf16; TrainConfig checks the value
            return name, value
        return name, (float if isinstance(default, float) else int)(value)
    except ValueError:
        kind = "true or false" if isinstance(default, bool) else f"a value like {default!r}"
        raise argparse.ArgumentTypeError(f"{name} takes {kind}, got {value!r}") from None


def _text(value: object) -> str:
    """A config value as it appears in a run's name (and checkpoint file name)."""
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def main(argv: list[str] | None = None) -> dict:
    """Run the requested trainings; return (and write, with ``--out``) the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=PRESET_NAMES, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--weight-decays", nargs="+", default=["default"], help="numbers, or 'default'")
    parser.add_argument(
        "--set", dest="overrides", type=_override, nargs="+", default=[], metavar="NAME=VALUE",
        help="change a config field for every run, e.g. residual=false",
    )  # fmt: skip
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--data", default=None, help="a CIFAR-10 copy (default: $BOOK_CIFAR10)")
    parser.add_argument("--out", type=Path, default=None, help="JSON results file")
    parser.add_argument(
        "--checkpoint-dir", type=Path, default=output_path("checkpoints", "benchmarks"),
        help="where each run keeps its checkpoint (default $BOOK_OUTPUT/checkpoints/benchmarks); "
        "chapter 5's checkpoints are in chapters/checkpoints/chapter5, with the same names",
    )  # fmt: skip
    args = parser.parse_args(argv)

    overrides = dict(args.overrides)
    if "seed" in overrides or "weight_decay" in overrides:
        parser.error("set seeds and weight decays with --seeds and --weight-decays")
    try:
        cifar_config(args.preset, **overrides)  # an invalid value fails here, before any data is read
    except ValueError as error:
        parser.error(str(error))
    suffix = "".join(f"-{name}={_text(value)}" for name, value in overrides.items())
    device = torch.device(args.device) if args.device else get_device()
    data = load_cifar10(args.data)
    decays = _weight_decays(args.weight_decays, cifar_config(args.preset).weight_decay)
    results = results_header(
        argv, describe_device(device), data.source, preset=args.preset, overrides=overrides, runs=[]
    )
    print(f"preset {args.preset} on {results['device']}, torch {torch.__version__}, data: {data.source}")
    for seed in args.seeds:
        for decay in decays:
            config = cifar_config(args.preset, seed=seed, weight_decay=decay, **overrides)
            name = f"{args.preset}-wd{decay:g}-seed{seed}{suffix}"
            print(f"--- {name}: {config}", flush=True)
            start = time.perf_counter()
            _, history = train_cifar10(
                data, config, device=device, label=f"[{name}] ",
                checkpoint=args.checkpoint_dir / f"{name}.pt",
            )  # fmt: skip
            last = history.records[-1]
            run = {
                "name": name, "seed": seed, "weight_decay": decay, "config": dataclasses.asdict(config),
                "history": history.records, "final_tta_accuracy": last["final_tta_accuracy"],
                "final_train_clean_accuracy": last["final_train_clean_accuracy"],
                "training_seconds": sum(history["seconds"]),
                "wall_seconds_this_invocation": time.perf_counter() - start,
            }  # fmt: skip
            print(
                f"[{name}] final test accuracy (TTA level {config.tta}) {100 * run['final_tta_accuracy']:.2f} %, "
                f"clean train slice {100 * run['final_train_clean_accuracy']:.2f} %, "
                f"training time {run['training_seconds'] / 60:.1f} min",
                flush=True,
            )
            results["runs"].append(run)
            write_results(args.out, results)  # after every run: a partial invocation leaves its finished runs
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    write_results(args.out, results)
    if args.out is not None:
        print(f"results written to {args.out}")
    return results


if __name__ == "__main__":
    main()
