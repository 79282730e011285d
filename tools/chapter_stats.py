"""How much a chapter asks of its reader: the book's reading-load figures, per notebook.

Usage: python tools/chapter_stats.py [--json] [NOTEBOOK ...]   (default: chapters/*.ipynb)

For each chapter it prints
- the prose a reader sees without clicking: markdown outside cells tagged ``hide-cell`` or
  ``remove-cell`` and outside collapsed blocks (``{dropdown}``, ``{toggle}``, or any directive
  with a ``:class:`` option naming ``dropdown``), in words, a formula counting as one word;
- the prose one click away (the rest);
- the code lines on the page: cells not tagged ``hide-input``, ``remove-input``, ``hide-cell`` or
  ``remove-cell``;
- the code lines over 79 characters, hidden or not (the HTML page cuts them off);
- phrases of a lab notebook in the prose: earlier versions, sessions, tuning rounds, dates.

The book's standard (README, "Refreshing stored outputs"): at most 2,000 visible words (2,500 for
chapter 5), at most 150 code lines on the page, no line over 79 characters, no lab-notebook phrase.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

HIDDEN_PROSE_TAGS = frozenset({"hide-cell", "remove-cell"})
HIDDEN_CODE_TAGS = frozenset({"hide-input", "remove-input", "hide-cell", "remove-cell"})
COLLAPSING_DIRECTIVES = frozenset({"dropdown", "toggle"})
MAX_COLUMNS = 79
LAB_NOTEBOOK = re.compile(
    r"earlier version|previous version|this session|tuning round|\b20\d\d-\d\d-\d\d\b", re.IGNORECASE
)
# An opening fence names a directive: ```{name} args or :::{name} args; a closing fence is bare.
OPENING_FENCE = re.compile(r"^\s*(?P<fence>`{3,}|:{3,})\s*\{(?P<name>[\w:-]+)\}")
BARE_FENCE = re.compile(r"^\s*(?P<fence>`{3,}|:{3,})\s*$")
MATHS = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.DOTALL)
WORD = re.compile(r"[A-Za-z0-9][\w'’-]*")


@dataclass
class ReadingLoad:
    """The figures of one chapter."""

    visible_words: int = 0
    collapsed_words: int = 0
    visible_code_lines: int = 0
    code_lines_over_79: int = 0
    lab_notebook_phrases: list[str] = field(default_factory=list)


def count_words(markdown: str) -> int:
    """Words of ``markdown``, each inline or display formula counting as one."""
    return len(WORD.findall(MATHS.sub(" formula ", markdown)))


def split_collapsed(markdown: str) -> tuple[str, str]:
    """``markdown`` split into what a reader sees at once and what sits in collapsed blocks.

    A block nested in a collapsed block is collapsed too. The fence lines belong to neither part; a
    directive's option lines (``:class:``, ``:label:``) to the part its body belongs to.
    """
    shown: list[str] = []
    hidden: list[str] = []
    open_blocks: list[tuple[str, bool]] = []  # (fence, collapsed) of each block not yet closed
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        bare = BARE_FENCE.match(line)
        if bare and open_blocks and bare.group("fence") == open_blocks[-1][0]:
            open_blocks.pop()
            i += 1
            continue
        opening = OPENING_FENCE.match(line)
        if opening:
            options = []
            i += 1
            while i < len(lines) and lines[i].lstrip().startswith(":") and not OPENING_FENCE.match(lines[i]):
                options.append(lines[i])
                i += 1
            collapses = opening.group("name") in COLLAPSING_DIRECTIVES or any(
                option.lstrip().startswith(":class:") and "dropdown" in option for option in options
            )
            collapsed = collapses or (bool(open_blocks) and open_blocks[-1][1])
            (hidden if collapsed else shown).extend(options)  # counted as the hook counts them
            open_blocks.append((opening.group("fence"), collapsed))
            continue
        (hidden if open_blocks and open_blocks[-1][1] else shown).append(line)
        i += 1
    return "\n".join(shown), "\n".join(hidden)


def reading_load(path: Path) -> ReadingLoad:
    """The reading-load figures of the notebook at ``path``."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    load = ReadingLoad()
    for index, cell in enumerate(notebook["cells"]):
        source = "".join(cell["source"])
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell["cell_type"] == "markdown":
            if tags & HIDDEN_PROSE_TAGS:
                load.collapsed_words += count_words(source)
                continue
            shown, hidden = split_collapsed(source)
            load.visible_words += count_words(shown)
            load.collapsed_words += count_words(hidden)
            load.lab_notebook_phrases += [f"c{index}: {m.group(0)}" for m in LAB_NOTEBOOK.finditer(source)]
        elif cell["cell_type"] == "code":
            lines = source.splitlines()
            load.code_lines_over_79 += sum(len(line) > MAX_COLUMNS for line in lines)
            if not tags & HIDDEN_CODE_TAGS:
                load.visible_code_lines += len(lines)
    return load


def main(argv: list[str]) -> int:
    as_json = "--json" in argv
    paths = [Path(a) for a in argv if not a.startswith("--")] or sorted(Path("chapters").glob("*.ipynb"))
    loads = {str(path): reading_load(path) for path in paths}
    if as_json:
        print(json.dumps({name: asdict(load) for name, load in loads.items()}, indent=1))
        return 0
    for name, load in loads.items():
        lab = f"; lab-notebook phrases: {', '.join(load.lab_notebook_phrases)}" if load.lab_notebook_phrases else ""
        print(
            f"{name}: {load.visible_words} visible prose words ({load.collapsed_words} collapsed), "
            f"{load.visible_code_lines} code lines on the page, {load.code_lines_over_79} over 79 characters{lab}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
