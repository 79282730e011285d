import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from utils.regularization import ScratchDropout, dropout
from utils.wd_experiments import (
    StackedMLP,
    layer_grad_norms,
    line_regression_data,
    sin_regression_data,
    stacked_mse,
    time_sgd_step,
    train_stacked,
)

SIZES = [3, 8, 6, 2]


def test_stacked_mlp_has_one_float64_weight_per_layer_and_copy():
    model = StackedMLP(SIZES, seeds=[0, 1, 2])
    assert model.copies == 3
    assert [tuple(w.shape) for w in model.weights] == [(3, 3, 8), (3, 8, 6), (3, 6, 2)]
    assert [tuple(b.shape) for b in model.biases] == [(3, 1, 8), (3, 1, 6), (3, 1, 2)]
    assert all(p.dtype == torch.float64 for p in model.parameters())


def test_initialisation_follows_nn_linear_bounds_and_differs_between_seeds():
    model = StackedMLP(SIZES, seeds=[0, 1])
    for weight, bias, fan_in in zip(model.weights, model.biases, SIZES[:-1], strict=True):
        bound = 1 / math.sqrt(fan_in)
        assert weight.abs().max() <= bound and bias.abs().max() <= bound
        assert not torch.equal(weight[0], weight[1])


def test_a_copy_depends_only_on_its_own_seed():
    alone = StackedMLP(SIZES, seeds=[7])
    stacked = StackedMLP(SIZES, seeds=[3, 7])
    for a, s in zip(alone.parameters(), stacked.parameters(), strict=True):
        assert torch.equal(a[0], s[1])


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_each_copy_computes_what_an_ordinary_sequential_computes(activation):
    model = StackedMLP(SIZES, seeds=[0, 1, 2], activation=activation)
    x = torch.randn(5, 3, dtype=torch.float64)
    out = model(x)
    assert out.shape == (3, 5, 2)
    for r in range(3):
        torch.testing.assert_close(out[r], model.copy(r)(x))
    per_copy_inputs = torch.randn(3, 5, 3, dtype=torch.float64)
    torch.testing.assert_close(model(per_copy_inputs)[1], model.copy(1)(per_copy_inputs[1]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sizes": [3], "seeds": [0]}, "sizes"),
        ({"sizes": [3, 0, 1], "seeds": [0]}, "sizes"),
        ({"sizes": [3, 1], "seeds": []}, "seeds"),
        ({"sizes": [3, 1], "seeds": [0], "activation": "gelu"}, "activation"),
    ],
)
def test_stacked_mlp_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StackedMLP(**kwargs)


def test_forward_rejects_inputs_of_the_wrong_shape():
    model = StackedMLP(SIZES, seeds=[0, 1])
    with pytest.raises(ValueError, match="shape"):
        model(torch.randn(3, 5, 3, dtype=torch.float64))  # 3 copies of inputs for 2 copies
    with pytest.raises(ValueError, match="shape"):
        model(torch.randn(5, 4, dtype=torch.float64))  # 4 features for 3 inputs
    with pytest.raises(IndexError):
        model.copy(2)


@pytest.mark.parametrize(("weight_decay", "momentum"), [(0.0, 0.0), (0.1, 0.0), (0.05, 0.9)])
def test_stacked_training_follows_each_copys_own_trajectory(weight_decay, momentum):
    """Training R copies at once gives what torch.optim.SGD gives each copy trained alone."""
    model = StackedMLP(SIZES, seeds=[4, 5], activation="tanh")
    singles = [model.copy(r) for r in range(2)]
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    y = torch.randn(2, 6, 2, dtype=torch.float64)
    train_stacked(model, x, y, steps=15, lr=0.1, weight_decay=weight_decay, momentum=momentum)
    for r, single in enumerate(singles):
        optimizer = torch.optim.SGD(single.parameters(), lr=0.1, momentum=momentum, weight_decay=weight_decay)
        for _ in range(15):
            optimizer.zero_grad()
            F.mse_loss(single(x[r]), y[r]).backward()
            optimizer.step()
        torch.testing.assert_close(model.copy(r)(x[r]), single(x[r]))
        torch.testing.assert_close(model.weights[0][r], single[0].weight.detach().T)


def test_weight_decay_shrinks_the_weights_and_raises_the_training_loss():
    x = torch.randn(12, 3, dtype=torch.float64)
    y = torch.randn(12, 2, dtype=torch.float64)
    runs, norms = {}, {}
    for wd in (0.0, 0.5):
        model = StackedMLP(SIZES, seeds=[0, 1, 2])
        runs[wd] = train_stacked(model, x, y, steps=200, lr=0.1, weight_decay=wd)
        norms[wd] = torch.cat([w.detach().flatten(1) for w in model.weights], dim=1).norm(dim=1)
    assert (norms[0.5] < norms[0.0]).all()
    assert (runs[0.5].train_loss > runs[0.0].train_loss).all()


