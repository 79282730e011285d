"""Argument checks shared by the helpers, so every one rejects bad input with the same clear message."""

from __future__ import annotations

__all__ = ["check_positive_int"]


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int >= 1 (``bool`` excluded).

    Raises:
        ValueError: naming ``name``, otherwise.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value
