"""No needless host-device waits in the CIFAR-10 recipe: a CPU test of each change, and CUDA-only tests.

On a GPU the host queues work and runs ahead; every time it must read a value from the device (an
``.item()``, a copy from ordinary host memory, a gradient scaler's overflow flag) it stops until the
queue has drained, and the GPU idles while the next work is prepared. The CUDA tests run under
``torch.cuda.set_sync_debug_mode("warn")``, which warns at every such wait, and count them.
"""

import dataclasses
import warnings

import pytest
import torch

import utils.augment
import utils.cifar_train
from utils.augment import CIFAR10_MEAN, CIFAR10_STD, DeviceLoader, channel_constants, normalize
from utils.cifar10 import CIFAR10
from utils.cifar_train import (
    CUDA_EVAL_BATCH,
    EVAL_BATCH,
    TrainConfig,
    eval_batch_size,
    make_optimizer,
    parameter_groups,
    train_cifar10,
    train_epoch,
)
from utils.lookahead import Lookahead
from utils.models import FastResNet
from utils.training import evaluate

TINY = TrainConfig(epochs=2, batch_size=16, lr=0.05, widths=(4, 8, 8), seed=0)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def tiny_data():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (96, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (96,), generator=g)
    return CIFAR10(images[:64], labels[:64], images[64:], labels[64:], source="random test data")


# --- normalisation constants: built once per loader -------------------------------------------------


def test_channel_constants_hold_the_cifar10_mean_and_std_per_channel():
    mean, std = channel_constants(dtype=torch.float64)
    assert mean.shape == std.shape == (1, 3, 1, 1) and mean.dtype == torch.float64
    assert mean.flatten().tolist() == list(CIFAR10_MEAN) and std.flatten().tolist() == list(CIFAR10_STD)


def test_a_loader_builds_its_normalisation_constants_once_not_per_batch(tiny_data, monkeypatch):
    calls = []
    real = utils.augment.channel_constants
    monkeypatch.setattr(utils.augment, "channel_constants", lambda *a, **k: calls.append(1) or real(*a, **k))
    loader = DeviceLoader(tiny_data.train_images, tiny_data.train_labels, 16, train=True, seed=0)
    batches = [x for _ in range(2) for x, _ in loader]
    assert len(batches) == 8 and len(calls) == 1, f"{len(calls)} builds of the constants for {len(batches)} batches"


def test_a_loader_normalises_exactly_as_normalize_does(tiny_data):
    loader = DeviceLoader(tiny_data.test_images, tiny_data.test_labels, 12, train=False)
    for i, (x, _) in enumerate(loader):
        assert torch.equal(x, normalize(tiny_data.test_images[12 * i : 12 * (i + 1)]))


@needs_cuda
def test_on_cuda_the_constants_live_on_the_device_and_an_epoch_never_waits(tiny_data):
    loader = DeviceLoader(tiny_data.train_images, tiny_data.train_labels, 16, train=True, device="cuda", seed=0)
    assert loader.mean.device.type == "cuda" and loader.std.device.type == "cuda"
    assert _host_waits(lambda: [x.sum() for x, _ in loader]) == 0  # pinned, non-blocking epoch draws


# --- the optimizer: fused on CUDA ---------------------------------------------------------------------


def test_on_the_cpu_the_optimizer_is_plain_nesterov_sgd_over_the_recipes_groups():
    model = FastResNet((4, 8, 8))
    optimizer = make_optimizer(model, TINY, torch.device("cpu"))
    assert not optimizer.defaults["fused"] and optimizer.defaults["nesterov"]
    assert optimizer.defaults["momentum"] == TINY.momentum
    expected = parameter_groups(model, TINY)
    assert [len(g["params"]) for g in optimizer.param_groups] == [len(g["params"]) for g in expected]
    assert [g["weight_decay"] for g in optimizer.param_groups] == [g["weight_decay"] for g in expected]


@needs_cuda
def test_on_cuda_the_optimizer_is_fused():
    model = FastResNet((4, 8, 8)).cuda()
    assert make_optimizer(model, TINY, torch.device("cuda")).defaults["fused"] is True


# --- evaluation batches by device --------------------------------------------------------------------


def test_evaluation_batches_are_small_on_the_cpu_and_large_on_cuda():
    assert eval_batch_size(torch.device("cpu")) == EVAL_BATCH == 250
    assert eval_batch_size(torch.device("cuda")) == CUDA_EVAL_BATCH == 2_000


def test_train_cifar10_builds_its_optimizer_and_evaluation_loaders_for_its_device(tiny_data, monkeypatch):
    made, sizes = [], []
    real = utils.cifar_train.make_optimizer

    class RecordingLoader(DeviceLoader):
        def __init__(self, images, labels, batch_size, **kwargs):
            if not kwargs["train"]:
                sizes.append(batch_size)
            super().__init__(images, labels, batch_size, **kwargs)

    monkeypatch.setattr(utils.cifar_train, "make_optimizer", lambda *a: made.append(a[2]) or real(*a))
    monkeypatch.setattr(utils.cifar_train, "eval_batch_size", lambda device: 7)
    monkeypatch.setattr(utils.cifar_train, "DeviceLoader", RecordingLoader)
    train_cifar10(tiny_data, dataclasses.replace(TINY, epochs=1), verbose=False)
    assert made == [torch.device("cpu")]
    assert sizes == [7, 7]  # the test set and the clean training sample