def test_train_stacked_records_curves_and_test_losses():
    model = StackedMLP(SIZES, seeds=[0, 1])
    x, y = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    x_test, y_test = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    run = train_stacked(model, x, y, steps=10, lr=0.05, x_test=x_test, y_test=y_test, record_every=5)
    assert run.steps == [5, 10]
    assert run.train_curve.shape == (2, 2) and run.test_curve.shape == (2, 2)
    torch.testing.assert_close(run.train_curve[-1], run.train_loss)
    with torch.no_grad():
        torch.testing.assert_close(run.test_loss, stacked_mse(model, x_test, y_test))
    plain = train_stacked(model, x, y, steps=1, lr=0.05)
    assert plain.test_loss is None and plain.test_curve is None and plain.steps == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": 0, "lr": 0.1}, "steps"),
        ({"steps": 1, "lr": 0.0}, "lr"),
        ({"steps": 1, "lr": 0.1, "weight_decay": -1.0}, "weight_decay"),
        ({"steps": 1, "lr": 0.1, "momentum": -0.5}, "momentum"),
        ({"steps": 1, "lr": 0.1, "record_every": -1}, "record_every"),
        ({"steps": 1, "lr": 0.1, "x_test": torch.zeros(2, 3, dtype=torch.float64)}, "x_test"),
    ],
)
def test_train_stacked_rejects_bad_arguments(kwargs, match):
    model = StackedMLP(SIZES, seeds=[0])
    x, y = torch.zeros(4, 3, dtype=torch.float64), torch.zeros(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=match):
        train_stacked(model, x, y, **kwargs)


def test_without_dropout_the_stack_has_no_dropout_submodule():
    model = StackedMLP(SIZES, seeds=[0])
    assert model.dropout == 0.0 and not hasattr(model, "drop")
    assert not any(isinstance(m, ScratchDropout) for m in model.copy(0))


def test_dropout_is_the_identity_in_eval_mode_and_draws_masks_in_training_mode():
    model = StackedMLP(SIZES, seeds=[0, 1, 2], dropout=0.5)
    x = torch.randn(5, 3, dtype=torch.float64)
    assert not torch.equal(model.train()(x), model(x))  # a new mask on every call
    eval_out = model.eval()(x)
    for r in range(3):
        single = model.copy(r).eval()
        assert sum(isinstance(m, ScratchDropout) for m in single) == 2  # after each hidden activation
        torch.testing.assert_close(eval_out[r], single(x))


def test_dropout_masks_match_scratch_dropout_after_each_hidden_activation():
    """Training mode draws, layer by layer, the masks that ScratchDropout on the whole stack draws."""
    model = StackedMLP(SIZES, seeds=[3, 4], dropout=0.3).train()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    torch.manual_seed(0)
    out = model(x)
    torch.manual_seed(0)
    h = x
    for index, (weight, bias) in enumerate(zip(model.weights, model.biases, strict=True)):
        h = torch.baddbmm(bias, h, weight)
        if index < len(model.weights) - 1:
            h = dropout(torch.relu(h), 0.3)
    torch.testing.assert_close(out, h)
    with torch.no_grad():  # p = 1 zeroes every hidden unit: only the last bias is left
        ones = StackedMLP(SIZES, seeds=[3], dropout=1.0).train()
        torch.testing.assert_close(ones(x[:1]), ones.biases[-1].expand(1, 5, 2))


def test_train_stacked_with_dropout_trains_in_training_mode_and_reports_eval_losses():
    model = StackedMLP(SIZES, seeds=[0, 1], dropout=0.5).eval()
    x, y = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    before = [p.detach().clone() for p in model.parameters()]
    run = train_stacked(model, x, y, steps=5, lr=0.05, record_every=5)
    assert model.training  # trained with dropout on, left in training mode
    assert not torch.equal(before[0], model.weights[0].detach())
    with torch.no_grad():
        expected = stacked_mse(model.eval(), x, y)
    torch.testing.assert_close(run.train_loss, expected)
    torch.testing.assert_close(run.train_curve[-1], expected)


def test_stacked_mlp_rejects_a_dropout_outside_0_1():
    with pytest.raises(ValueError, match="dropout"):
        StackedMLP(SIZES, seeds=[0], dropout=1.5)


def test_layer_grad_norms_are_the_norms_of_each_copys_own_gradient():
    model = StackedMLP(SIZES, seeds=[0, 1], activation="sigmoid")
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    norms = layer_grad_norms(model, x, y)
    assert norms.shape == (3, 2)
    assert all(p.grad is None for p in model.parameters())  # .grad is left alone
    single = model.copy(1)
    F.mse_loss(single(x), y).backward()
    expected = torch.stack([layer.weight.grad.norm() for layer in single if isinstance(layer, nn.Linear)])
    torch.testing.assert_close(norms[:, 1], expected)


