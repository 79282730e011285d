"""Plotting helpers: every figure gets labelled axes, a title and a legend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from .training import History

__all__ = ["use_book_style", "plot_series", "plot_history"]


def use_book_style() -> None:
    """Matplotlib defaults for the book: readable sizes, a light grid, PNG-friendly DPI."""
    plt.rcParams.update(
        {
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "font.size": 11,
        }
    )


def plot_series(
    series: Mapping[str, Sequence[float]],
    *,
    x: Sequence[float] | None = None,
    ax: Axes | None = None,
    logy: bool = False,
    logx: bool = False,
    title: str = "",
    xlabel: str = "epoch",
    ylabel: str = "",
    styles: Mapping[str, str] | None = None,
) -> Axes:
    """Plot named series against a shared ``x`` (default ``1..n``) and return the axes.

    Raises:
        ValueError: if ``series`` is empty, or a series' length differs from ``x``'s.
    """
    if not series:
        raise ValueError("series is empty: nothing to plot")
    if ax is None:
        _, ax = plt.subplots()
    for name, values in series.items():
        xs = list(range(1, len(values) + 1)) if x is None else list(x)
        if len(xs) != len(values):
            raise ValueError(f"series {name!r} has {len(values)} values but x has {len(xs)}")
        style = (styles or {}).get(name, "-")
        ax.plot(xs, list(values), style, label=name)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return ax


def plot_history(
    history: History,
    keys: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    **kwargs: object,
) -> Axes:
    """Plot the given ``keys`` of a :class:`History` against epoch (``kwargs`` go to :func:`plot_series`).

    Raises:
        ValueError: if ``labels`` is given with a length other than ``len(keys)``.
        KeyError: if a key was not recorded.
    """
    if labels is not None and len(labels) != len(keys):
        raise ValueError(f"labels has {len(labels)} entries for {len(keys)} keys")
    names = list(labels) if labels is not None else list(keys)
    series = {name: history[key] for name, key in zip(names, keys, strict=True)}
    return plot_series(series, x=history["epoch"], **kwargs)  # type: ignore[arg-type]
