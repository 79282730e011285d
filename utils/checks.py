"""Argument checks shared by the helpers, so every one rejects bad input with the same clear message.

A function that a lesson shows on the page keeps its body for the idea: its checks are declared in
one line above it with :func:`checked`, e.g. ``@checked(x=tensor, p=probability)``, which validates
the named arguments before every call. Each check takes the argument's name and value and returns
the value (converted where that helps, e.g. a number to ``float``) or raises.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import torch

__all__ = [
    "checked",
    "tensor",
    "non_negative",
    "probability",
    "positive_int",
    "module",
    "image_batch",
]

F = TypeVar("F", bound=Callable[..., Any])


def tensor(name: str, value: object) -> torch.Tensor:
    """``value`` if it is a ``torch.Tensor``.

    Raises:
        TypeError: naming ``name``, otherwise.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def _real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)


def non_negative(name: str, value: object) -> float:
    """``value`` as a float if it is a real number ``>= 0``.

    Raises:
        TypeError: if it is not a real number. ValueError: if it is negative or NaN.
    """
    value = _real(name, value)
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def probability(name: str, value: object) -> float:
    """``value`` as a float if it is a real number in ``[0, 1]``.

    Raises:
        TypeError: if it is not a real number. ValueError: if it lies outside ``[0, 1]``.
    """
    value = _real(name, value)
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def positive_int(name: str, value: object) -> int:
    """``value`` if it is an int >= 1 (``bool`` excluded).

    Raises:
        ValueError: naming ``name``, otherwise.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def module(name: str, value: object) -> torch.nn.Module:
    """``value`` if it is an ``nn.Module``.

    Raises:
        TypeError: naming ``name``, otherwise.
    """
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{name} must be an nn.Module, got {type(value).__name__}")
    return value


def image_batch(name: str, value: object) -> torch.Tensor:
    """``value`` if it is a 4-D ``(N, C, H, W)`` tensor.

    Raises:
        TypeError: if it is not a tensor. ValueError: if it is not 4-D.
    """
    value = tensor(name, value)
    if value.ndim != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W), got {tuple(value.shape)}")
    return value


def checked(**checks: Callable[[str, Any], Any]) -> Callable[[F], F]:
    """Decorator: run ``checks[name](name, value)`` on the named arguments before each call.

    The checked (possibly converted) values are what the function receives.

    Raises:
        TypeError: at decoration time, if a name is not a parameter of the function.
    """

    def decorate(func: F) -> F:
        signature = inspect.signature(func)
        unknown = set(checks) - set(signature.parameters)
        if unknown:
            raise TypeError(f"{func.__name__} has no parameter {', '.join(sorted(unknown))}")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            for name, check in checks.items():
                bound.arguments[name] = check(name, bound.arguments[name])
            return func(*bound.args, **bound.kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
