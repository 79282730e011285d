"""A quiet progress display for long loops.

Notebook outputs are part of the book, so a progress bar must never end up in them: this one
draws into a single display area that it clears when the loop ends, writes nothing to stderr,
and switches itself off entirely when ``$BOOK_PROGRESS`` is ``0`` (set by ``make execute`` and
``make test``) or when nothing interactive is listening.
"""

from __future__ import annotations

import os
import sys
import time

__all__ = ["progress_enabled", "Progress"]

PROGRESS_ENV_VAR = "BOOK_PROGRESS"


def progress_enabled() -> bool:
    """Whether progress should be drawn: not if ``$BOOK_PROGRESS=0``; yes in a notebook or a TTY."""
    setting = os.environ.get(PROGRESS_ENV_VAR, "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    if setting in ("1", "true", "yes", "on"):
        return True
    return _in_notebook() or sys.stdout.isatty()


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython()  # type: ignore[attr-defined]
    return ip is not None and type(ip).__name__ in ("ZMQInteractiveShell", "Shell")


class Progress:
    """A text progress bar: ``label [#####.....] 5/10 0:03 loss=0.12``.

    Use as a context manager; ``update`` advances it, ``set_postfix`` adds text. When disabled
    every method is a no-op, so callers never need to check.
    """

    def __init__(self, total: int, label: str = "", *, enabled: bool | None = None, width: int = 24):
        if not isinstance(total, int) or total < 0:
            raise ValueError(f"total must be a non-negative int, got {total!r}")
        self.total, self.label, self.width = total, label, width
        self.enabled = progress_enabled() if enabled is None else enabled
        self.count, self.postfix = 0, ""
        self._start = time.perf_counter()
        self._handle = None
        self._last_draw = 0.0

    def __enter__(self) -> Progress:
        if self.enabled and _in_notebook():
            from IPython.display import display

            self._handle = display(self._text(), display_id=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _text(self) -> str:
        done = min(self.count, self.total)
        filled = int(self.width * done / self.total) if self.total else self.width
        elapsed = int(time.perf_counter() - self._start)
        bar = "#" * filled + "." * (self.width - filled)
        tail = f" {self.postfix}" if self.postfix else ""
        return f"{self.label} [{bar}] {done}/{self.total} {elapsed // 60}:{elapsed % 60:02d}{tail}"

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last_draw < 0.2:
            return
        self._last_draw = now
        if self._handle is not None:
            self._handle.update(self._text())
        else:
            sys.stdout.write("\r" + self._text())
            sys.stdout.flush()

    def update(self, n: int = 1) -> None:
        """Advance by ``n`` steps."""
        self.count += n
        self._draw(force=self.count >= self.total)

    def set_postfix(self, text: str) -> None:
        """Show ``text`` after the bar (e.g. the running loss)."""
        self.postfix = text
        self._draw()

    def close(self) -> None:
        """Erase the bar, leaving no trace in the output."""
        if not self.enabled:
            return
        if self._handle is not None:
            self._handle.update("")
            self._handle = None
        else:
            sys.stdout.write("\r" + " " * len(self._text()) + "\r")
            sys.stdout.flush()
        self.enabled = False

