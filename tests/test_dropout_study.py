"""utils.dropout_study: the regression MLP and the CIFAR-10 MLP runs of chapter 4."""

import math

import pytest
import torch
from torch import nn

from utils.cifar10 import CIFAR10
from utils.dropout_study import (
    CIFAR_MLP_PRESETS,
    CifarMLPConfig,
    MLPStack,
    cifar_mlp,
    cifar_mlp_run,
    regression_mlp,
    train_stack,
)
from utils.regularization import ScratchDropout
from utils.reproducibility import set_seed

X = torch.linspace(-1, 1, 6, dtype=torch.float64).unsqueeze(1)


def _models(n, p=0.0, hidden=8):
    models = []
    for seed in range(n):
        set_seed(seed)
        models.append(regression_mlp(hidden=hidden, p=p))
    return models


@pytest.mark.parametrize("p", [0.0, 0.2])
def test_regression_mlp_has_the_experiment_shape(p):
    model = regression_mlp(p=p)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(1, 200), (200, 200), (200, 200), (200, 1)]
    assert [m.p for m in model if isinstance(m, ScratchDropout)] == [p] * 3
    assert all(p.dtype == torch.float64 for p in model.parameters())


def test_regression_mlp_draws_each_layer_from_the_default_linear_bounds():
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for every weight and bias, as nn.Linear's default."""
    torch.manual_seed(0)
    for layer in (m for m in regression_mlp() if isinstance(m, nn.Linear)):
        bound = 1 / math.sqrt(layer.in_features)
        for name, values in (("weight", layer.weight), ("bias", layer.bias)):
            assert values.abs().max() <= bound, f"{layer}: {name} beyond 1/sqrt(fan_in)"
        assert layer.weight.abs().max() > 0.9 * bound, f"{layer}: weights far inside 1/sqrt(fan_in)"


def test_stack_forward_equals_each_model_in_eval_mode():
    models = _models(3, p=0.5)
    stack = MLPStack(models).eval()
    out = stack(X.expand(3, -1, -1))
    for r, model in enumerate(models):
        torch.testing.assert_close(out[r], model.eval()(X))


def test_stack_draws_dropout_masks_only_in_training_mode():
    stack = MLPStack(_models(2, p=0.5))
    x = X.expand(2, -1, -1)
    assert not torch.equal(stack.train()(x), stack(x))
    torch.testing.assert_close(stack.eval()(x), stack(x))


