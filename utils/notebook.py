"""What every chapter notebook runs first, and small display helpers for the lessons.

Each chapter opens with :data:`BOOTSTRAP_CELL` (a test checks that they all match it). The cell
makes ``import utils`` work: on Colab it first clones the book's repository; locally and under
nbval it finds the repository root above the notebook's folder. It then calls
:func:`setup_notebook`, which on Colab installs ``d2l`` without its dependencies (d2l 1.0.3 pins
old numpy/matplotlib releases that would break Colab's own) and touches nothing else.
"""

from __future__ import annotations

import importlib.util
import inspect
import subprocess
import sys
from collections.abc import Callable

__all__ = [
    "REPOSITORY_URL",
    "CLONE_DIR",
    "D2L_REQUIREMENT",
    "BOOTSTRAP_CELL",
    "in_colab",
    "setup_notebook",
    "show_source",
]

REPOSITORY_URL = "https://github.com/regularization-executed/book"
CLONE_DIR = "regularization-executed"
D2L_REQUIREMENT = "d2l==1.0.3"

BOOTSTRAP_CELL = f'''\
# Setup, the same in every chapter: make the book's `utils` package importable.
# On Colab, fetch the book first; locally, find the repository root above this notebook.
import pathlib, subprocess, sys
if "google.colab" in sys.modules and not pathlib.Path("{CLONE_DIR}").exists():
    subprocess.run(["git", "clone", "--quiet", "--depth=1", "{REPOSITORY_URL}", "{CLONE_DIR}"], check=True)
here = pathlib.Path.cwd()
roots = [p for p in (here, *here.parents, here / "{CLONE_DIR}") if (p / "utils" / "notebook.py").is_file()]
if not roots:
    raise RuntimeError("Cannot find the book's utils/ package: open this notebook from inside the repository.")
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


def show_source(obj: Callable[..., object] | type) -> None:
    """Display the source code of a ``utils`` function or class as a highlighted code block.

    Lessons use it to show the code they teach, which lives once in ``utils`` and is tested there.

    Raises:
        TypeError: if ``obj`` has no Python source (a builtin, an instance, ...).
    """
    try:
        source = inspect.getsource(obj)
    except (TypeError, OSError) as err:
        raise TypeError(f"cannot show the source of {obj!r}: {err}") from None
    from IPython.display import Markdown, display

    display(Markdown(f"```python\n{source.rstrip()}\n```"))
