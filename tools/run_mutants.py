"""Run the book's mutants (:mod:`tools.mutants`) and print which ones the unit tests kill.

Usage: ``python tools/run_mutants.py [--jobs N] [--only NAME ...] [--tests TEST ...] [--min-score S]``
(``make mutants`` runs it, with the options in ``MUTANTS_ARGS``).

The repository's ``utils``, ``tests`` and ``pyproject.toml`` are copied to a temporary folder, one per
job (2 by default, each pytest on one thread); the working tree is never written. The tests named by
the mutants first run unmutated there and must pass. Then each mutant's snippet is put in, its tests
run (``pytest -x``: the first failure kills it) and the file is put back. A mutant whose snippet is not
found exactly once stops the run before anything is tested: the list has rotted. The score is the
share of killed mutants among those not marked equivalent; the exit status is 1 when it falls below
``--min-score`` (0.95) or a mutant marked equivalent is killed (its mark is wrong), 2 when the list
does not match the code.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from mutants import MUTANTS, Mutant  # noqa: E402  (tools/ is not a package)

TIMEOUT_S = 600  # per run of pytest: far above the slowest test file's run, so only a hang reaches it
# One thread per pytest: jobs run side by side, and PyTorch's threads waiting on a busy core slowed the
# tests a hundredfold on a loaded 2-core machine.
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass
class Outcome:
    """What running one mutant's tests gave."""

    mutant: Mutant
    killed: bool
    seconds: float
    detail: str  # the first failure's summary line, or why the run stopped


def check_snippets(mutants: tuple[Mutant, ...], root: Path = ROOT) -> list[str]:
    """One message per mutant whose ``original`` is not found exactly once in its file (or is unchanged)."""
    problems = []
    for mutant in mutants:
        path = root / mutant.path
        if not path.is_file():
            problems.append(f"{mutant.name}: no file {mutant.path}")
            continue
        count = path.read_text(encoding="utf-8").count(mutant.original)
        if count != 1:
            problems.append(f"{mutant.name}: its original snippet occurs {count} times in {mutant.path}")
        if mutant.original == mutant.replacement:
            problems.append(f"{mutant.name}: the replacement equals the original")
    return problems


def copy_repository(destination: Path) -> None:
    """The parts of the working tree that the unit tests of ``utils`` need, without caches."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "browser")
    for folder in ("utils", "tests"):
        shutil.copytree(ROOT / folder, destination / folder, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", destination / "pyproject.toml")


def run_tests(workdir: Path, tests: tuple[str, ...], timeout: float = TIMEOUT_S) -> tuple[bool, str]:
    """Run ``tests`` in ``workdir``; ``(passed, first failure line or "")``."""
    # never a stale .pyc of the unmutated file; wide lines, so that pytest does not cut the failure's message
    env = os.environ | THREADS | {"PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "300"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "--tb=no", "-rfE", "-p", "no:cacheprovider", *tests]
    try:
        run = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout} s"
    if run.returncode == 0:
        return True, ""
    lines = (run.stdout + run.stderr).splitlines()
    failures = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    return False, (failures or lines[-1:] or [f"pytest exited with {run.returncode}"])[0]


def run_mutant(workdir: Path, mutant: Mutant, tests: tuple[str, ...] = ()) -> Outcome:
    """Apply ``mutant`` in ``workdir``, run its tests (or ``tests``), and put the file back."""
    path = workdir / mutant.path
    source = path.read_text(encoding="utf-8")
    path.write_text(source.replace(mutant.original, mutant.replacement, 1), encoding="utf-8")
    start = time.perf_counter()
    try:
        passed, detail = run_tests(workdir, tests or mutant.tests)
    finally:
        path.write_text(source, encoding="utf-8")
    return Outcome(mutant, killed=not passed, seconds=time.perf_counter() - start, detail=detail)


def run_all(mutants: tuple[Mutant, ...], jobs: int, tests: tuple[str, ...] = ()) -> list[Outcome]:
    """Every mutant, ``jobs`` at a time, each job in its own copy of the repository; printed as they end.
    ``tests``, if given, replace each mutant's own tests (to see whether one test kills a mutant)."""
    todo: queue.Queue[Mutant] = queue.Queue()
    for mutant in mutants:
        todo.put(mutant)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def worker(workdir: Path) -> None:
        while True:
            try:
                mutant = todo.get_nowait()
            except queue.Empty:
                return
            outcome = run_mutant(workdir, mutant, tests)
            with lock:
                outcomes.append(outcome)
                print(_line(outcome, len(outcomes), len(mutants)), flush=True)

    with tempfile.TemporaryDirectory(prefix="book-mutants-") as tmp:
        workdirs = [Path(tmp) / f"job{j}" for j in range(jobs)]
        for workdir in workdirs:
            copy_repository(workdir)
        every_test = tests or tuple(dict.fromkeys(t for m in mutants for t in m.tests))
        passed, detail = run_tests(workdirs[0], every_test, timeout=3 * TIMEOUT_S)
        if not passed:
            raise SystemExit(f"the unmutated tests fail, so no mutant can be judged: {detail}")
        threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in workdirs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    order = {m.name: i for i, m in enumerate(mutants)}
    return sorted(outcomes, key=lambda o: order[o.mutant.name])


