import pytest

from utils.progress import Progress, progress_enabled


@pytest.mark.parametrize(("value", "expected"), [("0", False), ("off", False), ("1", True), ("yes", True)])
def test_environment_switch(monkeypatch, value, expected):
    monkeypatch.setenv("BOOK_PROGRESS", value)
    assert progress_enabled() is expected


def test_disabled_progress_prints_nothing(capsys):
    with Progress(3, "x", enabled=False) as bar:
        for _ in range(3):
            bar.update()
        bar.set_postfix("loss 1")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_terminal_progress_erases_itself_and_never_uses_stderr(capsys):
    with Progress(2, "train", enabled=True) as bar:
        bar.update()
        bar.update()
    captured = capsys.readouterr()
    assert "train [" in captured.out and "2/2" in captured.out
    assert captured.out.endswith("\r")  # the line is blanked at the end
    assert captured.err == ""


@pytest.mark.parametrize("bad", [-1, 2.5])
def test_bad_total_is_rejected(bad):
    with pytest.raises(ValueError, match="total"):
        Progress(bad)
