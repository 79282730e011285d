"""utils.dropout_study: the regression MLP and the CIFAR-10 MLP runs of chapter 4."""

import pytest
import torch
from torch import nn

from utils.cifar10 import CIFAR10
from utils.dropout_study import (
    CIFAR_MLP_PRESETS,
    CifarMLPConfig,
    cifar_mlp,
    cifar_mlp_run,
    regression_mlp,
)
from utils.regularization import ScratchDropout


def test_regression_mlp_has_the_experiment_shape():
    model = regression_mlp()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(1, 200), (200, 200), (200, 200), (200, 1)]
    assert sum(isinstance(m, ScratchDropout) for m in model) == 3
    assert all(p.dtype == torch.float64 for p in model.parameters())


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
    assert cifar_mlp(16, 0.5)(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


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
