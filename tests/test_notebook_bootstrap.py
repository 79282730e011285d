"""The first cell of every chapter, run as Colab, locally and from the wrong place."""

import subprocess
import sys
import textwrap
import types

import pytest
import yaml

from utils import notebook
from utils.notebook import (
    BOOTSTRAP_CELL,
    CLONE_DIR,
    D2L_REQUIREMENT,
    REPOSITORY_URL,
    glue,
    lesson_source,
    setup_notebook,
    show_source,
)


@pytest.fixture
def isolated(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    return monkeypatch


@pytest.fixture
def fake_colab(isolated):
    isolated.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    return isolated


def test_on_colab_the_cell_clones_the_book_and_imports_utils(fake_colab, tmp_path, root):
    calls = []

    def fake_run(cmd, check):
        calls.append(cmd)
        clone = tmp_path / cmd[-1]
        clone.mkdir()
        (clone / "utils").symlink_to(root / "utils")  # what a real clone would contain

    fake_colab.setattr(subprocess, "run", fake_run)
    fake_colab.chdir(tmp_path)
    exec(BOOTSTRAP_CELL, {})
    assert calls == [["git", "clone", "--quiet", "--depth=1", REPOSITORY_URL, CLONE_DIR]]
    assert sys.path[0] == str(tmp_path / CLONE_DIR)


def test_on_colab_a_second_run_does_not_clone_again(fake_colab, tmp_path, root):
    (tmp_path / CLONE_DIR).mkdir()
    (tmp_path / CLONE_DIR / "utils").symlink_to(root / "utils")
    fake_colab.setattr(subprocess, "run", lambda *a, **k: pytest.fail("cloned twice"))
    fake_colab.chdir(tmp_path)
    exec(BOOTSTRAP_CELL, {})


def test_locally_the_cell_finds_the_repository_root(isolated, root):
    isolated.delitem(sys.modules, "google.colab", raising=False)
    isolated.setattr(subprocess, "run", lambda *a, **k: pytest.fail("must not run anything locally"))
    isolated.chdir(root / "chapters")
    exec(BOOTSTRAP_CELL, {})
    assert sys.path[0] == str(root)


def test_outside_the_repository_the_cell_says_what_to_do(isolated, tmp_path):
    isolated.delitem(sys.modules, "google.colab", raising=False)
    isolated.chdir(tmp_path)
    with pytest.raises(RuntimeError, match="inside the repository"):
        exec(BOOTSTRAP_CELL, {})


def test_setup_installs_d2l_without_dependencies_on_colab_only(fake_colab):
    calls = []
    fake_colab.setattr(notebook.importlib.util, "find_spec", lambda name: None)
    setup_notebook(run=lambda cmd, check: calls.append(cmd))
    assert calls == [[sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", D2L_REQUIREMENT]]


def test_setup_does_not_reinstall_an_existing_d2l(fake_colab):
    setup_notebook(run=lambda *a, **k: pytest.fail("d2l is already there"))


def test_setup_installs_nothing_locally(isolated):
    isolated.delitem(sys.modules, "google.colab", raising=False)
    isolated.setattr(notebook.importlib.util, "find_spec", lambda name: None)
    setup_notebook(run=lambda *a, **k: pytest.fail("must not install locally"))


def test_repository_url_is_the_one_in_config(root):
    config = yaml.safe_load((root / "_config.yml").read_text())
    assert config["repository"]["url"] == REPOSITORY_URL


def test_show_source_displays_the_lesson_source_as_a_python_block(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    show_source(setup_notebook)
    assert len(shown) == 1
    markdown = shown[0].data
    assert markdown == f"```python\n{lesson_source(setup_notebook)}\n```"
    assert markdown.splitlines()[1].startswith("def setup_notebook(")


def test_lesson_source_drops_decorators_and_the_raises_section():
    from utils.linreg import make_regression_data

    source = lesson_source(make_regression_data)  # decorated with @checked, documents Raises:
    assert source.startswith("def make_regression_data(")
    assert "@checked" not in source and "Raises" not in source and "ValueError" not in source
    assert '"""Build the data with ``d2l.synthetic_data`` (noise sd 0.01) and ``d2l.load_array``."""' in source
    assert source.rstrip().endswith("return RegressionData(train_X, train_y, test_X, test_y, loader, true_w, true_b)")


def test_lesson_source_keeps_the_docstring_around_a_raises_section():
    text = """\
    @decorator(option=1)
    def f(x):
        \"\"\"Summary.

        Raises:
            ValueError: if x is bad,
                which takes two lines.

        Returns:
            x
        \"\"\"
        return x
    """
    namespace: dict = {}
    exec("def decorator(option):\n    return lambda func: func\n", namespace)
    source = textwrap.dedent(text)
    exec(source, namespace)
    lines = notebook._without_raises_section(source.splitlines()[1:])
    assert lines == ["def f(x):", '    """Summary.', "", "    Returns:", "        x", '    """', "    return x"]


def test_glue_records_numbers_and_plain_text_without_display(monkeypatch):
    import myst_nb

    recorded = []
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: recorded.append((name, repr(value), display)))
    glue("gain", 0.35)
    glue("interval", "[0.31, 0.39]")  # a Python literal as it stands: stored quoted
    glue("phrase", "16 of 20")  # not one: stored bare
    assert recorded == [("gain", "0.35", False), ("interval", "'[0.31, 0.39]'", False), ("phrase", "16 of 20", False)]


@pytest.mark.parametrize(
    "phrase", ["0.0080", "[1.10, 1.70]", "5,000", "5.023e-04", "-0.015 ± 0.019", "16 of 20", "None", "'quoted'"]
)
def test_a_glued_phrase_shows_in_the_prose_exactly_as_written(monkeypatch, phrase):
    """What myst-nb's {glue:text} role renders from the stored text is the phrase itself."""
    import myst_nb
    from myst_nb.core.variables import format_plain_text

    stored = []
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: stored.append(repr(value)))
    glue("phrase", phrase)
    assert format_plain_text(stored[0], "") == phrase


def test_glue_without_myst_nb_does_nothing(monkeypatch):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # what Colab has: no myst-nb
    glue("gain", 0.35)


def test_show_source_rejects_objects_without_source():
    with pytest.raises(TypeError, match="cannot show the source"):
        show_source(len)
