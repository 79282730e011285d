"""Choose the speed benchmark's CPU sprint on a validation split, never on the test set.

Holds out 500 images of each class from the training set (``CIFAR10.validation_split``, seed 0),
trains every candidate below on the other 45,000 images, once for each of three seeds, and measures
it on the 5,000 held-out images as ``benchmarks/cifar10_speed.py`` measures the chosen one on the
test set: the time until predictions at or above the threshold exist (the set-up of the network,
whose whitening layer is set from the data, counted from round 10 on; the training up to an epoch
whose one-view accuracy reaches it plus that evaluation, or all the training plus the final
evaluation with test-time augmentation, :func:`seconds_to_target`; evaluations are timed here at
twice their length, as the test set has twice as many images as the validation split). The seeds are
run round robin (a slow spell of the machine then hits every candidate alike), and they are also
the candidate's three timings. The rule, written before this round's candidates ran (though
exploratory runs had already trained some of them on these seeds: see round 10): **the candidate
whose every seed reaches 79.5 % on the validation images, soonest by the median over its seeds**.
The margin of 1.5 points above the benchmark's 78 % target is what the earlier rounds showed it must
cover: the chosen candidates scored 0.9-1.1 points less on the test set than on these validation
images (seed 0 of both), and their test-set accuracies spread over up to 0.8 point between five seeds.
The speed script then runs the chosen settings on as many training images as they were tuned with
(45,000, or the candidate's own ``n_train``) and measures them on the test set.

Every candidate is chapter 5's recipe (``cpu`` preset: network family, optimizer, schedule, Lookahead,
augmentation) with a few settings changed: two epochs instead of eight, narrower layers, batch 128
or 96 ("b96"; the learning rate per example, ``1.5 * B / 1024``, times the factor a name gives as "lr x"), bf16
autocast (``precision="bf16"``, as the recipe uses mixed precision on a GPU; fast on CPUs with
native bf16 instructions), a frozen whitening bias (``whiten_bias_epochs=0``, which spares the
backward pass through the first, largest activation map), a weight decay twice the chapter's
("wd x2": short runs gain from the higher effective learning rate that chapter 5 explains), test-time
augmentation over an image and its mirror image only ("tta1": a third of the six views' cost), and in
some a batch-norm bias learning rate 32 rather than 64 times the weights' ("blr32"), a warm-up over
10 % of the steps rather than 23 % ("warm10"), and fewer training images ("on 42k": a random 42,000 of
the 45,000). Earlier rounds also tried other widths and batch sizes, three epochs, a first epoch at
lower resolution (resized, or, in round 9, random 28- or 24-pixel windows: ``low_res_crop``; the
window's position replaces the translation, the objects keep their size, and a step has about three
quarters or a little over half the pixels of a full-size one), three times the weight decay and
six-view test-time augmentation.

This is the tenth round; the test set has influenced it only through the earlier rounds' outcomes.
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
up to a third (one candidate took 18.2 s in round 3 and 23.8 s in round 4): round 5 took the median of
three timings of seed 0, and added "tta1" versions of round 4's two fastest candidates. Round 5 chose
"e2 w16-48-96 bf16 lr x4 frozen bias tta1" (79.16 % after a median 17.8 s); on the test set it reached
78 % in four seeds of five (289-352x) but ended at 77.83 % in the fifth: its one-point margin, checked
on one seed, was too thin (seed 0: 79.16 % on the validation images, 78.05 % on the test set). Round 6
therefore asked every one of three seeds to pass, with a margin of 1.5 points, and counts the one-view
evaluation that reaches the threshold (about a second, left out until round 5). Its candidates were
two of round 5's three that reached 79.5 % with seed 0 ("w16-64-128 lr x2" and "lr x3", both "wd x2";
the third, "lr x2" without "wd x2", needed its six-view evaluation and took 27.8 s), their
"tta1" versions (a cheaper final evaluation for a seed whose one view falls short) and two new
neighbours of the faster one (weight decay x3, learning rate x4). It chose "e2 w16-64-128 bf16 lr x2
frozen bias wd x2 tta1" (80.32-80.46 % with the mirror pair, 79.24-79.52 % in one view, a median
18.4 s), which on the test set reached 78 % in every seed of five in one view (78.36-79.07 %), after
16.8-18.9 s in two runs; the ratios were 247-273x and 238-263x, short of 250x in two seeds and one,
as the original recipe was timed faster than in earlier rounds (174-178 images/s against 128-155).
Round 7 kept round 6's rule and threshold and asked whether a faster neighbour of its choice also
passed: batch 96, narrower second or third layers (56 or 112 channels), and a first epoch at 28 px,
alone and with batch 96. None both passed in every seed and ran faster (on this CPU none of them was
faster in training at all; the 28 px epoch's resizing costs about what it saves), so round 6's choice
stayed. Round 8 kept the rule and traded some of the choice's accuracy margin (it passed with 80.32 %
or more in every seed) for time: the same training on a random 40,000 or 36,000 of the 45,000 images
(``n_train``), about a ninth or a fifth fewer steps. Neither passed (79.08 % and 78.34 % in their
worst seeds), so round 6's choice stayed; its test-set run after round 6 (the original timed in six
windows) had reached 78 % in every seed but at 238-263x, short of 250x in one seed of five. Round 9
kept the rule and made steps cheaper instead of fewer: the choice with its first epoch on random 28-
or 24-pixel windows (in round 7, resizing to 28 px had cost accuracy, and time by resampling: 19.5 s
against 18.5 s; a crop costs no resampling). They took 10 and 18 % less training time (medians 15.5
and 14.0 s against 17.2 s) but lost about a point (79.34-79.92 % and 79.02-79.46 % with the mirror
pair), as much as resizing had, and neither passed in every seed. Round 10, this one, keeps the rule;
from it on, the time also counts the set-up (building the network, setting its whitening layer from
5,000 training images, the optimizer and the data loaders: 0.44-0.48 s in its test-set runs, which
earlier rounds left out), and evaluations run in batches of 250 rather than 1,000
(``utils.cifar_train.EVAL_BATCH``: 0.75 s rather than 1.15 s for 10,000 images on this CPU,
``results/eval_batch.log``; round 6's choice gave exactly its round-6 accuracies again). Between rounds
9 and 10, exploratory runs of the choice with one or two settings changed, on this validation split,
gave with the mirror pair: a batch-norm bias learning rate 32 rather than 64
times the weights' ("blr32"; 80.44, 80.48, 80.36 % in seeds 0-2, one view 79.22-80.12 %, against the
choice's 80.36, 80.46, 80.32 % and 79.24-79.52 %), a warm-up over 10 % of the steps rather than 23 %
("warm10"; 80.44, 79.92, 80.26 %), both (79.90, 80.34, 80.02 %), and, in seed 0 only, label smoothing
0.1 (80.12 %), momentum 0.9 (79.80 %), a learning rate x2.5 (80.16 %) and a schedule ending at 0
(79.84 %). On 42,000 images, "blr32" gave 79.88, 79.76, 79.76 % and "blr32 warm10" 80.44, 79.94,
80.00 %. The candidates are the choice itself and those two on 42,000 images, and "blr32 warm10" on
40,000 (where the choice alone had fallen short in round 8). The exploratory runs had already trained
the two 42k candidates with these seeds (runs are deterministic here: round 10 gave the same
accuracies), so round 10 re-timed them; they were picked after about ten variants had been seen on
the same three seeds, so their accuracies are an optimistic estimate. Round 6's settings alone were
never run on 42,000 images, and on 45,000 the two changes together scored lower than round 6's choice
in every seed with the mirror pair (not in one view).
Round 10 chose "blr32 warm10 on 42k" (79.94-80.44 % with the mirror pair, 78.76-79.60 % in one view,
a median 20.5 s against the old choice's 22.2 s, on a slow spell of the machine); "blr32 warm10 on
40k" fell short in one seed (79.32 %).
Between rounds 2 and 3, about thirty exploratory runs were made on this same validation split (never
on the test set); the candidates are what they suggested. Each round's results are in the git
history of ``results/sprint_tuning.json``.

Usage: python benchmarks/cifar10_sprint_tuning.py [--data PATH] [--only NAME ...] [--seeds 0 1 2] [--out results.json]
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
THRESHOLD = 0.795  # the benchmark's 78 % plus a margin of 1.5 points (see the docstring)
TEST_IMAGES = 10_000  # an evaluation's time scales with the images it sees
SEEDS = (0, 1, 2)  # one run of each candidate per seed: its spread over seeds, and three timings


def _batch(b: int, lr_scale: float = 1.0) -> dict[str, object]:
    return {"batch_size": b, "lr": lr_scale * 1.5 * b / 1024}


def _sprint(widths: tuple[int, ...], lr_scale: float, **more: object) -> dict[str, object]:
    """Two epochs at batch 128 in bf16 with a frozen whitening bias, and ``more``."""
    return dict(epochs=2, widths=widths, **_batch(128, lr_scale), precision="bf16", whiten_bias_epochs=0) | more


WD_X2 = {"weight_decay": 2 * cifar_config("cpu").weight_decay}  # twice the chapter's
ROUND_6 = _sprint((16, 64, 128), 2.0, **WD_X2, tta=1)  # round 6's choice, timed again beside its variants
BLR32 = {"bias_lr_scale": 32.0}  # half the chapter's batch-norm bias learning rate
BLR32_WARM10 = BLR32 | {"warmup_fraction": 0.1}  # and a shorter warm-up than the chapter's 23 %
CANDIDATES: dict[str, dict[str, object]] = {
    "e2 w16-64-128 bf16 lr x2 frozen bias wd x2 tta1": ROUND_6,
    "e2 w16-64-128 bf16 lr x2 frozen bias wd x2 tta1 blr32 on 42k": ROUND_6 | BLR32 | {"n_train": 42_000},
    "e2 w16-64-128 bf16 lr x2 frozen bias wd x2 tta1 blr32 warm10 on 42k": ROUND_6 | BLR32_WARM10 | {"n_train": 42_000},
    "e2 w16-64-128 bf16 lr x2 frozen bias wd x2 tta1 blr32 warm10 on 40k": ROUND_6 | BLR32_WARM10 | {"n_train": 40_000},
}


def seconds_to_target(records: list[dict[str, float]], target: float = 0.78) -> float | None:
    """Seconds until predictions at or above ``target`` exist: the set-up (``setup_seconds`` of the
    first record: the network and its whitening layer, set from the data) and the training time up to
    an epoch whose one-view test accuracy reaches it plus that evaluation's time (``test_seconds``), or,
    if only the final test-time augmented evaluation does, all the training time plus that evaluation's
    time (a sprint that needs it would run it instead of the one-view evaluation); ``None`` if nothing
    reached it. The one-view evaluations of earlier epochs only watch the run and are not counted."""
    elapsed = records[0].get("setup_seconds", 0.0) if records else 0.0
    for record in records:
        elapsed += record["seconds"]
        if record["test_accuracy"] >= target:
            return elapsed + record["test_seconds"]
        if record.get("final_tta_accuracy", 0.0) >= target:
            return elapsed + record["final_tta_seconds"]
    return None


def _soonest(candidate: dict) -> tuple[bool, float]:
    """Sort key: candidates that reached ``THRESHOLD`` in every seed first, then by their median time."""
    return candidate["seconds_to_threshold"] is None, candidate["seconds_to_threshold"] or 0.0


def choose(candidates: list[dict]) -> dict | None:
    """The candidate whose every seed reached ``THRESHOLD``, soonest by the median over its seeds
    (``seconds_to_threshold``, ``None`` if a seed fell short), or None if no candidate qualifies."""
    best = min(candidates, key=_soonest, default=None)
    return best if best is not None and best["seconds_to_threshold"] is not None else None


def _run(split, name: str, seed: int) -> dict:
    """Train candidate ``name`` once on ``split`` with ``seed``; its accuracies and times."""
    config = cifar_config("cpu", **CANDIDATES[name], seed=seed)
    _, history = train_cifar10(split, config, device=torch.device("cpu"), label=f"[{name}, seed {seed}] ")
    scale = TEST_IMAGES / len(split.test_labels)  # an evaluation takes as long as it would on the test set
    for record in history.records:
        record["test_seconds"] *= scale
    last = history.records[-1]
    last["final_tta_seconds"] *= scale
    return {
        "validation_accuracy": last["final_tta_accuracy"], "validation_one_view": last["test_accuracy"],
        "training_seconds": sum(history["seconds"]),
        "seconds_to_threshold": seconds_to_target(history.records, THRESHOLD),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    """Train the candidates on the split; print and return (and write, with ``--out``) the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="a CIFAR-10 copy (default: $BOOK_CIFAR10, else download)")
    parser.add_argument("--only", nargs="+", choices=list(CANDIDATES), help="run only these candidates")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="one run of each candidate per seed")
    parser.add_argument("--out", type=Path, default=None, help="JSON results file")
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds must be distinct, got {args.seeds}")

    device = torch.device("cpu")  # the sprint is a CPU figure: tuned where it is measured
    split = load_cifar10(args.data).validation_split(VALIDATION_PER_CLASS, seed=SPLIT_SEED)
    results = results_header(
        argv, describe_device(device), split.source, rule=__doc__.split("**")[1], threshold=THRESHOLD,
        seeds=args.seeds, runs=[], candidates=[],
    )  # fmt: skip
    print(f"tuning the sprint on {results['device']}, data: {split.source}")
    names = args.only or list(CANDIDATES)
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for seed in args.seeds:  # round robin: a slow spell of the machine hits every candidate alike
        for name in names:
            run = _run(split, name, seed)
            runs[name].append(run)
            results["runs"].append({"name": name, "seed": seed} | run)
            write_results(args.out, results)  # after every run: an interrupted tuning keeps what it measured
            seconds = run["seconds_to_threshold"]
            reached = "not reached" if seconds is None else f"after {seconds:.1f} s"
            print(
                f"[{name}, seed {seed}]: validation accuracy {100 * run['validation_accuracy']:.2f} % (TTA), "
                f"{100 * run['validation_one_view']:.2f} % (one view); "
                f"training time {run['training_seconds']:.1f} s; {100 * THRESHOLD:.1f} % {reached}",
                flush=True,
            )
    for name in names:
        times = [r["seconds_to_threshold"] for r in runs[name]]
        results["candidates"].append({
            "name": name, "overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in CANDIDATES[name].items()},
            "validation_accuracies": [r["validation_accuracy"] for r in runs[name]],
            "validation_one_view": [r["validation_one_view"] for r in runs[name]],
            "lowest_accuracy": min(max(r["validation_accuracy"], r["validation_one_view"]) for r in runs[name]),
            "training_seconds": statistics.median(r["training_seconds"] for r in runs[name]),
            "seconds_to_threshold": None if None in times else statistics.median(times),
            "seconds_to_threshold_runs": times,
        })  # fmt: skip
    chosen = choose(results["candidates"])
    results["chosen"] = None if chosen is None else chosen["name"]
    write_results(args.out, results)
    width = max(len(r["name"]) for r in results["candidates"])
    print(f"\nover seeds {args.seeds}: lowest accuracy of a seed (its better evaluation), medians of the times")
    print(f"{'candidate':{width}s}  lowest    training   to {100 * THRESHOLD:.1f} %")
    for r in sorted(results["candidates"], key=_soonest):
        mark = "  <- chosen" if chosen is r else ""
        to = "    -" if r["seconds_to_threshold"] is None else f"{r['seconds_to_threshold']:5.1f} s"
        print(f"{r['name']:{width}s} {100 * r['lowest_accuracy']:6.2f} %  {r['training_seconds']:6.1f} s  {to}{mark}")
    if chosen is None:
        print(f"no candidate reached {100 * THRESHOLD:.1f} % on the validation images in every seed")
    return results


if __name__ == "__main__":
    sys.exit(0 if main()["chosen"] else 1)