# --- Lookahead: two multi-tensor operations -----------------------------------------------------------


def _reference_update(slow: dict, model: torch.nn.Module, decay: float) -> None:
    """The update written tensor by tensor: slow = decay * slow + (1 - decay) * fast; fast = slow."""
    with torch.no_grad():
        state = model.state_dict()
        for name, tensor in slow.items():
            tensor.lerp_(state[name], 1.0 - decay)
            state[name].copy_(tensor)


def test_lookahead_update_equals_the_tensor_by_tensor_update_bit_for_bit():
    torch.manual_seed(0)
    model, reference = FastResNet((4, 8, 8)), FastResNet((4, 8, 8))
    reference.load_state_dict(model.state_dict())
    lookahead = Lookahead(model)
    slow = {name: tensor.clone() for name, tensor in lookahead.slow.items()}
    g = torch.Generator().manual_seed(1)
    for decay in (0.1, 0.5, 0.77):
        with torch.no_grad():  # the same step for both copies, batch-norm statistics included
            for a, b in zip(model.state_dict().values(), reference.state_dict().values(), strict=True):
                if a.is_floating_point():
                    step = 0.1 * torch.randn(a.shape, generator=g)
                    a.add_(step)
                    b.add_(step)
        lookahead.update(model, decay)
        _reference_update(slow, reference, decay)
    for (name, a), b in zip(model.state_dict().items(), reference.state_dict().values(), strict=True):
        assert torch.equal(a, b), f"{name} differs from the tensor-by-tensor update"
    assert all(torch.equal(lookahead.slow[name], slow[name]) for name in slow)


def test_lookahead_update_is_one_multi_tensor_lerp_and_one_copy(monkeypatch):
    calls = []
    for op in ("_foreach_lerp_", "_foreach_copy_"):
        real = getattr(torch, op)
        monkeypatch.setattr(torch, op, lambda *a, _op=op, _real=real: calls.append((_op, len(a[0]))) or _real(*a))
    model = FastResNet((4, 8, 8))
    lookahead = Lookahead(model)
    lookahead.update(model, 0.5)
    n = len(lookahead.slow)
    assert calls == [("_foreach_lerp_", n), ("_foreach_copy_", n)]


# --- evaluate: sums start on the device ----------------------------------------------------------------


def test_evaluate_sums_every_batch_and_weights_it_by_its_size():
    """Three batches of 4, 4 and 2 (a partial last batch): the mean over the 10 examples."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 4)
    x, y = torch.randn(10, 3), torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 0, 1])
    batches = [(x[:4], y[:4]), (x[4:8], y[4:8]), (x[8:], y[8:])]
    result = evaluate(model, batches, torch.nn.functional.cross_entropy, accuracy=True)
    with torch.no_grad():
        out = model(x)
    expected_loss = torch.nn.functional.cross_entropy(out, y, reduction="sum").item() / 10
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-6)
    assert result["accuracy"] == (out.argmax(1) == y).sum().item() / 10


@needs_cuda
def test_on_cuda_evaluate_waits_only_to_read_its_two_sums(tiny_data):
    model = FastResNet((4, 8, 8)).cuda().to(memory_format=torch.channels_last)
    loader = DeviceLoader(tiny_data.test_images, tiny_data.test_labels, 8, train=False, device="cuda")
    assert _host_waits(lambda: evaluate(model, loader, torch.nn.functional.cross_entropy, accuracy=True)) == 2


# --- one epoch of the recipe on CUDA: no wait inside the step loop --------------------------------------


@needs_cuda
@pytest.mark.parametrize("dtype", [None, torch.bfloat16, torch.float16])
def test_on_cuda_an_epoch_waits_only_to_read_its_two_sums(tiny_data, dtype):
    """Four steps, in fp32, bf16 and fp16 (with its gradient scaler and the fused optimizer): the
    host waits twice, for the epoch's loss and accuracy, however many steps the epoch has."""
    if dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported(including_emulation=False):
        pytest.skip("this GPU has no native bf16")
    cuda = torch.device("cuda")
    torch.manual_seed(0)
    model = FastResNet((4, 8, 8)).to(cuda, memory_format=torch.channels_last)
    optimizer = make_optimizer(model, TINY, cuda)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype is torch.float16)
    loader = DeviceLoader(
        tiny_data.train_images, tiny_data.train_labels, 16, train=True, device=cuda, channels_last=True
    )
    lookahead = Lookahead(model)
    steps = 4 * len(loader)
    waits = _host_waits(
        lambda: train_epoch(model, loader, optimizer, scheduler, scaler, lookahead, steps, autocast_dtype=dtype)
    )
    assert len(loader) == 4 and waits == 2


def _host_waits(work) -> int:
    """How many times the host waited for the GPU while ``work()`` ran (sync debug mode's warnings)."""
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            work()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchronizing" in str(w.message) for w in caught)
