"""utils.checks: one clear message per kind of bad argument, and a decorator that applies them."""

import pytest
import torch

from utils.checks import checked, image_batch, module, non_negative, positive_int, probability, tensor


@pytest.mark.parametrize("value", [1, 7, 10**9])
def test_positive_int_accepts_positive_ints(value):
    assert positive_int("n", value) == value


@pytest.mark.parametrize("value", [0, -3, 2.0, True, "4", None])
def test_positive_int_rejects_everything_else_naming_the_argument(value):
    with pytest.raises(ValueError, match=r"^batch_size must be a positive int, got "):
        positive_int("batch_size", value)


def test_non_negative_and_probability_convert_to_float_and_reject_bad_values():
    assert non_negative("lr", 0) == 0.0 and isinstance(non_negative("lr", 3), float)
    assert probability("p", 1) == 1.0
    for check, value, error, message in [
        (non_negative, -0.1, ValueError, "lr must be >= 0"),
        (non_negative, float("nan"), ValueError, "lr must be >= 0"),
        (non_negative, True, TypeError, "lr must be a real number"),
        (probability, 1.5, ValueError, r"lr must be in \[0, 1\]"),
        (probability, "0.5", TypeError, "lr must be a real number"),
    ]:
        with pytest.raises(error, match=message):
            check("lr", value)


def test_tensor_module_and_image_batch_checks():
    x = torch.zeros(2, 3, 4, 4)
    assert tensor("x", x) is x and image_batch("images", x) is x
    layer = torch.nn.Linear(1, 1)
    assert module("model", layer) is layer
    with pytest.raises(TypeError, match=r"x must be a torch\.Tensor, got list"):
        tensor("x", [1.0])
    with pytest.raises(TypeError, match=r"model must be an nn\.Module"):
        module("model", "net")
    with pytest.raises(ValueError, match=r"images must have shape \(N, C, H, W\)"):
        image_batch("images", torch.zeros(3, 4, 4))


def test_checked_validates_named_arguments_however_they_are_passed():
    @checked(p=probability, n=positive_int)
    def f(x, p=0.5, n=1):
        return x, p, n

    assert f("a") == ("a", 0.5, 1)
    assert f("a", 1, n=2) == ("a", 1.0, 2)  # p arrives converted to float
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        f("a", p=2.0)
    with pytest.raises(ValueError, match="n must be a positive int"):
        f("a", 0.1, 0)
    assert f.__name__ == "f"


def test_checked_rejects_a_check_for_a_missing_parameter():
    with pytest.raises(TypeError, match="g has no parameter q"):

        @checked(q=probability)
        def g(p):
            return p
