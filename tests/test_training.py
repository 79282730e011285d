import pytest
import torch
from torch import nn

from utils.training import History, evaluate, fit


def _toy_regression(n=64):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 3, generator=g)
    y = X @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1
    return [(X[i : i + 16], y[i : i + 16]) for i in range(0, n, 16)]


def test_history_records_and_reads_back():
    h = History()
    h.append(epoch=1, loss=0.5)
    h.append(epoch=2, loss=0.25)
    assert h["loss"] == [0.5, 0.25] and len(h) == 2 and h.keys() == ["epoch", "loss"]


def test_history_unknown_key_lists_known_ones():
    h = History()
    h.append(epoch=1, loss=1.0)
    with pytest.raises(KeyError, match="known keys"):
        h["accuracy"]


def test_history_rejects_non_numbers():
    with pytest.raises(TypeError, match="loss"):
        History().append(loss="high")


def test_fit_lowers_the_loss_and_records_every_epoch():
    torch.manual_seed(0)
    batches = _toy_regression()
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, batches, nn.functional.mse_loss, opt, 5, eval_batches={"train": batches})
    assert history["epoch"] == [1, 2, 3, 4, 5]
    assert history["train_loss"][-1] < history["train_loss"][0] / 10


def test_fit_prints_requested_lines(capsys):
    batches = _toy_regression()
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    fit(model, batches, nn.functional.mse_loss, opt, 4, eval_batches={"train": batches}, print_every=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[1] for line in lines] == ["2", "4"]


def test_fit_extra_metrics_are_recorded():
    batches = _toy_regression()
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, batches, nn.functional.mse_loss, opt, 2, extra_metrics=lambda m: {"w": float(m.weight.norm())})
    assert len(history["w"]) == 2


@pytest.mark.parametrize("bad", [0, -3, 2.0, True])
def test_fit_rejects_bad_epochs(bad):
    model = nn.Linear(3, 1)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, [], nn.functional.mse_loss, torch.optim.SGD(model.parameters(), lr=0.1), bad)


def test_evaluate_accuracy_and_restores_mode():
    model = nn.Sequential(nn.Dropout(0.5), nn.Linear(2, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.eye(2))
        model[1].bias.zero_()
    X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    y = torch.tensor([0, 1, 1])
    model.train()
    result = evaluate(model, [(X, y)], nn.functional.cross_entropy, accuracy=True)
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert model.training  # mode restored


def test_evaluate_weights_batches_by_size():
    model = nn.Identity()
    batches = [(torch.zeros(1, 1), torch.ones(1, 1)), (torch.zeros(3, 1), torch.zeros(3, 1))]
    assert evaluate(model, batches, nn.functional.mse_loss)["loss"] == pytest.approx(0.25)


def test_evaluate_empty_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        evaluate(nn.Identity(), [], nn.functional.mse_loss)


def test_tta_level_two_weights_six_views():
    from utils.training import tta_outputs

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 5 * 5, 4)).double()
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    views = [x, padded[..., :5, :5], padded[..., 2:, 2:]]
    mean = [(model(v) + model(v.flip(-1))) / 2 for v in views]
    torch.testing.assert_close(tta_outputs(model, x, 2), mean[0] / 2 + mean[1] / 4 + mean[2] / 4)
    torch.testing.assert_close(tta_outputs(model, x, 1), mean[0])
    torch.testing.assert_close(tta_outputs(model, x, 0), model(x))


def test_evaluate_rejects_an_unknown_tta_level():
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="tta"):
        evaluate(
            model, [(torch.zeros(1, 2), torch.zeros(1, dtype=torch.long))], torch.nn.functional.cross_entropy, tta=3
        )
