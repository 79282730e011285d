"""Chapter 5's prose quotes no number of a run by hand: each comes from a glue role.

The chapter's results change with the machine and the preset (a Colab GPU runs the ``gpu`` preset
over three seeds; this page stores a ``cpu`` run), and its stored measurements can be regenerated.
So every number its markdown shows is either glued from a code cell's output
(``{glue:text}`ch5_...```) or a fixed fact of the set-up or of the original tutorial, listed below
with where it comes from. Maths, inline code, roles and labels are set aside: they hold formulas,
settings and names, not results.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "chapters" / "05_cifar10_resnet.ipynb"

# Fixed facts the prose may write by hand, none of them an outcome of this book's runs.
FIXED = {
    # the original tutorial (seed 000): 32 -> 96 px, lr 0.01, batch 64, 20 epochs, a stem of
    # stride 2; its log: 78 % test accuracy, 99.6 % training accuracy, validation between 55 and 79 %
    "32", "96", "0.01", "64", "20", "2", "78", "99.6", "55", "79",
    # the recipe (utils.cifar_train and its presets): momentum 0.85, batch 1,024 or 256, the schedule
    # 0.2 -> 1 -> 0.07 with a warm-up over 23 % of the steps, label smoothing 0.2, shifts of 2 pixels,
    # Lookahead every 5 steps, gamma frozen at 1, the whitening set from 5,000 images
    "0.85", "1,024", "256", "0.2", "1", "0.07", "23", "5", "5,000",
    # the data: 50,000 training images of 3x32x32 bytes are 150 MB; the JPEG copy's quality, 75
    "50,000", "150", "75",
    # airbench94's published result: 94.01 % on average over 1,000 runs
    "94", "94.01", "1,000",
    # the book's choice of interval: 95 %
    "95",
    # the exercises' settings: 100 or 500 validation images per class, 20,000 training images
    "100", "500", "20,000",
}
# Decimals that maths may hold: airbench's hyperparameters and their conversion (the recipe's
# dropdown), and the preset's weight decay.
FIXED_IN_MATHS = {"11.5", "0.0153", "0.85", "0.15", "1.5", "1.33"}

ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")  # {glue:text}`...`, {numref}`...`, {cite:p}`...`
FENCE = re.compile(r"^\s*(```|:::)[^\n]*$|^\s*:\w+:.*$", re.MULTILINE)  # fences, directive options
INDENTED_CODE = re.compile(r"^ {4}\S.*$", re.MULTILINE)  # the Colab snippet, set as code
MATHS = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.DOTALL)
CODE = re.compile(r"`[^`]*`")
LABEL = re.compile(r"^\([\w-]+\)=$", re.MULTILINE)
URL = re.compile(r"\(https?://[^)]*\)")
REFERENCE = re.compile(r"\b(?:exercise|chapter) \d+|^\s*\d+\. ", re.MULTILINE)  # and numbered lists
DECIMAL = re.compile(r"\d+\.\d+")
NUMBER = re.compile(r"(?<![\w.,-])\d(?:[\d,.]*\d)?(?![\w])")


def numbers_in(markdown: str) -> list[str]:
    """The numbers a reader sees in ``markdown``, outside roles, maths, code, labels and links."""
    for pattern in (ROLE, MATHS, FENCE, LABEL, URL, CODE, INDENTED_CODE, REFERENCE):
        markdown = pattern.sub(" ", markdown)
    return NUMBER.findall(markdown)


def _markdown() -> str:
    cells = json.loads(CHAPTER.read_text(encoding="utf-8"))["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def _glued() -> dict[str, str]:
    """The values the stored outputs glued, by name, as myst-nb reads them (their plain text)."""
    cells = json.loads(CHAPTER.read_text(encoding="utf-8"))["cells"]
    return {
        output["metadata"]["scrapbook"]["name"]: "".join(output["data"]["application/papermill.record/text/plain"])
        for cell in cells
        if cell["cell_type"] == "code"
        for output in cell["outputs"]
        if "scrapbook" in output.get("metadata", {})
    }


def test_the_scan_finds_a_hand_written_result_and_skips_glued_ones():
    assert numbers_in("weight decay ended at 84.9 % and 83.6 %, 5.7 to 8.2 times") == [
        "84.9", "83.6", "5.7", "8.2"
    ]  # fmt: skip
    assert numbers_in("ended at {glue:text}`ch5_live_wd:.1f` % ({numref}`fig-5-3`), $10^{-3}$") == []
    assert numbers_in("CIFAR-10 with airbench94 in fp32, `weight_decay=1e-4` (exercise 2)") == []


def test_every_number_in_the_prose_is_glued_or_a_fixed_fact():
    unexpected = sorted(set(numbers_in(_markdown())) - FIXED)
    assert not unexpected, f"chapter 5's prose writes numbers by hand: {unexpected}; glue them from an output"


def test_maths_holds_no_decimal_but_the_recipes_constants():
    decimals = {d for formula in MATHS.findall(_markdown()) for d in DECIMAL.findall(formula)}
    unexpected = sorted(decimals - FIXED_IN_MATHS)
    assert not unexpected, f"chapter 5's maths writes numbers by hand: {unexpected}; glue them instead"


def test_every_glue_role_names_a_value_that_a_stored_output_glued():
    used = set(re.findall(r"\{glue:\w+\}`(\w+)", _markdown()))
    assert used, "chapter 5 quotes no glued value"
    missing = sorted(used - _glued().keys())
    assert not missing, f"the prose quotes glue names that no stored output holds: {missing}"


def test_every_glued_phrase_shows_as_it_was_stored():
    """myst-nb reads a glued value with ``ast.literal_eval`` before it shows it: a glued "5,000" would
    show as "(5, 0)" and "[1.10, 1.70]" as "[1.1, 1.7]". A value quoted without a format must show
    as stored; one quoted with a format must take it."""
    variables = pytest.importorskip("myst_nb.core.variables")
    assert variables.format_plain_text("5,000", "s") == "(5, 0)"  # the trap this test guards against
    glued = _glued()
    for name, spec in re.findall(r"\{glue:text\}`(\w+)(?::([^`]*))?`", _markdown()):
        shown = variables.format_plain_text(glued[name], spec or "s")
        if not spec:
            assert shown == glued[name], f"{name}: stored {glued[name]!r}, the page would show {shown!r}"
