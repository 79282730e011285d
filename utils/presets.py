"""Run presets: one place decides how big a long experiment is.

``smoke`` is for CI (seconds), ``cpu`` for a laptop or this book's build machine (minutes),
``gpu`` for a CUDA device (the full recipe). The choice is automatic and can be overridden
with the ``BOOK_PRESET`` environment variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypeVar

import torch

__all__ = ["PRESET_NAMES", "PRESET_ENV_VAR", "choose_preset", "per_preset"]

PRESET_NAMES: tuple[str, ...] = ("smoke", "cpu", "gpu")
PRESET_ENV_VAR = "BOOK_PRESET"

T = TypeVar("T")


def per_preset(**sizes: T) -> dict[str, T]:
    """A table of run sizes with exactly one entry per preset, in :data:`PRESET_NAMES` order.

    Every table of sizes is built with it, so the preset names are written in one place only.

    Raises:
        ValueError: naming the presets that are missing or unknown.
    """
    missing, unknown = set(PRESET_NAMES) - set(sizes), set(sizes) - set(PRESET_NAMES)
    if missing or unknown:
        raise ValueError(f"one size per preset {PRESET_NAMES}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    return {name: sizes[name] for name in PRESET_NAMES}


def choose_preset(
    name: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cuda_available: bool | None = None,
) -> str:
    """Pick the run preset.

    Order of precedence: the ``name`` argument, then ``$BOOK_PRESET``, then automatic:
    ``gpu`` when CUDA is available, ``smoke`` when ``$CI`` is set (CI machines), else ``cpu``.

    Args:
        name: an explicit preset, or ``None``.
        environ: the environment to read (defaults to ``os.environ``; tests pass a dict).
        cuda_available: override CUDA detection (defaults to ``torch.cuda.is_available()``).

    Raises:
        ValueError: if the requested preset (argument or environment) is unknown.
    """
    env = os.environ if environ is None else environ
    source = "name"
    if name is None and env.get(PRESET_ENV_VAR):
        name, source = env[PRESET_ENV_VAR].strip().lower(), f"${PRESET_ENV_VAR}"
    if name is not None:
        if name not in PRESET_NAMES:
            raise ValueError(f"unknown preset {name!r} (from {source}); choose one of {PRESET_NAMES}")
        return name
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if cuda_available:
        return "gpu"
    if env.get("CI", "").lower() not in ("", "0", "false"):
        return "smoke"
    return "cpu"
