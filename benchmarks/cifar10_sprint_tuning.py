"""Choose the speed benchmark's CPU sprint on a validation split, never on the test set.

Holds out 500 images of each class from the training set (``CIFAR10.validation_split``, seed 0),
trains every candidate below on the other 45,000 images, and measures it on the 5,000 held-out
images as ``benchmarks/cifar10_speed.py`` measures the chosen one on the test set: the time until
the first evaluation at or above the threshold (one view after an epoch, or the final test-time
augmented evaluation with its own time, :func:`seconds_to_target`; that evaluation's time is
doubled here, as the test set has twice as many images as the validation split). Each candidate
is timed ``REPEATS`` times, round robin (a slow spell of the machine then hits every candidate
alike); its accuracies do not change between repeats (same seed, and the CPU computes the same
numbers every time). The rule, written before this round's candidates ran: **the candidate that
reaches 79.0 % on the validation images soonest, by the median of its timed runs**, one point above
the benchmark's 78 % target, as a margin for the spread over seeds and for the step from the
validation images to the test set. The speed script then runs the chosen settings on 45,000 of the
training images (as many as they were tuned with) and measures them on the test set.

Every candidate is chapter 5's recipe (``cpu`` preset: network family, optimizer, schedule, Lookahead,
augmentation) with a few settings changed: two epochs instead of eight, narrower layers, batch 128
(the learning rate per example, ``1.5 * B / 1024``, times the factor a name gives as "lr x"), bf16
autocast (``precision="bf16"``, as the recipe uses mixed precision on a GPU; fast on CPUs with
native bf16 instructions), a frozen whitening bias (``whiten_bias_epochs=0``, which spares the
backward pass through the first, largest activation map), in some a weight decay twice the
chapter's ("wd x2": short runs gain from the higher effective learning rate that chapter 5
explains), in some a first epoch at lower resolution ("first epoch 24 px"), and in some test-time
augmentation over an image and its mirror image only ("tta1": a third of the six views' cost).

This is the fifth round; the test set has influenced it only through the earlier rounds' outcomes.
Round 1 (fp32, epochs 2-3, progressive resizing at 16 px) chose 3 epochs of widths 16/64/128: 81.1 %
in 102 s on a slower CPU, a speed-up of 126-135x, short of the benchmark's 250x goal. Round 2 (bf16,
two epochs; rule: the fastest candidate with at least 79.0 % after test-time augmentation) chose
"e2 w16-64-128 bf16 lr x2 frozen bias" (80.56 % in 18.2 s), whose test-set run reached 78 % in every
seed but at 178-239x, as this CPU times the original recipe about three times faster than the
slower one. Round 2's rule ranked by training time alone, although a candidate that needs the final
test-time augmentation to pass pays for it; round 3 ranked by the benchmark's own measure, but timed
that evaluation on the 5,000 validation images, half the test set: it chose "e2 w16-48-96 bf16 lr x4
frozen bias" (79.38 % after 17.6 s), which on the test set needed the final evaluation in three
seeds of five, at about twice that evaluation's tuned cost: 192-271x. Round 4 is round 3's
candidates again, with the evaluation's time doubled; it chose the same candidate (21.2 s), which,
trained on 45,000 images as tuned, reached 78 % on the test set in every seed of five, each only with
the final evaluation: 189-245x. Round 4 timed each candidate once, on a machine whose timings vary by
up to a third (one candidate took 18.2 s in round 3 and 23.8 s in round 4): round 5 takes the median of
three, and adds "tta1" versions of round 4's two fastest candidates. Round 5 chose "e2 w16-48-96 bf16
lr x4 frozen bias tta1" (79.16 % after a median 17.8 s); on the test set it reached 78 % in four seeds
of five (289-352x) but ended at 77.83 % in the fifth: for it the one-point margin was too thin (seed 0:
79.16 % on the validation images, 78.05 % on the test set). Between rounds 2 and 3, about thirty
exploratory runs were made on this same validation split (never on the test set); the candidates
are what they suggested. Each round's results are in the git history of ``results/sprint_tuning.json``.

Usage: python benchmarks/cifar10_sprint_tuning.py [--data PATH] [--only NAME ...] [--out results.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from utils.cifar10 import load_cifar10
from utils.cifar_train import cifar_config, train_cifar10
from utils.reproducibility import describe_device
from utils.run_results import results_header, write_results

VALIDATION_PER_CLASS = 500
SPLIT_SEED = 0
THRESHOLD = 0.79  # the benchmark's 78 % plus a margin of one point
TEST_IMAGES = 10_000  # the final evaluation's time scales with the images it sees
REPEATS = 3  # timed runs of each candidate: this machine's timings vary by tens of percent


def _batch(b: int, lr_scale: float = 1.0) -> dict[str, object]:
    return {"batch_size": b, "lr": lr_scale * 1.5 * b / 1024}


def _sprint(widths: tuple[int, ...], lr_scale: float, **more: object) -> dict[str, object]:
    """Two epochs at batch 128 in bf16 with a frozen whitening bias, and ``more``."""
    return dict(epochs=2, widths=widths, **_batch(128, lr_scale), precision="bf16", whiten_bias_epochs=0) | more


WD_X2 = {"weight_decay": 2 * 1.33e-3}
CANDIDATES: dict[str, dict[str, object]] = {
    "e2 w16-64-128 bf16 lr x2 frozen bias": _sprint((16, 64, 128), 2.0),
    "e2 w16-64-128 bf16 lr x2 frozen bias wd x2": _sprint((16, 64, 128), 2.0, **WD_X2),
    "e2 w16-64-128 bf16 lr x3 frozen bias wd x2": _sprint((16, 64, 128), 3.0, **WD_X2),
    "e2 w16-64-128 bf16 lr x2 frozen bias wd x2 first epoch 24 px": _sprint(
        (16, 64, 128), 2.0, **WD_X2, low_res_epochs=1, low_res_size=24
    ),
    "e2 w16-64-128 bf16 lr x3 frozen bias wd x2 first epoch 24 px": _sprint(
        (16, 64, 128), 3.0, **WD_X2, low_res_epochs=1, low_res_size=24
    ),
    "e2 w16-56-112 bf16 lr x3 frozen bias wd x2": _sprint((16, 56, 112), 3.0, **WD_X2),
    "e2 w16-48-96 bf16 lr x3 frozen bias wd x2": _sprint((16, 48, 96), 3.0, **WD_X2),
    "e2 w16-48-96 bf16 lr x4 frozen bias": _sprint((16, 48, 96), 4.0),
    "e2 w16-48-96 bf16 lr x4 frozen bias tta1": _sprint((16, 48, 96), 4.0, tta=1),
    "e2 w16-64-128 bf16 lr x3 frozen bias wd x2 first epoch 24 px tta1": _sprint(
        (16, 64, 128), 3.0, **WD_X2, low_res_epochs=1, low_res_size=24, tta=1
    ),
}


def seconds_to_target(records: list[dict[str, float]], target: float = 0.78) -> float | None:
    """Seconds until the first evaluation at or above ``target``: the training time up to an epoch
    whose (one-view) test accuracy reaches it, or, if only the final test-time augmented evaluation
    does, all the training time plus that evaluation's time (it is part of making the predictions);
    ``None`` if nothing reached it."""
    elapsed = 0.0
    for record in records:
        elapsed += record["seconds"]
        if record["test_accuracy"] >= target:
            return elapsed
        if record.get("final_tta_accuracy", 0.0) >= target:
            return elapsed + record["final_tta_seconds"]
    return None


def choose(results: list[dict]) -> dict | None:
    """The result that reached ``THRESHOLD`` soonest (``seconds_to_79``), or None if none did."""
    good = [r for r in results if r["seconds_to_79"] is not None]
    return min(good, key=lambda r: r["seconds_to_79"]) if good else None


def _run(split, name: str) -> dict:
    """Train candidate ``name`` once on ``split``; its accuracies, training time and time to ``THRESHOLD``."""
    config = cifar_config("cpu", **CANDIDATES[name])
    _, history = train_cifar10(split, config, device=torch.device("cpu"), label=f"[{name}] ")
    last = history.records[-1]
    last["final_tta_seconds"] *= TEST_IMAGES / len(split.test_labels)  # as long as on the test set
    return {
        "validation_accuracy": last["final_tta_accuracy"], "validation_one_view": last["test_accuracy"],
        "training_seconds": sum(history["seconds"]), "seconds_to_79": seconds_to_target(history.records, THRESHOLD),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    """Train the candidates on the split; print and return (and write, with ``--out``) the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="a CIFAR-10 copy (default: $BOOK_CIFAR10, else download)")
    parser.add_argument("--only", nargs="+", choices=list(CANDIDATES), help="run only these candidates")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed runs of each candidate (median)")
    parser.add_argument("--out", type=Path, default=None, help="JSON results file")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")

    device = torch.device("cpu")  # the sprint is a CPU figure: tuned where it is measured
    split = load_cifar10(args.data).validation_split(VALIDATION_PER_CLASS, seed=SPLIT_SEED)
    results = results_header(
        argv, describe_device(device), split.source, rule=__doc__.split("**")[1], runs=[], candidates=[]
    )
    print(f"tuning the sprint on {results['device']}, data: {split.source}")
    names = args.only or list(CANDIDATES)
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for repeat in range(args.repeats):  # round robin: a slow spell of the machine hits every candidate alike
        for name in names:
            run = _run(split, name)
            runs[name].append(run)
            results["runs"].append({"name": name, "repeat": repeat + 1} | run)
            write_results(args.out, results)  # after every run: an interrupted tuning keeps what it measured
            reached = "not reached" if run["seconds_to_79"] is None else f"after {run['seconds_to_79']:.1f} s"
            print(
                f"[{name}] run {repeat + 1}: validation accuracy {100 * run['validation_accuracy']:.2f} % (TTA), "
                f"{100 * run['validation_one_view']:.2f} % (one view); "
                f"training time {run['training_seconds']:.1f} s; {THRESHOLD:.0%} {reached}",
                flush=True,
            )
    for name in names:
        first = runs[name][0]
        if any(r["validation_accuracy"] != first["validation_accuracy"] for r in runs[name]):
            raise RuntimeError(f"{name}: repeated runs of one seed gave different accuracies")
        times = [r["seconds_to_79"] for r in runs[name]]
        results["candidates"].append({
            "name": name, "overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in CANDIDATES[name].items()},
            "validation_accuracy": first["validation_accuracy"], "validation_one_view": first["validation_one_view"],
            "training_seconds": statistics.median(r["training_seconds"] for r in runs[name]),
            "seconds_to_79": None if None in times else statistics.median(times), "seconds_to_79_runs": times,
        })  # fmt: skip
    chosen = choose(results["candidates"])
    results["chosen"] = None if chosen is None else chosen["name"]
    write_results(args.out, results)
    width = max(len(r["name"]) for r in results["candidates"])
    print(f"\nmedians over {args.repeats} run(s)")
    print(f"{'candidate':{width}s}  TTA       one view  training   to {THRESHOLD:.0%}")
    for r in sorted(results["candidates"], key=lambda r: (r["seconds_to_79"] is None, r["seconds_to_79"] or 0)):
        mark = "  <- chosen" if chosen is r else ""
        to = "    -" if r["seconds_to_79"] is None else f"{r['seconds_to_79']:5.1f} s"
        print(
            f"{r['name']:{width}s} {100 * r['validation_accuracy']:6.2f} %  {100 * r['validation_one_view']:6.2f} %"
            f"  {r['training_seconds']:6.1f} s  {to}{mark}"
        )
    if chosen is None:
        print(f"no candidate reached {THRESHOLD:.0%} on the validation images")
    return results


if __name__ == "__main__":
    sys.exit(0 if main()["chosen"] else 1)