def _line(outcome: Outcome, done: int, total: int) -> str:
    m = outcome.mutant
    status = "killed" if outcome.killed else ("survived (equivalent)" if m.equivalent else "SURVIVED")
    line = f"[{done:2d}/{total}] {status:21s} {m.name:28s} {outcome.seconds:5.1f}s  {m.description}"
    return line + (f"\n{'':29s}{outcome.detail}" if outcome.detail else "")


def summary(outcomes: list[Outcome]) -> tuple[float, list[str]]:
    """The score over non-equivalent mutants, and the report's lines."""
    lines = ["", "module                     mutants  killed  survived  equivalent"]
    by_module: dict[str, Counter] = {}
    for o in outcomes:
        counts = by_module.setdefault(o.mutant.path, Counter())
        counts["mutants"] += 1
        counts["killed"] += o.killed
        counts["equivalent"] += bool(o.mutant.equivalent)
        counts["survived"] += not o.killed and not o.mutant.equivalent
    for path, c in by_module.items():
        lines.append(f"{path:26s} {c['mutants']:7d} {c['killed']:7d} {c['survived']:9d} {c['equivalent']:11d}")
    judged = [o for o in outcomes if not o.mutant.equivalent]
    killed = sum(o.killed for o in judged)
    score = killed / len(judged) if judged else 1.0
    lines.append(f"score: {killed}/{len(judged)} non-equivalent mutants killed = {score:.1%}")
    for o in outcomes:
        if not o.killed and not o.mutant.equivalent:
            lines.append(f"survivor: {o.mutant.name} ({o.mutant.path}): {o.mutant.description}")
        if not o.killed and o.mutant.equivalent:
            lines.append(f"equivalent: {o.mutant.name}: {o.mutant.equivalent}")
        if o.killed and o.mutant.equivalent:
            lines.append(f"MARKED EQUIVALENT BUT KILLED: {o.mutant.name}: {o.detail}")
    return score, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once, one thread each (default 2)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutants")
    parser.add_argument("--tests", nargs="+", default=(), metavar="TEST", help="run these instead of each mutant's own")
    parser.add_argument("--min-score", type=float, default=0.95, help="fail below this score (default 0.95)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the temporary copies are removed
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    problems = check_snippets(MUTANTS)
    if problems:
        print("tools/mutants.py no longer matches the code:", *problems, sep="\n  ", file=sys.stderr)
        return 2
    mutants = MUTANTS
    if args.only:
        unknown = set(args.only) - {m.name for m in MUTANTS}
        if unknown:
            parser.error(f"unknown mutants: {', '.join(sorted(unknown))}")
        mutants = tuple(m for m in MUTANTS if m.name in args.only)
    start = time.perf_counter()
    outcomes = run_all(mutants, args.jobs, tuple(args.tests))
    score, lines = summary(outcomes)
    print(*lines, sep="\n")
    print(f"wall time: {time.perf_counter() - start:.0f} s for {len(outcomes)} mutants, {args.jobs} job(s)")
    wrong_marks = any(o.killed and o.mutant.equivalent for o in outcomes)
    return 1 if score < args.min_score or wrong_marks else 0


if __name__ == "__main__":
    sys.exit(main())
