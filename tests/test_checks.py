import pytest

from utils.checks import check_positive_int


@pytest.mark.parametrize("value", [1, 7, 10**9])
def test_positive_ints_pass_through(value):
    assert check_positive_int("n", value) == value


@pytest.mark.parametrize("value", [0, -3, 2.0, True, "4", None])
def test_anything_else_is_rejected_by_name(value):
    with pytest.raises(ValueError, match=r"^batch_size must be a positive int, got "):
        check_positive_int("batch_size", value)
