import math

import pytest
import torch
from torch import nn

from utils.regularization import (
    ScratchDropout,
    decay_parameter_groups,
    dropout,
    l1_penalty,
    l2_penalty,
    lasso_ista,
    parameter_norms,
    ridge_closed_form,
    soft_threshold,
    weight_decay_step,
)


def test_l2_penalty_value_and_gradient():
    w = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    penalty = l2_penalty(w)
    assert penalty.item() == pytest.approx(7.0)
    penalty.backward()
    torch.testing.assert_close(w.grad, w.detach())


def test_l1_penalty_value_and_subgradient():
    w = torch.tensor([1.0, -2.0, 0.0], requires_grad=True)
    penalty = l1_penalty(w)
    assert penalty.item() == pytest.approx(3.0)
    penalty.backward()
    torch.testing.assert_close(w.grad, torch.tensor([1.0, -1.0, 0.0]))


@pytest.mark.parametrize("penalty", [l1_penalty, l2_penalty])
def test_penalties_reject_non_tensors(penalty):
    with pytest.raises(TypeError, match=r"w must be a torch\.Tensor"):
        penalty([1.0, 2.0])


def test_weight_decay_step_matches_torch_sgd():
    torch.manual_seed(0)
    w = torch.randn(5, requires_grad=True)
    grad = torch.randn(5)
    expected = weight_decay_step(w.detach(), grad, lr=0.1, weight_decay=0.5)
    opt = torch.optim.SGD([w], lr=0.1, weight_decay=0.5)
    w.grad = grad.clone()
    opt.step()
    torch.testing.assert_close(w.detach(), expected)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lr": -0.1, "weight_decay": 0.1}, ValueError, "lr must be >= 0"),
        ({"lr": 0.1, "weight_decay": -1.0}, ValueError, "weight_decay must be >= 0"),
        ({"lr": 0.5, "weight_decay": 2.0}, ValueError, "lr \\* weight_decay must be < 1"),
        ({"lr": "0.1", "weight_decay": 0.1}, TypeError, "lr must be a real number"),
    ],
)
def test_weight_decay_step_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        weight_decay_step(torch.ones(2), torch.ones(2), **kwargs)


def test_weight_decay_step_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        weight_decay_step(torch.ones(2), torch.ones(3), lr=0.1, weight_decay=0.1)


def test_decay_groups_exclude_biases_and_norm_parameters():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2), nn.LayerNorm(2))
    decay, no_decay = decay_parameter_groups(model, 5e-4)
    assert decay["weight_decay"] == 5e-4 and no_decay["weight_decay"] == 0.0
    assert {id(p) for p in decay["params"]} == {id(model[0].weight), id(model[3].weight)}
    expected_no_decay = [model[0].bias, model[1].weight, model[1].bias, model[3].bias, model[4].weight, model[4].bias]
    assert {id(p) for p in no_decay["params"]} == {id(p) for p in expected_no_decay}


def test_decay_groups_cover_every_trainable_parameter_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)  # the same layer twice
    model.append(nn.Linear(3, 1))
    model[3].bias.requires_grad_(False)
    groups = decay_parameter_groups(model, 0.1)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == 3
    torch.optim.SGD(groups, lr=0.1)  # accepted by an optimizer


@pytest.mark.parametrize(
    ("model", "wd", "error"), [("not a model", 0.1, TypeError), (nn.Linear(1, 1), -0.1, ValueError)]
)
def test_decay_groups_bad_input(model, wd, error):
    with pytest.raises(error):
        decay_parameter_groups(model, wd)


def test_ridge_closed_form_matches_normal_equations():
    torch.manual_seed(0)
    X, y = torch.randn(30, 5, dtype=torch.float64), torch.randn(30, dtype=torch.float64)
    lam = 0.3
    expected = torch.linalg.solve(X.T @ X / 30 + lam * torch.eye(5, dtype=torch.float64), X.T @ y / 30)
    torch.testing.assert_close(ridge_closed_form(X, y, lam), expected)
    Y = torch.stack([y, 2 * y], dim=1)
    torch.testing.assert_close(ridge_closed_form(X, Y, lam)[:, 1], 2 * expected)


def test_ridge_with_zero_lambda_is_least_squares():
    torch.manual_seed(1)
    X, y = torch.randn(20, 4, dtype=torch.float64), torch.randn(20, dtype=torch.float64)
    torch.testing.assert_close(ridge_closed_form(X, y, 0.0), torch.linalg.lstsq(X, y).solution)


