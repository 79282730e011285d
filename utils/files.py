"""Writing files so that an interruption never leaves a half-written one behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

__all__ = ["OUTPUT_ENV_VAR", "output_path", "atomic_torch_save"]

OUTPUT_ENV_VAR = "BOOK_OUTPUT"


def output_path(*parts: str) -> Path:
    """Where a chapter keeps what it writes (checkpoints, TensorBoard logs): ``$BOOK_OUTPUT/<parts>``.

    Without ``$BOOK_OUTPUT`` the path is relative to the notebook's folder. On Colab, point it at a
    folder of a mounted Google Drive: a recycled runtime loses everything under ``/content``.
    """
    return Path(os.environ.get(OUTPUT_ENV_VAR) or ".").expanduser().joinpath(*parts)


def atomic_torch_save(obj: object, path: str | os.PathLike[str]) -> None:
    """``torch.save(obj, path)`` through a temporary file in the same folder and ``os.replace``.

    Readers see either the old file or the complete new one, never a partial write (a Colab
    disconnect or a full disk mid-save leaves the previous checkpoint or cache intact).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