def test_train_stack_matches_training_each_copy_alone():
    y = 1.5 * X + 0.1 * torch.randn(3, 6, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    stack = MLPStack(_models(3))
    history = train_stack(stack, X, y, iterations=50, lr=0.05, momentum=0.9, record_every=10)
    assert history.iterations == [10, 20, 30, 40, 50]
    assert history.weight_norms.shape == history.grad_norms.shape == (5, 4, 3)
    for r, model in enumerate(_models(3)):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        linears = [m for m in model if isinstance(m, nn.Linear)]
        weight_norms, grad_norms = [], []
        for it in range(1, 51):
            optimizer.zero_grad()
            nn.functional.mse_loss(model(X), y[r]).backward()
            if it % 10 == 0:  # what iteration `it` recorded: the weights it started from, its gradient
                weight_norms.append([float(layer.weight.detach().norm()) for layer in linears])
                grad_norms.append([float(layer.weight.grad.norm()) for layer in linears])
            optimizer.step()
        for weight, bias, layer in zip(stack.weights, stack.biases, linears, strict=True):
            torch.testing.assert_close(weight[r].T, layer.weight.detach())
            torch.testing.assert_close(bias[r, 0], layer.bias.detach())
        expected = torch.tensor(weight_norms, dtype=torch.float64), torch.tensor(grad_norms, dtype=torch.float64)
        torch.testing.assert_close(history.weight_norms[:, :, r], expected[0], msg=f"copy {r}: weight norms")
        torch.testing.assert_close(history.grad_norms[:, :, r], expected[1], msg=f"copy {r}: gradient norms")


def test_train_stack_records_nothing_by_default():
    history = train_stack(MLPStack(_models(2)), X, torch.zeros(2, 6, 1, dtype=torch.float64), iterations=2, lr=0.01)
    assert history.iterations == [] and history.weight_norms.shape == (0, 4, 2)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: MLPStack([]), "empty"),
        (lambda: MLPStack([nn.Sequential(nn.Linear(1, 2)), nn.Sequential(nn.ReLU())]), "differs"),
        (lambda: MLPStack([nn.Sequential(nn.Linear(1, 2), nn.Tanh())]), "unsupported layer 1: Tanh"),
    ],
)
def test_stack_rejects_what_it_cannot_stack(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_stack_and_trainer_reject_bad_shapes():
    stack = MLPStack(_models(2))
    with pytest.raises(ValueError, match=r"x must have shape \(2, N, features\)"):
        stack(X)
    with pytest.raises(ValueError, match="y must have shape"):
        train_stack(stack, X, torch.zeros(3, 6, 1, dtype=torch.float64), iterations=1, lr=0.1)
    with pytest.raises(ValueError, match="iterations"):
        train_stack(stack, X, torch.zeros(2, 6, 1, dtype=torch.float64), iterations=0, lr=0.1)


def _fake_cifar(n_train=100, n_test=40):
    g = torch.Generator().manual_seed(0)

    def split(n):
        labels = torch.arange(n) % 10
        images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
        images[:, :, :10] = 0
        images[torch.arange(n), :, labels] = 255  # a bright row tells the class
        return images, labels

    return CIFAR10(*split(n_train), *split(n_test), source="generated")


def test_cifar_mlp_run_learns_a_learnable_signal_and_reports_clean_accuracies():
    config = CifarMLPConfig(
        n_train=60, n_test=40, hidden=32, epochs=10, batch_size=20, lr=0.05, seeds=1, val_per_class=2
    )
    result = cifar_mlp_run(_fake_cifar(), 0.2, seed=0, config=config)
    assert set(result) == {"train_accuracy", "val_accuracy", "test_accuracy", "gap", "seconds"}
    assert result["test_accuracy"] > 0.8 and result["val_accuracy"] > 0.8  # chance is 0.1
    assert result["gap"] == pytest.approx(result["train_accuracy"] - result["test_accuracy"])


def test_clean_accuracy_is_an_eval_mode_pass_over_every_image():
    """With dropout 0.9 on, many predictions would change; 50 images in batches of 7 end with a partial batch of 1."""
    from utils.dropout_study import _accuracy

    torch.manual_seed(0)
    model = cifar_mlp(32, 0.9)
    images = torch.randn(50, 3, 32, 32)
    with torch.no_grad():
        labels = model.eval()(images).argmax(1)  # the eval-mode predictions: a clean pass scores 1
    model.train()
    torch.manual_seed(1)
    assert _accuracy(model, images, labels, batch_size=7) == 1.0
    assert not model.training


def test_cifar_mlp_run_normalises_every_split_with_the_training_subsets_channel_statistics(monkeypatch):
    import utils.dropout_study

    seen = []
    monkeypatch.setattr(utils.dropout_study, "_accuracy", lambda model, images, labels: seen.append(images) or 0.5)
    config = CifarMLPConfig(n_train=60, n_test=40, hidden=8, epochs=1, batch_size=20, lr=0.05, seeds=1, val_per_class=2)
    data = _fake_cifar()
    cifar_mlp_run(data, 0.0, seed=4, config=config)
    train_subset = data.validation_split(2, seed=0).subset(60, None, seed=4)
    test_subset = data.subset(None, 40, seed=4)
    train = train_subset.train_images.double() / 255
    mean = torch.tensor([train[:, c].mean() for c in range(3)]).view(1, 3, 1, 1)
    std = torch.tensor([train[:, c].std() for c in range(3)]).view(1, 3, 1, 1)  # sample sd of each channel
    splits = (train_subset.train_images, test_subset.test_images, train_subset.test_images)  # train, test, val
    assert len(seen) == len(splits)
    for images, split in zip(seen, splits, strict=True):
        torch.testing.assert_close(images.double(), (split.double() / 255 - mean) / std, atol=1e-5, rtol=1e-5)


def test_cifar_mlp_run_follows_a_cosine_schedule_over_every_step_with_momentum(monkeypatch):
    """The learning rate of each of the 2 x 3 steps, against lr (1 + cos(pi t / T)) / 2 with T = 6."""
    rates = []
    sgd_step = torch.optim.SGD.step

    def recorded_step(self, *args, **kwargs):
        rates.append((self.param_groups[0]["lr"], self.param_groups[0]["momentum"]))
        return sgd_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", recorded_step)
    config = CifarMLPConfig(n_train=60, n_test=40, hidden=8, epochs=2, batch_size=20, lr=0.05, seeds=1, val_per_class=2)
    cifar_mlp_run(_fake_cifar(), 0.0, seed=0, config=config)
    assert [momentum for _, momentum in rates] == [0.9] * 6
    expected = [0.05 * (1 + math.cos(math.pi * t / 6)) / 2 for t in range(6)]
    assert [lr for lr, _ in rates] == pytest.approx(expected, rel=1e-9)


def test_cifar_mlp_is_flatten_then_linear_relu_dropout_twice_then_linear():
    torch.manual_seed(0)
    model = cifar_mlp(16, 0.3)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(3072, 16), (16, 16), (16, 10)]
    assert [m.p for m in model if isinstance(m, nn.Dropout)] == [0.3, 0.3]
    x = torch.randn(4, 3, 32, 32)
    hidden = torch.relu(linears[1](torch.relu(linears[0](x.flatten(1)))))
    torch.testing.assert_close(model.eval()(x), linears[2](hidden))


