"""The speed benchmark's settings and its throughput helper (no timing is asserted)."""

import importlib.util
from pathlib import Path

import pytest
import torch

from tests.test_cifar10 import accept_fake_copy, make_batches
from utils.cifar10 import CACHE_ENV_VAR
from utils.cifar_train import CIFAR_PRESETS
from utils.presets import PRESET_NAMES


@pytest.fixture(scope="module")
def bench():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "cifar10_speed.py"
    spec = importlib.util.spec_from_file_location("cifar10_speed", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_every_preset_has_valid_sprint_settings(bench, preset):
    sprint = bench.sprint_config(preset)
    assert sprint.epochs <= CIFAR_PRESETS[preset].epochs  # a sprint is never longer than the chapter's run
    assert sprint.seed == CIFAR_PRESETS[preset].seed


def test_epochs_argument_overrides_the_sprint(bench):
    assert bench.sprint_config("cpu", epochs=5).epochs == 5
    assert bench.sprint_config("cpu").widths == (16, 32, 64)


def test_throughput_is_positive_and_trains(bench):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(10))
    model(torch.zeros(1, 3, 8, 8))
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    value = bench.throughput(model, 4, 8, torch.device("cpu"), optimizer, steps=2, warmup=1)
    assert value > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_the_script_runs_end_to_end_on_generated_data(bench, tmp_path, monkeypatch, capsys):
    # random pixels: nothing to learn, so the run must report that 78 % was not reached
    make_batches(tmp_path / "cifar-10-batches-py", per_batch=1030, n_batches=2, n_test=1030)
    accept_fake_copy(monkeypatch, per_class=(206, 103), batches=tmp_path / "cifar-10-batches-py")
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "cache"))
    monkeypatch.setattr(
        "sys.argv", ["cifar10_speed.py", "--preset", "smoke", "--data", str(tmp_path), "--original-steps", "1"]
    )
    assert bench.main() == 1
    out = capsys.readouterr().out
    assert "preset: smoke" in out and out.count("x the original") == 2
    assert "original recipe, time to 78%" in out and "did not reach 78%" in out


def test_the_original_tutorials_resnet_takes_96_pixel_images(bench):
    from utils.models import count_parameters

    model = bench.TutorialResNet()
    assert model(torch.randn(2, 3, 96, 96)).shape == (2, 10)
    assert 11_000_000 < count_parameters(model) < 11_400_000
