"""Chapter 5's prose quotes no number of a run by hand: each comes from a glue role.

The chapter's results change with the machine and the preset (a Colab GPU runs the ``gpu`` preset
over three seeds; this page stores a ``cpu`` run), and its stored measurements can be regenerated.
So every number its markdown shows is either glued from a code cell's output
(``{glue:text}`ch5_...```) or a fixed fact of the set-up or of the original tutorial, listed below
with where it comes from. Roles, inline code, labels and links are set aside: they hold settings
and names, not results. The scan reads whole tokens, so a number glued to a sign, a unit or a
letter (``+0.35``, ``84.9%``, ``8.2×``, ``5e-4``) is a token of its own and must be listed to pass;
maths is scanned too, for every number that is not a size, a power of ten or an exponent.
"""

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "chapters" / "05_cifar10_resnet.ipynb"

# Tokens with a digit that the prose may write by hand, none of them an outcome of this book's runs.
FIXED = {
    # the original tutorial (seed 000): 32 -> 96 px, lr 0.01, batch 64, 20 epochs; its log: 78 % test
    # accuracy, 99.6 % training accuracy, validation between 55 and 79 %
    "32", "32-pixel", "96", "0.01", "64", "20", "78", "99.6", "55", "79",
    # the recipe (utils.cifar_train and its presets): momentum 0.85, batch 1,024 or 512, the schedule
    # 0.2 -> 1 -> 0.07 with a warm-up over 23 % of the steps, label smoothing 0.2, shifts of 2 pixels,
    # Lookahead every 5 steps, gamma frozen at 1, the whitening set from 5,000 images; the cpu preset's
    # tuning (benchmarks/cifar10_preset_tuning.py): its threshold, 88.5 % on a validation split
    "0.85", "1,024", "512", "0.2", "1", "0.07", "23", "2", "5", "5,000", "88.5",
    # the data: 50,000 training images of 3x32x32 bytes are 150 MB; the JPEG copy's quality, 75
    "50,000", "150", "75",
    # airbench94: 9.9 epochs; its published result, 94.01 % on average over 1,000 runs
    "9.9", "94", "94.01", "1,000",
    # the book's choice of interval, 95 %; seed 0, which every preset runs (the figures show it)
    "95", "0",
    # the exercises' settings: 100 or 500 validation images per class, subsets of 5,000 or 20,000
    "100", "500", "5,000-image", "20,000",
    # names
    "CIFAR-10", "ResNet-9", "airbench94", "airbench94's", "bf16", "fp16", "fp32", "float64", "AVX512-BF16",
}  # fmt: skip
# Numbers that maths may hold besides sizes (3\times3), powers of ten and exponents: 0, 1 and 2 of
# formulas (c > 0, 1/c, lambda/2), airbench's hyperparameters and their conversion (the recipe's
# dropdown), and the preset's weight decay.
FIXED_IN_MATHS = {"0", "1", "2", "1024", "11.5", "0.0153", "0.85", "0.15", "1.5", "1.33"}

ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")  # {glue:text}`...`, {numref}`...`, {cite:p}`...`
FENCE = re.compile(r"^\s*(```|:::)[^\n]*$|^\s*:\w+:.*$", re.MULTILINE)  # fences, directive options
INDENTED_CODE = re.compile(r"^ {4}\S.*$", re.MULTILINE)  # the Colab snippet, set as code
MATHS = re.compile(r"\$\$.*?\$\$|\$[^$]+\$", re.DOTALL)
CODE = re.compile(r"`[^`]*`")
LABEL = re.compile(r"^\([\w-]+\)=$|\(eq-[\w-]+\)", re.MULTILINE)  # targets and equation labels
URL = re.compile(r"\(https?://[^)]*\)")
REFERENCE = re.compile(r"\bchapter \d+\b|^\s*\d+\. ", re.MULTILINE)  # chapter numbers, numbered lists
PUNCTUATION = "([{“\"'.,;:!?)]}”"
# In maths: sizes (3\times32\times32), powers of ten (10^{-3}) and exponents (^2) are not results.
SIZE = re.compile(r"(?<![\d.])\d+(?:\s*\\times\s*\d+)+(?![\d.])")
POWER = re.compile(r"10\^\{?-?\d+\}?|\^\{?-?\d+\}?")
MATHS_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def numbers_in(markdown: str) -> list[str]:
    """Every token with a digit that a reader sees in ``markdown`` outside maths, roles, code, labels
    and links, trimmed of the punctuation around it but not of a sign, a unit or a letter."""
    for pattern in (ROLE, MATHS, FENCE, LABEL, URL, CODE, INDENTED_CODE, REFERENCE):
        markdown = pattern.sub(" ", markdown)
    tokens = (word.strip(PUNCTUATION) for word in markdown.split())
    return [token for token in tokens if re.search(r"\d", token)]