def test_sin_regression_data_is_seeded_per_copy():
    data = sin_regression_data([3, 4], n_train=50, n_test=20, dim=5, noise=0.1)
    assert data.x_train.shape == (2, 50, 5) and data.y_test.shape == (2, 20, 5)
    assert data.x_train.dtype == torch.float64
    alone = sin_regression_data([4], n_train=50, n_test=20, dim=5, noise=0.1)
    assert torch.equal(alone.x_train[0], data.x_train[1]) and torch.equal(alone.y_test[0], data.y_test[1])
    noiseless = sin_regression_data([3], n_train=50, n_test=20, dim=5, noise=0.0)
    torch.testing.assert_close(noiseless.y_train, torch.sin(noiseless.x_train))
    residual = data.y_train - torch.sin(data.x_train)
    assert 0.08 < residual.std().item() < 0.12


@pytest.mark.parametrize(("kwargs", "match"), [({"n_train": 0}, "n_train"), ({"noise": -0.1}, "noise")])
def test_sin_regression_data_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sin_regression_data([0], **kwargs)
    with pytest.raises(ValueError, match="seeds"):
        sin_regression_data([])


def test_line_regression_data_shares_x_and_draws_noise_per_seed():
    x, y = line_regression_data([1, 2], n_train=10, slope=1.5, noise=0.5)
    assert x.shape == (10, 1) and y.shape == (2, 10, 1)
    torch.testing.assert_close(x[:, 0], torch.linspace(-1, 1, 10, dtype=torch.float64))
    _, alone = line_regression_data([2], n_train=10)
    assert torch.equal(alone[0], y[1])
    _, exact = line_regression_data([1], noise=0.0)
    torch.testing.assert_close(exact[0], 1.5 * x)
    with pytest.raises(ValueError, match="seeds"):
        line_regression_data([])


@pytest.mark.parametrize("fused", [None, True])
def test_time_sgd_step_times_each_part_and_only_the_decay_optimizer_decays(fused, monkeypatch):
    """A fake clock that moves only inside the timed work (forward and backward 1 s, a plain step 10 s,
    a step with weight decay 100 s), and in float64 each step's update checked against its formula."""
    import types

    import utils.wd_experiments

    now = [0.0]
    monkeypatch.setattr(utils.wd_experiments, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    steps = []
    sgd_step = torch.optim.SGD.step

    def recorded_step(self, *args, **kwargs):
        params = [p for group in self.param_groups for p in group["params"]]
        before, grads = [p.detach().clone() for p in params], [p.grad.clone() for p in params]
        result = sgd_step(self, *args, **kwargs)
        decay = self.param_groups[0]["weight_decay"]
        steps.append(decay)
        now[0] += 100 if decay else 10
        for p, w, g in zip(params, before, grads, strict=True):  # lr 1e-8, no momentum
            torch.testing.assert_close(p.detach(), w - 1e-8 * (g + decay * w), rtol=0, atol=1e-15)
        return result

    def loss_fn(out, y):
        now[0] += 1
        return F.cross_entropy(out, y)

    monkeypatch.setattr(torch.optim.SGD, "step", recorded_step)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 3)).double()
    before = [p.detach().clone() for p in model.parameters()]
    x, y = torch.randn(16, 20, dtype=torch.float64), torch.randint(0, 3, (16,))
    times = time_sgd_step(model, x, y, loss_fn, weight_decay=0.5, momentum=0.0, repeats=5, warmup=1, fused=fused)
    assert steps == [0, 0.5, 0.5, 0, 0, 0.5, 0.5, 0, 0, 0.5, 0.5, 0]  # both every repetition, in alternating order
    assert (times.forward_backward, times.step_plain, times.step_decay, times.repeats) == (1, 10, 100, 5)
    assert times.decay_overhead == 90
    for b, p in zip(before, model.parameters(), strict=True):
        torch.testing.assert_close(p.detach(), b, rtol=0, atol=1e-6)


def test_time_sgd_step_rejects_bad_arguments():
    model = nn.Linear(2, 1)
    x, y = torch.randn(4, 2), torch.randn(4, 1)
    with pytest.raises(ValueError, match="weight_decay"):
        time_sgd_step(model, x, y, F.mse_loss, weight_decay=0.0)
    with pytest.raises(ValueError, match="repeats"):
        time_sgd_step(model, x, y, F.mse_loss, weight_decay=0.1, repeats=0)
    with pytest.raises(ValueError, match="warmup"):
        time_sgd_step(model, x, y, F.mse_loss, weight_decay=0.1, warmup=-1)
