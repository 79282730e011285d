"""The reading-load figures of tools/chapter_stats.py, on notebooks small enough to count by hand."""

import json

import pytest

from tools.chapter_stats import count_words, reading_load, split_collapsed


def _write(tmp_path, cells):
    path = tmp_path / "chapter.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def _markdown(text, tags=()):
    return {"cell_type": "markdown", "metadata": {"tags": list(tags)}, "source": [text]}


def _code(text, tags=()):
    return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": [text], "outputs": [],
            "execution_count": 1}


@pytest.mark.parametrize(
    ("text", "words"),
    [("Weight decay shrinks w.", 4), ("The factor $1 - \\eta\\lambda$ decays.", 4), ("$$\na + b\n$$ done", 2),
     ("don't re-run it", 3), ("", 0)],
)
def test_words_count_a_formula_as_one(text, words):
    assert count_words(text) == words


def test_dropdowns_toggles_and_dropdown_classes_are_collapsed():
    text = "\n".join([
        "Seen one.",
        "```{dropdown} Title",
        "hidden one",
        "```",
        ":::{admonition} Why",
        ":class: dropdown",
        "hidden two",
        ":::",
        "````{note}",
        "seen two",
        "```{toggle}",
        "hidden three",
        "```",
        "````",
    ])
    shown, hidden = split_collapsed(text)
    assert shown.split("\n") == ["Seen one.", "seen two"]
    assert hidden.split("\n") == ["hidden one", ":class: dropdown", "hidden two", "hidden three"]


def test_a_block_inside_a_collapsed_block_stays_collapsed():
    shown, hidden = split_collapsed("::::{dropdown} Outer\n```{math}\nx\n```\nafter\n::::\nout")
    assert (shown, hidden) == ("out", "x\nafter")


def test_reading_load_of_a_small_chapter(tmp_path):
    long_line = "x = " + "1 + " * 18 + "10.0"  # 80 characters
    assert len(long_line) == 80
    path = _write(tmp_path, [
        _markdown("# Title\n\nOne two three."),
        _markdown("Hidden prose here.", tags=["hide-cell"]),
        _markdown("This is an earlier version, run on 2026-11-25."),
        _code("a = 1\nb = 2"),
        _code(long_line + "\nc = 3", tags=["hide-input"]),
        _code("d = 4", tags=["remove-cell"]),
    ])
    load = reading_load(path)
    assert load.visible_words == 4 + 8  # "Title One two three" + the dated sentence (a date is one word)
    assert load.collapsed_words == 3
    assert load.visible_code_lines == 2
    assert load.code_lines_over_79 == 1
    assert load.lab_notebook_phrases == ["c2: earlier version", "c2: 2026-11-25"]