def numbers_in_maths(markdown: str) -> list[str]:
    """The numbers of ``markdown``'s maths, less sizes, powers of ten and exponents."""
    formulas = (POWER.sub(" ", SIZE.sub(" ", formula)) for formula in MATHS.findall(markdown))
    return [number for formula in formulas for number in MATHS_NUMBER.findall(formula)]


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


@pytest.mark.parametrize(
    ("prose", "found"),
    [
        ("weight decay ended at 84.9 % and 83.6 %, 5.7 to 8.2 times", ["84.9", "83.6", "5.7", "8.2"]),
        ("a difference of +0.35 points (−0.12 in seed 2)", ["+0.35", "−0.12", "2"]),
        ("the best decay was 5e-4, or 5E-04", ["5e-4", "5E-04"]),
        ("it reached 84.9% and ran 8.2× faster, 8.2x at best, in 19min", ["84.9%", "8.2×", "8.2x", "19min"]),
        ("in exercise 2, as chapter 3 shows", ["2"]),
    ],
)
def test_the_scan_finds_a_number_written_by_hand_in_any_form(prose, found):
    assert numbers_in(prose) == found


def test_the_scan_skips_glued_numbers_roles_code_labels_and_maths():
    assert numbers_in("ended at {glue:text}`ch5_live_wd:.1f` % ({numref}`fig-5-3`), $10^{-3}$") == []
    assert numbers_in("CIFAR-10 with airbench94 in fp32, `weight_decay=1e-4` ({numref}`ex-ch5-lr`)") == [
        "CIFAR-10", "airbench94", "fp32"
    ]  # fmt: skip
    assert numbers_in("(myth-ch5-upsampling)=\n$$\nx\n$$ (eq-ch5-invariance)\n:label: ex-ch5-subset") == []


@pytest.mark.parametrize(
    ("maths", "found"),
    [
        ("$3\\times32\\times32$ and $\\lambda = 1.33\\times10^{-3}$ and $\\lVert w\\rVert^2$", ["1.33"]),
        ("$p = 0.25$ over $n = 3$ seeds, a ratio of $8.2\\times$", ["0.25", "3", "8.2"]),
        ("$c > 0$, split\nover a line: $\\max_i c z_i = c\n\\max_i z_i$ for $x = 84.9$", ["0", "84.9"]),
    ],
)
def test_the_maths_scan_finds_numbers_but_sizes_and_powers(maths, found):
    assert numbers_in_maths(maths) == found


def test_a_hand_written_number_planted_in_the_chapter_fails():
    """The check below, run on the chapter with one result typed in by hand."""
    planted = _markdown().replace("a difference of {glue:text}`ch5_live_difference`", "a difference of +1.92")
    assert planted != _markdown(), "the sentence this test plants into is gone: plant elsewhere"
    assert "+1.92" in set(numbers_in(planted)) - FIXED


def test_every_number_in_the_prose_is_glued_or_a_fixed_fact():
    unexpected = sorted(set(numbers_in(_markdown())) - FIXED)
    assert not unexpected, f"chapter 5's prose writes numbers by hand: {unexpected}; glue them from an output"


def test_maths_holds_no_number_but_the_recipes_constants():
    unexpected = sorted(set(numbers_in_maths(_markdown())) - FIXED_IN_MATHS)
    assert not unexpected, f"chapter 5's maths writes numbers by hand: {unexpected}; glue them instead"


def test_exercises_are_referred_to_by_label_not_by_number():
    prose = CODE.sub(" ", _markdown())
    assert not re.findall(r"\b[Ee]xercises? \d", prose), "refer to an exercise with {numref}`ex-ch5-...`"


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
            quoted = glued[name][:1] in "'\""  # a phrase utils.notebook.glue stored as a literal
            stored = ast.literal_eval(glued[name]) if quoted else glued[name]
            assert shown == stored, f"{name}: stored {glued[name]!r}, the page would show {shown!r}"


def test_no_line_of_prose_starts_with_a_percent_sign():
    """MyST reads a line that starts with ``%`` as a comment and drops it from the page: a reflowed
    "49\n% of its gain" once lost half a sentence. (Indented code, such as the Colab snippet, is safe.)"""
    dropped = re.findall(r"^ {0,3}%.*$", _markdown(), re.MULTILINE)
    assert not dropped, f"these lines would vanish from the page: {dropped}"
