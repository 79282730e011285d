"""The stored notebooks are the book: check they are a clean, complete, top-to-bottom run."""

import itertools
import json
import re
from pathlib import Path

import pytest

from tests.book_toc import toc_files
from utils.notebook import BOOTSTRAP_CELL

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
MACHINE_PATH = re.compile(r"/(work|tmp|root|home|Users)/[\w.-]+")


def _code_cells(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    return nb, [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks in chapters/"


def test_every_toc_entry_exists_and_every_chapter_is_listed():
    files = toc_files(ROOT)
    for name in files:
        assert any((ROOT / f"{name}{ext}").exists() for ext in (".md", ".ipynb")), f"_toc.yml lists missing {name}"
    for path in NOTEBOOKS:
        assert f"chapters/{path.stem}" in files, f"{path.name} is not in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_in_order_from_a_fresh_kernel(path):
    _, cells = _code_cells(path)
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: execution counts {counts}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_errors_stderr_svg_or_widgets(path):
    nb, cells = _code_cells(path)
    assert "widgets" not in nb["metadata"], "widget state stored"
    for i, cell in enumerate(cells):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"cell {i}: stored error"
            assert out.get("name") != "stderr", f"cell {i}: stderr output"
            data = out.get("data", {})
            assert "image/svg+xml" not in data, f"cell {i}: SVG figure"
            assert "application/vnd.jupyter.widget-view+json" not in data, f"cell {i}: widget output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_machine_paths(path):
    text = path.read_text(encoding="utf-8")
    assert not MACHINE_PATH.search(text), f"{path.name}: {MACHINE_PATH.search(text).group(0)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_bootstrap(path):
    _, cells = _code_cells(path)
    assert "".join(cells[0]["source"]) == BOOTSTRAP_CELL
    assert "hide-input" in cells[0]["metadata"].get("tags", [])
    assert cells[0]["outputs"] == [], "the setup cell must print nothing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ends_with_summary_exercises_references(path):
    nb, _ = _code_cells(path)
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for heading in ("## Summary", "## Exercises", "## References"):
        assert heading in markdown, f"{path.name} lacks {heading!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_is_numbered_for_cross_references(path):
    """Each figure cell carries a myst-nb figure name fig-<chapter>-<k> and a caption, which numbers it;
    the image itself carries no number (it would be numbered twice). An appendix aN_*.ipynb names its
    figures fig-aN-<k>."""
    _, cells = _code_cells(path)
    prefix = path.name.split("_")[0]  # "04" for chapter 4, "a2" for appendix a2
    chapter = prefix if prefix.startswith("a") else int(prefix)
    figures = [c for c in cells if any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]
    assert figures, f"{path.name} has no figures"
    for k, cell in enumerate(figures, start=1):
        figure = cell["metadata"].get("mystnb", {}).get("figure", {})
        assert figure.get("name") == f"fig-{chapter}-{k}", f"figure {k} of {path.name} is named {figure.get('name')!r}"
        assert figure.get("caption"), f"fig-{chapter}-{k} has no caption"
        number = re.search(r"Figure \d+\.\d+", "".join(cell["source"]))
        assert number is None, f"fig-{chapter}-{k}: the image's title says {number.group(0)!r}; the caption numbers it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_printed_lines_of_a_cell_form_one_block(path):
    """Consecutive prints are stored as one stream output, so the book shows them in one box."""
    _, cells = _code_cells(path)
    for i, cell in enumerate(cells):
        kinds = [(o["output_type"], o.get("name")) for o in cell.get("outputs", [])]
        for a, b in itertools.pairwise(kinds):
            assert not (a == b and a[0] == "stream"), f"code cell {i} stores consecutive {a[1]} outputs"
