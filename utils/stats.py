"""Paired comparisons over repetitions: the statistics every empirical claim of the book reports.

One run of an experiment is an illustration; a claim needs repetitions. When two arms (for
example "with dropout" and "without") are run on the same draws of data and initialisation, the
right summary is the *paired* difference: its mean and standard deviation, a confidence interval
for its mean (Student's t, through :func:`scipy.stats.ttest_rel`) and an exact sign test
(:func:`scipy.stats.binomtest`), which needs no assumption about the shape of the differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

__all__ = ["PairedComparison", "paired_comparison", "mean_and_sd"]


@dataclass(frozen=True)
class PairedComparison:
    """Summary of the paired differences ``treatment - control`` over ``n`` repetitions."""

    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float
    confidence: float
    n_below: int  # pairs where treatment < control
    n_above: int  # pairs where treatment > control
    sign_test_p: float

    def describe(self, digits: int = 3, unit: str = "", *, decimals: int | None = None) -> str:
        """One line: mean ± sd, the confidence interval, and the sign test.

        Numbers are printed with ``digits`` significant digits, or with ``decimals`` digits after
        the point when that is given (better for differences near zero, whose relative precision
        is poor).
        """
        fmt = _number_format(digits, decimals)
        mean, sd, low, high = (fmt.format(v) + unit for v in (self.mean, self.sd, self.ci_low, self.ci_high))
        return (
            f"mean {mean} ± {sd} (sd) over n = {self.n}, {self.confidence:.0%} CI [{low}, {high}]; "
            f"lower in {self.n_below}, higher in {self.n_above} of {self.n} pairs "
            f"(sign test p = {self.sign_test_p:.2g})"
        )


def _number_format(digits: int, decimals: int | None) -> str:
    return f"{{:.{decimals}f}}" if decimals is not None else f"{{:.{digits}g}}"


def _as_array(name: str, values: Sequence[float] | np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def paired_comparison(
    treatment: Sequence[float] | np.ndarray | torch.Tensor,
    control: Sequence[float] | np.ndarray | torch.Tensor,
    confidence: float = 0.95,
) -> PairedComparison:
    """Summarise ``treatment[i] - control[i]`` over repetitions ``i`` (same seed in both arms).

    The interval is Student's t interval for the mean difference (``ttest_rel``); the sign test
    counts the pairs on each side of zero (ties dropped) and is two-sided.

    Raises:
        ValueError: if the arms differ in length, hold fewer than 2 pairs or non-finite values,
            or ``confidence`` is not in (0, 1).
    """
    t, c = _as_array("treatment", treatment), _as_array("control", control)
    if t.shape != c.shape:
        raise ValueError(f"treatment and control must pair up, got {t.size} and {c.size} values")
    if t.size < 2:
        raise ValueError(f"need at least 2 pairs for a spread, got {t.size}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    diff = t - c
    below, above = int((diff < 0).sum()), int((diff > 0).sum())
    if np.all(diff == diff[0]):  # no spread at all: the t interval degenerates to a point
        low = high = float(diff[0])
    else:
        interval = stats.ttest_rel(t, c).confidence_interval(confidence_level=confidence)
        low, high = float(interval.low), float(interval.high)
    sign_p = float(stats.binomtest(below, below + above, 0.5).pvalue) if below + above else 1.0
    return PairedComparison(
        n=int(t.size),
        mean=float(diff.mean()),
        sd=float(diff.std(ddof=1)),
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        n_below=below,
        n_above=above,
        sign_test_p=sign_p,
    )


def mean_and_sd(
    values: Sequence[float] | np.ndarray | torch.Tensor, digits: int = 3, *, decimals: int | None = None
) -> str:
    """``"mean ± sd"`` of ``values`` (sample sd, ``ddof=1``) with ``digits`` significant digits,
    or ``decimals`` digits after the point when that is given.

    Raises:
        ValueError: if there are fewer than 2 values or any is not finite.
    """
    array = _as_array("values", values)
    if array.size < 2:
        raise ValueError(f"need at least 2 values for a spread, got {array.size}")
    fmt = _number_format(digits, decimals)
    return f"{fmt.format(float(array.mean()))} ± {fmt.format(float(array.std(ddof=1)))}"
