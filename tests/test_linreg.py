import pytest
import torch

from utils.linreg import half_mse, make_regression_data, squared_loss, train_concise, train_scratch


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


@pytest.mark.parametrize("lambd", [0.0, 3.0])
def test_concise_reproduces_scratch_exactly(data, lambd):
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
