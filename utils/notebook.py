"""What every chapter notebook runs first, and small display helpers for the lessons.

Each chapter opens with :data:`BOOTSTRAP_CELL` (a test checks that they all match it). The cell
makes ``import utils`` work: on Colab it first clones the book's repository; locally and under
nbval it finds the repository root above the notebook's folder. It then calls
:func:`setup_notebook`, which on Colab installs ``d2l`` without its dependencies (d2l 1.0.3 pins
old numpy/matplotlib releases that would break Colab's own) and touches nothing else.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import subprocess
import sys
import textwrap
from collections.abc import Callable

__all__ = [
    "REPOSITORY_URL",
    "CLONE_DIR",
    "D2L_REQUIREMENT",
    "BOOTSTRAP_CELL",
    "in_colab",
    "setup_notebook",
    "lesson_source",
    "show_source",
    "glue",
]

REPOSITORY_URL = "https://github.com/regularization-executed/book"
CLONE_DIR = "regularization-executed"
D2L_REQUIREMENT = "d2l==1.0.3"

BOOTSTRAP_CELL = f'''\
# Setup, the same in every chapter: make the book's `utils` importable.
# On Colab, fetch the book first; locally, find the repository root.
import pathlib, subprocess, sys
BOOK = "{REPOSITORY_URL}"
CLONE = "{CLONE_DIR}"
if "google.colab" in sys.modules and not pathlib.Path(CLONE).exists():
    subprocess.run(["git", "clone", "--quiet", "--depth=1", BOOK, CLONE],
                   check=True)
here = pathlib.Path.cwd()
roots = [p for p in (here, *here.parents, here / CLONE)
         if (p / "utils" / "notebook.py").is_file()]
if not roots:
    raise RuntimeError("Cannot find the book's utils/ package: "
                       "open this notebook from inside the repository.")
sys.path.insert(0, str(roots[0]))
from utils.notebook import setup_notebook
setup_notebook()'''


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules


def setup_notebook(*, run: Callable[..., object] = subprocess.run) -> None:
    """Prepare a chapter's kernel: install ``d2l`` on Colab if missing, set the plotting style.

    Args:
        run: the function used to run pip (tests pass a fake).
    """
    if in_colab() and importlib.util.find_spec("d2l") is None:
        # --no-deps: keep Colab's numpy, torch and matplotlib exactly as they are.
        run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", D2L_REQUIREMENT], check=True)
    from .plotting import use_book_style

    use_book_style()
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")  # nbval compares SVG text; PNG images are not compared
    except ImportError:  # plain Python, no inline backend: nothing to configure
        pass


def lesson_source(obj: Callable[..., object] | type) -> str:
    """The source of ``obj`` as a lesson shows it: no decorators, no ``Raises:`` docstring section.

    Argument checks (``@checked``) and the errors they raise are part of the tested helper, not of
    the idea a chapter teaches; the learner sees the body.

    Raises:
        TypeError: if ``obj`` has no Python source (a builtin, an instance, ...).
    """
    try:
        source = textwrap.dedent(inspect.getsource(obj))
    except (TypeError, OSError) as err:
        raise TypeError(f"cannot show the source of {obj!r}: {err}") from None
    lines = source.splitlines()
    definition = ast.parse(source).body[0]
    lines = lines[definition.lineno - 1 :]  # the ``def``/``class`` line: decorators sit above it
    return "\n".join(_without_raises_section(lines)).rstrip()


def _without_raises_section(lines: list[str]) -> list[str]:
    """``lines`` less every Google-style ``Raises:`` section (its header and its indented entries)."""
    kept: list[str] = []
    header_indent: int | None = None
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if header_indent is not None:
            if not line.strip() or indent > header_indent:
                continue  # an entry of the section, or the blank line that ends it
            header_indent = None
        if line.strip() == "Raises:":
            header_indent = indent
            continue
        if line.strip() == '"""':
            while kept and not kept[-1].strip():
                kept.pop()  # the blank line left where the section ended the docstring
            if kept and kept[-1].lstrip().startswith('"""'):
                kept[-1] += '"""'  # only the one-line summary is left: close it on its line
                continue
        kept.append(line)
    return kept


def show_source(obj: Callable[..., object] | type) -> None:
    """Display :func:`lesson_source` of a ``utils`` function or class as a highlighted code block.

    Raises:
        TypeError: if ``obj`` has no Python source (a builtin, an instance, ...).
    """
    source = lesson_source(obj)
    from IPython.display import Markdown, display

    display(Markdown(f"```python\n{source}\n```"))


class _Text(str):
    """A glued phrase, stored so that the prose shows it exactly as written.

    myst-nb first reads a glued text as a Python literal (to strip the quotes of a string's repr):
    "0.0080" would show as 0.008, "[1.10, 1.70]" as [1.1, 1.7] and "5,000" as (5, 0). Such a phrase
    is stored quoted; any other is stored bare, as IPython would show it without quotes.
    """

    def __repr__(self) -> str:
        try:
            ast.literal_eval(self)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return str(self)
        return repr(str(self))


def glue(name: str, value: float | int | str) -> None:
    """Record ``value`` under ``name`` for the prose, displaying nothing in the cell.

    The book's text quotes run-dependent numbers with myst-nb's role, e.g.
    ``{glue:text}`ch5_gain:.2f``` for a number or ``{glue:text}`ch5_interval``` for a phrase, so the
    page says what the run it shows produced. Glue numbers rounded to the digits that every machine
    reproduces: nbval compares the stored value. Where myst-nb is not installed (Colab), there is
    no book to fill in, and this does nothing.
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, _Text(value) if isinstance(value, str) else value, display=False)
