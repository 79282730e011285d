"""Read the results files that ``benchmarks/cifar10_runs.py`` writes, for chapter 5 to cite and plot.

A results file is JSON: where and how the runs were made (command, device, torch, data, dates)
and one entry per run (seed, weight decay, config, per-epoch history, final accuracies, time).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["RunResults", "choice_mark", "load_run_results", "record_choice", "results_header", "train_test_gap",
           "write_results"]

_REQUIRED = ("command", "device", "torch", "data", "preset", "runs")
_RUN_KEYS = ("seed", "weight_decay", "history", "final_tta_accuracy", "final_train_clean_accuracy", "training_seconds")


@dataclass(frozen=True)
class RunResults:
    """The contents of one results file."""

    path: Path
    meta: dict
    runs: list[dict]

    def provenance(self) -> str:
        """One line saying what produced the results (the CPU's model where the file records it)."""
        m = self.meta
        when = f", {m['started'][:10]}" if m.get("started") else ""
        cpu = f", {m['cpu']['model']}" if m.get("cpu", {}).get("model") else ""
        return (
            f"{m['preset']} preset on {m['device']}{cpu} (torch {m['torch']}), data: {m['data']}{when}; "
            f"`{m['command']}`"
        )

    def paired_accuracies(
        self, weight_decay: float, control: float = 0.0
    ) -> tuple[list[int], list[float], list[float]]:
        """Seeds that ran with both weight decays, and their final test accuracies (in %) with each.

        Raises:
            ValueError: if no seed ran with both.
        """
        by_key = {(r["seed"], r["weight_decay"]): r for r in self.runs}
        seeds = sorted(s for s, wd in by_key if wd == weight_decay and (s, control) in by_key)
        if not seeds:
            raise ValueError(f"{self.path.name} holds no seed run with both weight_decay={weight_decay} and {control}")
        treated = [100 * by_key[(s, weight_decay)]["final_tta_accuracy"] for s in seeds]
        untreated = [100 * by_key[(s, control)]["final_tta_accuracy"] for s in seeds]
        return seeds, treated, untreated


def train_test_gap(run: dict) -> float:
    """A stored run's clean train-test gap in points: the accuracy on its fixed clean sample of training
    images minus its last one-view test accuracy (both one unaugmented view, in eval mode)."""
    return 100 * (run["final_train_clean_accuracy"] - run["history"][-1]["test_accuracy"])


def load_run_results(path: str | os.PathLike[str]) -> RunResults:
    """Read and check a results file.

    Raises:
        FileNotFoundError: if it does not exist. ValueError: if it is not a complete results file.
    """
    path = Path(path)
    try:
        blob = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error
    missing = [key for key in _REQUIRED if key not in blob]
    if missing:
        raise ValueError(f"{path} is not a results file of benchmarks/cifar10_runs.py: missing {missing}")
    for i, run in enumerate(blob["runs"]):
        absent = [key for key in _RUN_KEYS if key not in run]
        if absent:
            raise ValueError(f"{path}: run {i} lacks {absent}")
    meta = {key: value for key, value in blob.items() if key != "runs"}
    return RunResults(path, meta, blob["runs"])


def results_header(argv: list[str] | None, device: str, data_source: str, **extra: object) -> dict:
    """The provenance fields of a results file: the command (with ``argv``, or this process's
    arguments), start time, ``device`` (in words), machine, ``cpu`` (its model, PyTorch's kernel level
    and whether bf16 is native: :func:`~utils.reproducibility.describe_cpu`), torch version and data
    source; ``extra`` fields are added as given."""
    import torch

    from .reproducibility import describe_cpu

    args = argv if argv is not None else sys.argv[1:]
    return {
        "command": "python " + shlex.join([Path(sys.argv[0]).as_posix(), *args]),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": device,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu": describe_cpu(),
        "torch": torch.__version__,
        "data": data_source,
        **extra,
    }


def write_results(path: str | os.PathLike[str] | None, results: dict) -> None:
    """Write ``results`` as indented JSON to ``path`` (creating its folder); nothing if ``path`` is None."""
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")


def record_choice(path: str | os.PathLike[str] | None, results: dict, chosen: dict | None) -> None:
    """Store the name of a tuning's ``chosen`` candidate (``None``: no candidate met the rule) in
    ``results`` under ``"chosen"``, then write them (:func:`write_results`)."""
    results["chosen"] = None if chosen is None else chosen["name"]
    write_results(path, results)


def choice_mark(candidate: dict, chosen: dict | None) -> str:
    """The marker a tuning's table prints after its chosen candidate, else nothing."""
    return "  <- chosen" if candidate is chosen else ""
