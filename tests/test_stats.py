"""utils.stats: paired comparisons agree with scipy and reject bad input clearly."""

import numpy as np
import pytest
import torch
from scipy import stats

from utils.stats import mean_and_sd, paired_comparison


def test_paired_comparison_matches_a_one_sample_t_interval_on_the_differences():
    rng = np.random.default_rng(0)
    control = rng.normal(size=25)
    treatment = control - 0.5 + 0.3 * rng.normal(size=25)
    result = paired_comparison(treatment, control)
    diff = treatment - control
    expected = stats.t.interval(0.95, df=24, loc=diff.mean(), scale=stats.sem(diff))
    assert result.n == 25
    assert result.mean == pytest.approx(diff.mean())
    assert result.sd == pytest.approx(diff.std(ddof=1))
    assert (result.ci_low, result.ci_high) == pytest.approx(expected)
    assert result.n_below + result.n_above == 25
    assert result.sign_test_p == pytest.approx(stats.binomtest(result.n_below, 25).pvalue)


def test_sign_test_drops_ties_and_counts_each_side():
    result = paired_comparison([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 4.0, 5.0])
    assert (result.n_below, result.n_above) == (3, 0)
    assert result.sign_test_p == pytest.approx(0.25)  # 2 * 0.5**3


def test_identical_differences_give_a_point_interval():
    result = paired_comparison(torch.tensor([2.0, 3.0, 4.0]), torch.tensor([1.0, 2.0, 3.0]))
    assert (result.ci_low, result.ci_high, result.sd) == (1.0, 1.0, 0.0)


def test_describe_states_mean_sd_interval_and_sign_test():
    text = paired_comparison([0.1, 0.2, 0.15, 0.12], [0.2, 0.25, 0.3, 0.2]).describe(digits=2)
    assert text == (
        "mean -0.095 ± 0.042 (sd) over n = 4, 95% CI [-0.16, -0.028]; "
        "lower in 4, higher in 0 of 4 pairs (sign test p = 0.12)"
    )


@pytest.mark.parametrize("confidence", [0.8, 0.99])
def test_the_interval_has_the_confidence_asked_for(confidence):
    rng = np.random.default_rng(1)
    control = rng.normal(size=12)
    treatment = control + 0.2 + 0.5 * rng.normal(size=12)
    result = paired_comparison(treatment, control, confidence=confidence)
    diff = treatment - control
    expected = stats.t.interval(confidence, df=11, loc=diff.mean(), scale=stats.sem(diff))
    assert (result.ci_low, result.ci_high) == pytest.approx(expected)
    assert result.confidence == confidence and f"{confidence:.0%} CI" in result.describe()


@pytest.mark.parametrize(
    ("treatment", "control", "confidence", "message"),
    [
        ([1.0, 2.0], [1.0], 0.95, "pair up"),
        ([1.0], [2.0], 0.95, "at least 2 pairs"),
        ([1.0, float("nan")], [1.0, 2.0], 0.95, "NaN"),
        ([[1.0, 2.0]], [[1.0, 2.0]], 0.95, "one-dimensional"),
        ([1.0, 2.0], [2.0, 1.0], 1.5, "confidence"),
    ],
)
def test_paired_comparison_rejects_bad_input(treatment, control, confidence, message):
    with pytest.raises(ValueError, match=message):
        paired_comparison(treatment, control, confidence)


def test_mean_and_sd_uses_the_sample_sd():
    assert mean_and_sd([1.0, 2.0, 3.0]) == "2 ± 1"
    with pytest.raises(ValueError, match="at least 2"):
        mean_and_sd([1.0])


def test_decimals_print_a_fixed_number_of_digits_after_the_point():
    result = paired_comparison([0.103, 0.2, 0.3], [0.1, 0.21, 0.28])
    assert result.describe(decimals=2, unit=" pts") == (
        "mean 0.00 pts ± 0.02 pts (sd) over n = 3, 95% CI [-0.03 pts, 0.04 pts]; "
        "lower in 1, higher in 2 of 3 pairs (sign test p = 1)"
    )
    assert mean_and_sd([0.1234, 0.2345], decimals=1) == "0.2 ± 0.1"
