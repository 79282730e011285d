"""`make lint` holds the chapters' code to 79 columns, the width the HTML book shows uncut."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

RUFF = Path(sys.executable).with_name("ruff")


def _notebook(line: str) -> str:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": [line + "\n"]}
    return json.dumps({"cells": [cell], "metadata": {"language_info": {"name": "python"}}, "nbformat": 4,
                       "nbformat_minor": 5})


def _ruff(root: Path, name: str, line: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUFF), "check", "--no-cache", "--stdin-filename", name, "-"], cwd=root,
                          input=_notebook(line), capture_output=True, text=True)


@pytest.mark.skipif(not RUFF.exists(), reason="ruff is installed beside the test's Python by make")
@pytest.mark.parametrize(("width", "fails"), [(79, False), (80, True)])
def test_a_chapter_code_line_of_80_characters_fails_lint(root, width, fails):
    line = "total = 1  # " + "ab " * 30
    line = line[: width - 1].rstrip() + "x"  # no trailing space; ruff skips a lone overlong word
    line = line.ljust(width, "y") if len(line) < width else line
    assert len(line) == width
    result = _ruff(root, "chapters/probe.ipynb", line)
    assert (result.returncode != 0) == fails, result.stdout
    if fails:
        assert "E501" in result.stdout


@pytest.mark.skipif(not RUFF.exists(), reason="ruff is installed beside the test's Python by make")
def test_other_python_keeps_the_wider_limit(root):
    assert _ruff(root, "tools/probe.ipynb", "total = 1  # " + "ab " * 30 + "x").returncode == 0
