import pytest
import torch

from utils.linreg import (
    RegressionDraws,
    draw_regression_data,
    half_mse,
    make_regression_data,
    squared_loss,
    train_concise,
    train_scratch,
    train_scratch_repeated,
)


@pytest.fixture(scope="module")
def data():
    return make_regression_data()


def test_data_has_the_d2l_shapes(data):
    assert data.train_features.shape == (20, 200) and data.test_features.shape == (100, 200)
    assert data.train_labels.shape == (20, 1) and data.num_inputs == 200
    assert [len(y) for _, y in data.train_loader] == [5, 5, 5, 5]


def test_data_is_deterministic_for_a_seed():
    a, b = make_regression_data(seed=3), make_regression_data(seed=3)
    torch.testing.assert_close(a.train_features, b.train_features)


@pytest.mark.parametrize("kwargs", [{"n_train": 0}, {"batch_size": -5}, {"num_inputs": 2.5}])
def test_data_rejects_bad_sizes(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        make_regression_data(**kwargs)


def test_half_mse_is_the_mean_of_squared_loss():
    y_hat, y = torch.randn(7, 1), torch.randn(7)
    torch.testing.assert_close(half_mse(y_hat, y), squared_loss(y_hat, y).mean())


@pytest.mark.parametrize("n_train", [20, 22])  # 22: batches of 5, 5, 5, 5 and a partial one of 2
@pytest.mark.parametrize("lambd", [0.0, 3.0])
def test_concise_reproduces_scratch_exactly(data, lambd, n_train):
    data = data if n_train == 20 else make_regression_data(n_train=n_train)
    assert [len(y) for _, y in data.train_loader][-1] == (5 if n_train == 20 else 2)
    w, b, h_scratch = train_scratch(data, lambd, epochs=10)
    net, h_concise = train_concise(data, lambd, epochs=10)
    torch.testing.assert_close(net.weight.detach(), w.T)
    torch.testing.assert_close(net.bias.detach(), b)
    assert h_scratch["w_norm"] == pytest.approx(h_concise["w_norm"], rel=1e-5)
    assert h_scratch["test_loss"] == pytest.approx(h_concise["test_loss"], rel=1e-4)


def test_weight_decay_shrinks_the_weights(data):
    _, _, plain = train_scratch(data, 0.0, epochs=20)
    _, _, decayed = train_scratch(data, 3.0, epochs=20)
    assert decayed["w_norm"][-1] < 0.5 * plain["w_norm"][-1]


def test_train_scratch_bad_input(data):
    with pytest.raises(ValueError, match="lambd"):
        train_scratch(data, -1.0)
    with pytest.raises(ValueError, match="epochs"):
        train_scratch(data, 1.0, epochs=0)


def test_train_concise_rejects_negative_decay(data):
    with pytest.raises(ValueError, match="weight_decay"):
        train_concise(data, -0.1, epochs=1)


@pytest.fixture(scope="module")
def draws():
    return draw_regression_data(4, n_train=10, n_test=30, num_inputs=25, seed=5)


def test_draws_stack_independent_float64_data_sets(draws):
    assert draws.train_features.shape == (4, 10, 25) and draws.train_labels.shape == (4, 10)
    assert draws.test_features.shape == (4, 30, 25) and draws.test_labels.shape == (4, 30)
    assert draws.repeats == 4 and draws.num_inputs == 25
    assert draws.train_features.dtype == torch.float64
    assert not torch.equal(draws.train_features[0], draws.train_features[1])


def test_draws_follow_the_model_and_the_seed(draws):
    noise = draws.train_labels - draws.train_features @ draws.true_w - draws.true_b
    assert noise.abs().max() < 0.06  # noise sd 0.01: 6 sd
    same_seed = draw_regression_data(4, n_train=10, n_test=30, num_inputs=25, seed=5)
    other_seed = draw_regression_data(4, n_train=10, n_test=30, num_inputs=25, seed=6)
    torch.testing.assert_close(same_seed.test_labels, draws.test_labels, rtol=0, atol=0)
    assert not torch.equal(other_seed.test_labels, draws.test_labels)


@pytest.mark.parametrize("kwargs", [{"repeats": 0}, {"n_train": -1}, {"num_inputs": 2.5}])
def test_draws_reject_bad_sizes(kwargs):
    arguments = {"repeats": 2} | kwargs
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        draw_regression_data(**arguments)


@pytest.mark.parametrize("lambd", [0.0, 3.0])
def test_repeated_full_batch_matches_train_scratch(lambd):
    """With one batch per epoch the order does not matter, so the batched trainer must follow train_scratch."""
    data = make_regression_data(batch_size=20, seed=0)
    w, b, history = train_scratch(data, lambd, epochs=30, seed=1)
    torch.manual_seed(1)
    w_init = torch.normal(0, 1, size=(200, 1)).T  # train_scratch's initialisation for seed 1, as one row
    one_draw = RegressionDraws(
        train_features=data.train_features.double()[None],
        train_labels=data.train_labels.double().T,
        test_features=data.test_features.double()[None],
        test_labels=data.test_labels.double().T,
        true_w=data.true_w.double()[:, 0],
        true_b=data.true_b,
    )
    runs = train_scratch_repeated(one_draw, lambd, w_init, epochs=30, batch_size=20)
    torch.testing.assert_close(runs.w[0], w[:, 0].double(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(runs.b, b.double(), rtol=1e-4, atol=1e-5)
    assert runs.test_loss.item() == pytest.approx(history["test_loss"][-1], rel=1e-3)
    assert runs.w_norm.item() == pytest.approx(history["w_norm"][-1], rel=1e-4)


@pytest.mark.parametrize("lambd", [0.0, 0.5])
def test_repeated_decays_the_null_space_part_exactly(draws, lambd):
    """The data never touch the part of w orthogonal to the training inputs: only the decay does."""
    w_init = torch.randn(4, 25, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    runs = train_scratch_repeated(draws, lambd, w_init, epochs=7, lr=0.01, batch_size=3)
    steps = 7 * 4  # batches of 3, 3, 3 and 1
    for r in range(4):
        null_basis = torch.linalg.svd(draws.train_features[r]).Vh[10:].T
        torch.testing.assert_close(null_basis.T @ runs.w[r], (1 - 0.01 * lambd) ** steps * (null_basis.T @ w_init[r]))


def _plain_repeated_loop(draws, lambd, w_init, *, epochs, lr, batch_size, seed):
    """train_scratch_repeated's runs one repetition at a time, gradients by autograd: (w, b) of each.

    Each epoch's order is one draw for all repetitions from the seeded generator, as documented;
    a repetition's minibatches are consecutive slices of its row of that order, the last one partial."""
    generator = torch.Generator().manual_seed(seed)
    repeats, n, _ = draws.train_features.shape
    orders = [torch.rand(repeats, n, generator=generator, dtype=torch.float64).argsort(dim=1) for _ in range(epochs)]
    ws, bs = [], []
    for r in range(repeats):
        w = w_init[r].clone().requires_grad_(True)
        b = torch.zeros((), dtype=torch.float64, requires_grad=True)
        for order in orders:
            for start in range(0, n, batch_size):
                index = order[r, start : start + batch_size]
                X, y = draws.train_features[r, index], draws.train_labels[r, index]
                loss = ((X @ w + b - y) ** 2 / 2).mean() + lambd * (w**2).sum() / 2
                grad_w, grad_b = torch.autograd.grad(loss, (w, b))
                with torch.no_grad():
                    w -= lr * grad_w
                    b -= lr * grad_b
        ws.append(w.detach())
        bs.append(b.detach())
    return torch.stack(ws), torch.stack(bs)


@pytest.mark.parametrize("lambd", [0.0, 0.5, 3.0])
def test_repeated_runs_with_the_same_seed_differ_only_by_lambda(draws, lambd):
    """Every lambda's run is the plain loop over one and the same seeded minibatch order (batches of
    3, 3, 3 and a partial 1), so runs paired by seed differ in lambda alone."""
    w_init = torch.randn(4, 25, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    kwargs = {"epochs": 3, "lr": 0.05, "batch_size": 3, "seed": 2}
    runs = train_scratch_repeated(draws, lambd, w_init, **kwargs)
    w, b = _plain_repeated_loop(draws, lambd, w_init, **kwargs)
    torch.testing.assert_close(runs.w, w, msg=f"lambda {lambd}: w differs from the plain loop")
    torch.testing.assert_close(runs.b, b, msg=f"lambda {lambd}: b differs from the plain loop")
    other_order = train_scratch_repeated(draws, lambd, w_init, **(kwargs | {"seed": 3}))
    assert not torch.equal(runs.w, other_order.w)


def test_repeated_run_losses_and_norms(draws):
    runs = train_scratch_repeated(draws, 1.0, torch.zeros(4, 25, dtype=torch.float64), epochs=2)
    residual = draws.test_features @ runs.w[..., None] + runs.b[:, None, None] - draws.test_labels[..., None]
    torch.testing.assert_close(runs.test_loss, (residual[..., 0] ** 2 / 2).mean(dim=1))
    torch.testing.assert_close(runs.w_norm, runs.w.norm(dim=1))
    assert runs.train_loss.shape == runs.test_loss.shape == runs.b.shape == (4,)


@pytest.mark.parametrize(
    ("lambd", "w_init", "kwargs", "message"),
    [
        (-1.0, torch.zeros(4, 25), {}, "lambd"),
        (1.0, torch.zeros(3, 25), {}, "w_init"),
        (1.0, torch.zeros(4, 25), {"batch_size": 0}, "batch_size"),
        (1.0, torch.zeros(4, 25), {"epochs": 1.5}, "epochs"),
    ],
)
def test_repeated_rejects_bad_input(draws, lambd, w_init, kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_scratch_repeated(draws, lambd, w_init, **kwargs)