def test_cifar_mlp_run_is_paired_by_seed():
    config = CifarMLPConfig(
        n_train=60, n_test=40, hidden=16, epochs=2, batch_size=20, lr=0.05, seeds=1, val_per_class=2
    )
    first, second = (cifar_mlp_run(_fake_cifar(), 0.0, seed=3, config=config) for _ in range(2))
    assert {k: v for k, v in first.items() if k != "seconds"} == {k: v for k, v in second.items() if k != "seconds"}


def test_cifar_mlp_run_keeps_the_validation_images_out_of_training(monkeypatch):
    """The validation split is held out of the training images, and is the same for every seed."""
    import utils.dropout_study as study

    data = _fake_cifar()
    seen = {}

    def spy(model, images, labels, batch_size=1000):
        seen.setdefault("splits", []).append(images.shape[0])
        return 0.5

    monkeypatch.setattr(study, "_accuracy", spy)
    config = CifarMLPConfig(n_train=50, n_test=40, hidden=8, epochs=1, batch_size=25, lr=0.05, seeds=1, val_per_class=3)
    cifar_mlp_run(data, 0.0, seed=1, config=config)
    assert seen["splits"] == [50, 40, 30]  # training subset, test subset, 3 validation images per class
    split = data.validation_split(3, seed=0)
    held_out = {bytes(image.numpy()) for image in split.test_images}
    kept = {bytes(image.numpy()) for image in split.subset(50, None, seed=1).train_images}
    assert not held_out & kept


def test_cifar_presets_cover_every_preset_with_enough_seeds():
    from utils.presets import PRESET_NAMES

    assert set(CIFAR_MLP_PRESETS) == set(PRESET_NAMES)
    assert all(config.seeds >= 3 for config in CIFAR_MLP_PRESETS.values())
    assert CIFAR_MLP_PRESETS["cpu"].seeds >= 10 and CIFAR_MLP_PRESETS["gpu"].seeds >= 10  # the stored runs
    assert CIFAR_MLP_PRESETS["smoke"].epochs < CIFAR_MLP_PRESETS["cpu"].epochs


def test_portable_uniform_draws_the_default_linear_distribution_from_torch_rand():
    from utils.reproducibility import portable_uniform_

    torch.manual_seed(0)
    w = portable_uniform_(torch.empty(200, 200, dtype=torch.float64), 0.07)
    torch.manual_seed(0)
    torch.testing.assert_close(w, (torch.rand(200, 200, dtype=torch.float64) * 2 - 1) * 0.07, rtol=0, atol=0)
    assert w.abs().max() <= 0.07 and w.std().item() == pytest.approx(0.07 / 3**0.5, rel=0.02)


def test_regression_mlp_is_the_same_network_under_another_cpus_kernels():
    """nn.Linear's own initialisation differs in its last bits between instruction sets; ours must not."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import hashlib, torch; from utils.dropout_study import regression_mlp; torch.manual_seed(2); "
        "print(hashlib.md5(b''.join(p.detach().numpy().tobytes() for p in regression_mlp().parameters())).hexdigest())"
    )
    root = str(Path(__file__).resolve().parents[1])

    def digest(**env):
        run = subprocess.run([sys.executable, "-c", code], env=os.environ | env, cwd=root,
                             capture_output=True, text=True, check=True)  # fmt: skip
        return run.stdout.strip()

    assert digest() == digest(ATEN_CPU_CAPABILITY="default", OMP_NUM_THREADS="1")