@pytest.mark.parametrize(
    ("X", "y", "lam", "error"),
    [
        (torch.ones(3), torch.ones(3), 0.1, ValueError),
        (torch.ones(3, 2), torch.ones(4), 0.1, ValueError),
        (torch.ones(3, 2), torch.ones(3), -1.0, ValueError),
        ([[1.0]], torch.ones(1), 0.1, TypeError),
    ],
)
def test_ridge_bad_input(X, y, lam, error):
    with pytest.raises(error):
        ridge_closed_form(X, y, lam)


def test_dropout_statistics_with_fixed_seed():
    g = torch.Generator().manual_seed(0)
    x = torch.ones(100_000)
    out = dropout(x, 0.3, generator=g)
    kept = (out != 0).float().mean().item()
    # Binomial keep-rate: within 5 standard deviations of 0.7.
    assert abs(kept - 0.7) < 5 * math.sqrt(0.7 * 0.3 / x.numel())
    assert out.mean().item() == pytest.approx(1.0, abs=0.02)
    values = out.unique()
    assert len(values) == 2 and values[0] == 0
    assert values[1].item() == pytest.approx(1 / 0.7)


def test_dropout_modes_and_extremes():
    x = torch.randn(4, 5)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x
    torch.testing.assert_close(dropout(x, 1.0), torch.zeros_like(x))


@pytest.mark.parametrize(("p", "error"), [(-0.1, ValueError), (1.5, ValueError), ("0.5", TypeError), (None, TypeError)])
def test_dropout_bad_p(p, error):
    with pytest.raises(error, match="p must"):
        dropout(torch.ones(2), p)


def test_dropout_rejects_non_tensor():
    with pytest.raises(TypeError, match=r"x must be a torch\.Tensor"):
        dropout([1.0], 0.5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_dropout_on_cuda_keeps_device():
    x = torch.ones(1000, device="cuda")
    assert dropout(x, 0.5).device.type == "cuda"


def test_parameter_norms():
    layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 4.0]]))
        layer.bias.zero_()
    assert parameter_norms(layer.named_parameters()) == {"weight": 5.0, "bias": 0.0}


def test_soft_threshold():
    x = torch.tensor([-3.0, -0.5, 0.0, 0.2, 2.0])
    torch.testing.assert_close(soft_threshold(x, 1.0), torch.tensor([-2.0, 0.0, 0.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="threshold"):
        soft_threshold(x, -1.0)


def test_lasso_ista_satisfies_the_optimality_conditions():
    torch.manual_seed(0)
    X = torch.randn(40, 8, dtype=torch.float64)
    true_w = torch.tensor([2.0, 0, 0, -1.5, 0, 0, 0, 0.5], dtype=torch.float64)
    y = X @ true_w + 0.1 * torch.randn(40, dtype=torch.float64)
    lam = 0.2
    w = lasso_ista(X, y, lam, steps=20_000)
    grad = X.T @ (X @ w - y) / 40
    active = w != 0
    # KKT: grad_i = -lam * sign(w_i) on the support, |grad_i| <= lam off it.
    torch.testing.assert_close(grad[active], -lam * torch.sign(w[active]), atol=1e-8, rtol=0)
    assert (grad[~active].abs() <= lam + 1e-8).all()
    assert (~active).sum() >= 3  # exact zeros


def test_lasso_ista_with_zero_lambda_is_least_squares():
    torch.manual_seed(1)
    X, y = torch.randn(30, 3, dtype=torch.float64), torch.randn(30, dtype=torch.float64)
    torch.testing.assert_close(lasso_ista(X, y, 0.0, steps=5000), torch.linalg.lstsq(X, y).solution)


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"lam": -1.0}, "lam"), ({"lam": 0.1, "steps": 0}, "steps")]
)
def test_lasso_ista_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lasso_ista(torch.ones(3, 2), torch.ones(3), **kwargs)
    with pytest.raises(ValueError, match="X must be"):
        lasso_ista(torch.ones(3, 2), torch.ones(4), 0.1)


def test_scratch_dropout_layer_follows_the_module_mode():
    layer = ScratchDropout(0.5)
    x = torch.ones(1000)
    torch.manual_seed(0)
    assert (layer(x) == 0).any()
    layer.eval()
    assert layer(x) is x
    assert "p=0.5" in repr(layer)


def test_scratch_dropout_matches_nn_dropout_statistics():
    torch.manual_seed(0)
    ours = ScratchDropout(0.2)(torch.ones(200_000))
    theirs = nn.Dropout(0.2)(torch.ones(200_000))
    for out in (ours, theirs):
        assert abs((out != 0).float().mean().item() - 0.8) < 5 * math.sqrt(0.8 * 0.2 / 200_000)
        assert out.max().item() == pytest.approx(1.25)


@pytest.mark.parametrize("p", [-0.5, 1.01])
def test_scratch_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError, match="p must be in"):
        ScratchDropout(p)
