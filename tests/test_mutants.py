"""The mutant list of ``make mutants`` stays in step with ``utils`` (checked here without running a mutant)."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_tool(name: str):
    """A script of tools/ imported as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"tools_{name}", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runner():
    return _load_tool("run_mutants")


def test_every_mutants_snippet_occurs_exactly_once_in_its_file(runner):
    problems = runner.check_snippets(runner.MUTANTS)
    assert not problems, "tools/mutants.py no longer matches utils/ (update the snippets):\n" + "\n".join(problems)


def test_the_list_covers_every_module_with_realistic_named_mutants(runner):
    mutants = runner.MUTANTS
    modules = _load_tool("mutants").MODULES
    assert len(mutants) >= 30 and len({m.name for m in mutants}) == len(mutants)
    for module in modules:
        assert sum(m.path == module for m in mutants) >= 3, f"fewer than 3 mutants in {module}"
    for m in mutants:
        assert m.path in modules and m.description, m.name
        assert m.tests and all((ROOT / t).is_file() and t.startswith("tests/test_") for t in m.tests), m.name


def test_a_snippet_that_moved_or_repeats_is_reported(runner, tmp_path):
    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "a.py").write_text("x = 1\ny = 1\n")
    mutant = runner.Mutant("one", "utils/a.py", "= 1", "= 2", ("tests/test_a.py",), "a constant")
    gone = runner.Mutant("gone", "utils/a.py", "z = 1", "z = 2", ("tests/test_a.py",), "a constant")
    assert runner.check_snippets((mutant, gone), root=tmp_path) == [
        "one: its original snippet occurs 2 times in utils/a.py",
        "gone: its original snippet occurs 0 times in utils/a.py",
    ]
