import copy

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


def test_fit_matches_a_plain_training_loop_in_train_mode():
    """fit trains in train mode (even if handed a model in eval mode), zeroes the gradients before
    every step, takes partial batches as they come, and records an eval-mode loss after each epoch."""
    model = _mode_sensitive_net()
    reference = copy.deepcopy(model)
    batches = _classification_batches((6, 6, 3), seed=3)
    loss_fn = nn.functional.cross_entropy

    model.eval()  # as after an evaluation: fit must switch it back to training
    torch.manual_seed(4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    history = fit(model, batches, loss_fn, optimizer, 2, eval_batches={"train": batches})

    torch.manual_seed(4)
    ref_optimizer = torch.optim.SGD(reference.parameters(), lr=0.2, momentum=0.9)
    expected_losses = []
    for _ in range(2):
        reference.train()
        for X, y in batches:
            ref_optimizer.zero_grad()
            loss_fn(reference(X), y).backward()
            ref_optimizer.step()
        reference.eval()
        with torch.no_grad():
            X, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
            expected_losses.append(float(loss_fn(reference(X), y)))
    for (name, value), expected in zip(model.state_dict().items(), reference.state_dict().values(), strict=True):
        torch.testing.assert_close(value, expected, msg=f"{name} differs from the plain training loop")
    assert history["train_loss"] == pytest.approx(expected_losses, rel=1e-6)


@pytest.mark.parametrize(("epochs", "printed"), [(4, ["2", "4"]), (5, ["2", "4", "5"])])
def test_fit_prints_every_kth_epoch_and_the_last(capsys, epochs, printed):
    batches = _toy_regression()
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    fit(model, batches, nn.functional.mse_loss, opt, epochs, eval_batches={"train": batches}, print_every=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[1] for line in lines] == printed


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


def _mode_sensitive_net(seed: int = 0) -> nn.Sequential:
    """A classifier whose outputs differ between train and eval mode: batch norm and dropout."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 3))
    with torch.no_grad():  # running statistics unlike any batch's own, so that the two modes disagree
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
    return model


def _classification_batches(sizes: tuple[int, ...], seed: int = 1) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(n, 4, generator=g), torch.randint(0, 3, (n,), generator=g)) for n in sizes]


@pytest.mark.parametrize("start_in_training", [True, False])
def test_evaluate_equals_an_eval_mode_pass_over_all_examples_and_restores_the_mode(start_in_training):
    model = _mode_sensitive_net()
    batches = _classification_batches((5, 5, 2))  # the last batch is partial
    reference = copy.deepcopy(model).eval()
    X, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    with torch.no_grad():
        logits = reference(X)
    expected_loss = float(nn.functional.cross_entropy(logits, y))
    expected_accuracy = float((logits.argmax(1) == y).float().mean())
    buffers = {k: v.clone() for k, v in model.state_dict().items()}

    model.train(start_in_training)
    torch.manual_seed(2)  # were dropout on, its masks would be these
    result = evaluate(model, batches, nn.functional.cross_entropy, accuracy=True)

    assert result["loss"] == pytest.approx(expected_loss, rel=1e-6), "not the eval-mode loss over all examples"
    assert result["accuracy"] == pytest.approx(expected_accuracy, abs=1e-12), "not the eval-mode accuracy"
    assert model.training is start_in_training, "evaluate must restore the model's mode"
    for name, value in model.state_dict().items():
        assert torch.equal(value, buffers[name]), f"evaluate changed {name}"


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
