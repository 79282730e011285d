"""The CIFAR-10 recipe on tiny random data: presets, history, checkpoints and resume."""

import dataclasses
import itertools

import pytest
import torch

from utils.augment import DeviceLoader
from utils.cifar10 import CIFAR10
from utils.cifar_train import (
    CIFAR_PRESETS,
    TrainConfig,
    amp_dtype,
    cifar_config,
    precision_dtype,
    precision_name,
    train_cifar10,
)
from utils.models import FastResNet
from utils.training import evaluate

TINY = TrainConfig(epochs=2, batch_size=16, lr=0.05, widths=(4, 8, 8), seed=0)


@pytest.fixture(scope="module")
def tiny_data():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (64 + 32, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (96,), generator=g)
    return CIFAR10(images[:64], labels[:64], images[64:], labels[64:], source="random test data")


def test_presets_exist_and_smoke_is_small():
    assert set(CIFAR_PRESETS) == {"smoke", "cpu", "gpu"}
    assert CIFAR_PRESETS["smoke"].n_train is not None and CIFAR_PRESETS["cpu"].n_train is None


def test_cifar_config_applies_overrides_and_validates():
    assert cifar_config("smoke", epochs=1).epochs == 1
    with pytest.raises(ValueError, match="unknown preset"):
        cifar_config("huge")
    with pytest.raises(ValueError, match="weight_decay"):
        cifar_config("smoke", weight_decay=-1.0)
    with pytest.raises(TypeError):
        cifar_config("smoke", no_such_field=1)


@pytest.mark.parametrize(
    "field",
    [
        {"epochs": 0}, {"lr": 0.0}, {"momentum": 1.0}, {"label_smoothing": 1.0}, {"warmup_fraction": -0.1},
        {"low_res_epochs": 10}, {"low_res_epochs": -1}, {"low_res_size": 4}, {"bias_lr_scale": 0.0},
        {"lr_start": 1.5}, {"lr_end": -0.1}, {"whiten_bias_epochs": -1}, {"depth": 0}, {"tta": 3},
        {"precision": "fp16"},
    ],
)  # fmt: skip
def test_config_rejects_bad_values(field):
    with pytest.raises(ValueError, match=next(iter(field))):
        TrainConfig(**field)


def test_amp_dtype_is_fp32_on_cpu():
    assert amp_dtype(torch.device("cpu")) is None


@pytest.mark.parametrize("native", [True, False])
def test_precision_mixed_is_bf16_wherever_it_is_native(monkeypatch, native):
    import utils.cifar_train

    monkeypatch.setattr(utils.cifar_train, "native_bf16", lambda device: native)
    assert precision_dtype(torch.device("cpu"), "mixed") is (torch.bfloat16 if native else None)
    assert precision_dtype(torch.device("cpu"), "auto") is None  # auto keeps the CPU in fp32
    assert precision_dtype(torch.device("cuda"), "mixed") is (torch.bfloat16 if native else torch.float16)
    cpu_preset = CIFAR_PRESETS["cpu"]  # precision="mixed"
    assert precision_name(cpu_preset, torch.device("cpu")) == ("bf16" if native else "fp32")
    assert precision_name(cpu_preset, torch.device("cuda")) == ("bf16" if native else "fp16")


def test_precision_auto_follows_the_device_and_bf16_or_fp32_are_forced():
    cpu = torch.device("cpu")
    assert precision_dtype(cpu) is None and precision_dtype(cpu, "auto") is None
    assert precision_dtype(cpu, "bf16") is torch.bfloat16
    assert precision_dtype(cpu, "fp32") is None
    with pytest.raises(ValueError, match="precision"):
        precision_dtype(cpu, "half")


def test_a_bf16_run_on_the_cpu_trains_under_autocast_and_is_checkpointed_as_such(tiny_data, tmp_path, capsys):
    """precision="bf16" reaches the training loop (the convolutions compute in bf16) and the checkpoint."""
    seen = []
    model_config = dataclasses.replace(TINY, precision="bf16", epochs=1)
    hook = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, out: seen.append(out.dtype) if isinstance(module, torch.nn.Conv2d) else None
    )
    try:
        _, history = train_cifar10(tiny_data, model_config, checkpoint=tmp_path / "run.pt", verbose=False)
    finally:
        hook.remove()
    assert torch.bfloat16 in seen and history["epoch"] == [1]
    state = torch.load(tmp_path / "run.pt", weights_only=True)
    assert state["precision"] == "torch.bfloat16"


def test_history_records_every_epoch_and_the_returned_models_final_numbers(tiny_data, capsys):
    """One record an epoch, one printed line an epoch; the last record's accuracies, learning rates,
    norms and effective learning rates recomputed from the returned model."""
    from utils.cifar_train import EVAL_BATCH, lr_factor

    model, history = train_cifar10(tiny_data, TINY, device=torch.device("cpu"), label="tiny ")
    assert history["epoch"] == [1, 2] and capsys.readouterr().out.count("tiny epoch") == 2
    for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "seconds", "test_seconds"):
        assert len(history[key]) == 2, key
    assert len(history["setup_seconds"]) == 1 and "setup_seconds" in history.records[0]
    last = history.records[-1]
    test = DeviceLoader(tiny_data.test_images, tiny_data.test_labels, EVAL_BATCH, train=False, channels_last=True)
    loss = torch.nn.functional.cross_entropy
    assert TINY.tta == 2 and last["final_tta_accuracy"] == evaluate(model, test, loss, accuracy=True, tta=2)["accuracy"]
    one_view = evaluate(model, test, loss, accuracy=True)
    assert (last["test_accuracy"], last["test_loss"]) == (one_view["accuracy"], one_view["loss"])
    steps = len(tiny_data.train_labels) // TINY.batch_size  # per epoch
    factors = [lr_factor(t, 2 * steps, TINY.warmup_fraction, TINY.lr_start, TINY.lr_end) for t in range(2 * steps + 1)]
    assert history["lr"] == pytest.approx([TINY.lr * factors[steps], TINY.lr * factors[2 * steps]])
    mean_lr = TINY.lr * sum(factors[steps : 2 * steps]) / steps  # the second epoch's steps
    convs = {name: p for name, p in model.named_parameters() if p.ndim == 4 and p.requires_grad}
    assert {k[len("norm/") :] for k in last if k.startswith("norm/")} == set(convs)
    for name, weight in convs.items():
        norm = float(weight.detach().norm())
        assert last[f"norm/{name}"] == pytest.approx(norm, rel=1e-6), name
        assert last[f"eff_lr/{name}"] == pytest.approx(mean_lr / norm**2, rel=1e-6), name


def test_each_timer_covers_exactly_its_own_work(tiny_data, monkeypatch):
    """A fake clock that moves only inside the timed work: setup 1 s (the whitening), an epoch's
    training 10 s, a one-view evaluation 100 s, a TTA evaluation 1000 s."""
    import types

    import utils.cifar_train

    now = [0.0]
    monkeypatch.setattr(utils.cifar_train, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))

    def costing(function, seconds):
        def timed(*args, **kwargs):
            now[0] += seconds(kwargs)
            return function(*args, **kwargs)

        return timed

    monkeypatch.setattr(FastResNet, "whiten_from", costing(FastResNet.whiten_from, lambda kw: 1))
    monkeypatch.setattr(utils.cifar_train, "train_epoch", costing(utils.cifar_train.train_epoch, lambda kw: 10))
    monkeypatch.setattr(
        utils.cifar_train, "evaluate", costing(evaluate, lambda kw: 1000 if kw.get("tta", 0) else 100)
    )
    _, history = train_cifar10(tiny_data, TINY, verbose=False)
    assert history["setup_seconds"] == [1]
    assert history["seconds"] == [10, 10] and history["test_seconds"] == [100, 100]
    assert history["final_tta_seconds"] == [1000]


def test_low_resolution_epochs_train_then_switch_to_full_size(tiny_data, monkeypatch):
    sizes = []
    original_iter = DeviceLoader.__iter__

    def recording_iter(self):
        for x, y in original_iter(self):
            sizes.append((self.train, x.shape[-1]))
            yield x, y

    monkeypatch.setattr(DeviceLoader, "__iter__", recording_iter)
    config = dataclasses.replace(TINY, epochs=3, low_res_epochs=2, low_res_size=16)
    _, history = train_cifar10(tiny_data, config, verbose=False)
    train_sizes = [size for train, size in sizes if train]
    steps = len(train_sizes) // 3
    assert train_sizes == [16] * (2 * steps) + [32] * steps
    assert {size for train, size in sizes if not train} == {32}  # evaluation always at full size
    assert len(history["epoch"]) == 3


def test_low_resolution_epochs_can_crop_instead_of_resizing(tiny_data, monkeypatch):
    seen = []
    original_iter = DeviceLoader.__iter__

    def recording_iter(self):
        for x, y in original_iter(self):
            if self.train:
                seen.append((x.shape[-1], self.crop_size, self.image_size))
            yield x, y

    monkeypatch.setattr(DeviceLoader, "__iter__", recording_iter)
    config = dataclasses.replace(TINY, epochs=2, low_res_epochs=1, low_res_size=24, low_res_crop=True)
    train_cifar10(tiny_data, config, verbose=False)
    steps = len(seen) // 2
    assert seen == [(24, 24, None)] * steps + [(32, None, None)] * steps  # cropped, not resized; then full size


def test_a_batch_larger_than_the_training_set_is_a_clear_error(tiny_data):
    with pytest.raises(ValueError, match="batch_size 128 exceeds the 64 training images"):
        train_cifar10(tiny_data, dataclasses.replace(TINY, batch_size=128), verbose=False)


def test_weight_decay_shrinks_conv_weights(tiny_data):
    config = dataclasses.replace(TINY, epochs=3)
    _, without = train_cifar10(tiny_data, dataclasses.replace(config, weight_decay=0.0), verbose=False)
    _, with_wd = train_cifar10(tiny_data, dataclasses.replace(config, weight_decay=0.5), verbose=False)
    key = next(k for k in with_wd.keys() if k.startswith("norm/"))
    assert with_wd[key][-1] < without[key][-1]


def test_interrupted_run_resumes_to_the_same_weights(tiny_data, tmp_path, capsys):
    config = dataclasses.replace(TINY, epochs=3, batch_size=8)  # 8 steps an epoch: interrupted after an average
    straight, straight_history = train_cifar10(tiny_data, config, verbose=False)

    checkpoint = tmp_path / "run.pt"
    train_cifar10(tiny_data, config, checkpoint=checkpoint, stop_after_epoch=1, verbose=False)  # "disconnect"
    assert checkpoint.exists() and not list(tmp_path.glob("*.tmp"))  # written atomically
    resumed, resumed_history = train_cifar10(tiny_data, config, checkpoint=checkpoint, label="tiny ")
    out = capsys.readouterr().out
    assert "resumed from run.pt after epoch 1" in out
    assert [line.split()[2] for line in out.splitlines() if line.startswith("tiny epoch")] == [
        "1",
        "2",
        "3",
    ]  # replayed

    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"{name} differs after resuming")
    assert straight_history["test_loss"] == resumed_history["test_loss"]
    per_epoch = len(tiny_data.train_labels) // config.batch_size
    assert per_epoch > 5 and (config.epochs * per_epoch) % 5 != 0  # a saved average; a run ending off period
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["epoch"] == 3
    for name, slow in saved["lookahead"].items():  # the last step, off Lookahead's period, averaged too
        assert torch.equal(resumed.state_dict()[name], slow), f"{name}: the run does not end on the average"


def test_checkpoint_of_another_config_is_not_resumed(tiny_data, tmp_path, capsys):
    checkpoint = tmp_path / "run.pt"
    train_cifar10(tiny_data, TINY, checkpoint=checkpoint, stop_after_epoch=1, verbose=False)
    _, history = train_cifar10(tiny_data, dataclasses.replace(TINY, lr=0.01), checkpoint=checkpoint)
    assert "resumed" not in capsys.readouterr().out and history["epoch"] == [1, 2]


def test_tensorboard_logs_hold_the_history_and_every_conv_weights_histogram(tiny_data, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model, history = train_cifar10(tiny_data, TINY, log_dir=tmp_path / "tb", verbose=False)
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "histograms": 0}).Reload()
    for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr"):
        logged = events.Scalars(key)
        assert [e.step for e in logged] == [1, 2], key
        assert [e.value for e in logged] == pytest.approx(history[key], rel=1e-6), key
    convs = [name for name, p in model.named_parameters() if p.ndim == 4 and p.requires_grad]
    assert sorted(events.Tags()["histograms"]) == sorted(f"weights/{name}" for name in convs)
    last = events.Histograms(f"weights/{convs[0]}")[-1]
    assert last.step == 2 and last.histogram_value.num == dict(model.named_parameters())[convs[0]].numel()


def _count_host_reads(monkeypatch):
    """Count float(t), int(t) and t.item(): each one waits for the GPU when t lives there."""
    calls = {"n": 0}
    for name in ("__float__", "__int__", "item"):
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _original=original):
            calls["n"] += 1
            return _original(self, *args)

        monkeypatch.setattr(torch.Tensor, name, counting)
    return calls


def test_host_reads_do_not_grow_with_the_number_of_steps(tiny_data, monkeypatch):
    calls = _count_host_reads(monkeypatch)
    config = dataclasses.replace(TINY, epochs=1)
    train_cifar10(tiny_data, dataclasses.replace(config, batch_size=32), verbose=False)  # 2 steps
    few = calls["n"]
    calls["n"] = 0
    train_cifar10(tiny_data, dataclasses.replace(config, batch_size=8), verbose=False)  # 8 steps
    assert calls["n"] == few


class _MirrorSensitive(torch.nn.Module):
    """bf16 logits: class 1 beats class 0 only on the average of an image and its mirror image."""

    def forward(self, x):
        left_brighter = x[:, 0, :, 0].mean(1) > x[:, 0, :, -1].mean(1)
        ones = torch.ones(len(x), device=x.device)
        return torch.stack([ones, ones + 2**-7 * (~left_brighter)], dim=1).to(torch.bfloat16)


def test_tta_averages_low_precision_logits_in_float32():
    images = torch.zeros(4, 3, 32, 32, dtype=torch.uint8)
    images[..., 0] = 255  # the left column is bright, so the mirror image's right column is
    loader = DeviceLoader(images, torch.ones(4, dtype=torch.long), 1000, train=False)
    # (1 + (1 + 2^-7)) / 2 rounds back to 1 in bf16, a tie that argmax breaks toward class 0.
    result = evaluate(_MirrorSensitive(), loader, torch.nn.functional.cross_entropy, accuracy=True, tta=1)
    assert result["accuracy"] == 1.0


def test_a_checkpoint_of_another_precision_is_not_resumed(tiny_data, tmp_path, monkeypatch, capsys):
    """A fp32 run's checkpoint has an empty gradient-scaler state: an fp16 run must start afresh."""
    import utils.cifar_train

    checkpoint = tmp_path / "run.pt"
    train_cifar10(tiny_data, TINY, checkpoint=checkpoint, stop_after_epoch=1, verbose=False)
    monkeypatch.setattr(utils.cifar_train, "amp_dtype", lambda device: torch.float16)  # as on a T4
    _, history = train_cifar10(tiny_data, TINY, checkpoint=checkpoint)
    out = capsys.readouterr().out
    assert "not resumed" in out and "float16" in out and history["epoch"] == [1, 2]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", [None, torch.float16])
def test_cuda_run_resumes_from_its_checkpoint(tiny_data, tmp_path, monkeypatch, capsys, precision):
    """On CUDA: resuming must load (the loader's generator state goes back to the CPU), and fp16
    with its gradient scaler must survive the round trip. cuDNN is not bit-deterministic, so the
    resumed run is compared with a tolerance, not bit for bit."""
    import utils.cifar_train

    if precision is not None:
        monkeypatch.setattr(utils.cifar_train, "amp_dtype", lambda device: precision)
    cuda = torch.device("cuda")
    config = dataclasses.replace(TINY, epochs=3)
    straight, _ = train_cifar10(tiny_data, config, device=cuda, verbose=False)
    checkpoint = tmp_path / "run.pt"
    train_cifar10(tiny_data, config, device=cuda, checkpoint=checkpoint, stop_after_epoch=1, verbose=False)
    resumed, resumed_history = train_cifar10(tiny_data, config, device=cuda, checkpoint=checkpoint)
    assert "resumed from run.pt after epoch 1" in capsys.readouterr().out
    assert resumed_history["epoch"] == [1, 2, 3]
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items(), strict=True):
        if a.is_floating_point():
            torch.testing.assert_close(a, b, rtol=0.05, atol=0.05, msg=f"{name} differs after resuming")


def test_train_epoch_matches_a_plain_loop_to_the_last_lookahead_step(tiny_data):
    """Three epochs of train_epoch against the recipe written out: label-smoothed cross-entropy (the
    data loss alone: decay acts in the optimizer), the optimizer's then the schedule's step, Lookahead
    every 5 steps and on the last one, each epoch's mean over the batches it trained on (2 of 24: the
    last 16 images are dropped). 6 steps in all, so the run ends between two periods of Lookahead."""
    import copy

    from utils.cifar_train import parameter_groups, train_epoch
    from utils.lookahead import Lookahead

    config = dataclasses.replace(TINY, weight_decay=0.5, label_smoothing=0.2)
    epochs, total = 3, 6

    def setup(model):
        optimizer = torch.optim.SGD(parameter_groups(model, config), momentum=0.85, nesterov=True)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 / (1 + step))  # moves every step
        return optimizer, scheduler

    torch.manual_seed(0)
    model = FastResNet((4, 8, 8))
    reference = copy.deepcopy(model)
    loader = DeviceLoader(tiny_data.train_images, tiny_data.train_labels, 24, train=True, seed=0)
    assert len(loader) * epochs == total and total % 5 != 0
    optimizer, scheduler = setup(model)
    lookahead = Lookahead(model)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    results = []
    for _ in range(epochs):
        model.eval()  # as an evaluation might leave it: train_epoch must train in train mode
        results.append(train_epoch(model, loader, optimizer, scheduler, scaler, lookahead, total, label_smoothing=0.2))

    same_batches = DeviceLoader(tiny_data.train_images, tiny_data.train_labels, 24, train=True, seed=0)
    ref_optimizer, ref_scheduler = setup(reference)
    slow = {k: v.clone() for k, v in reference.state_dict().items() if v.is_floating_point()}
    expected, step = [], 0
    for _ in range(epochs):
        loss_sum, correct, seen = 0.0, 0, 0
        for x, y in same_batches:
            reference.train()
            logits = reference(x)
            loss = torch.nn.functional.cross_entropy(logits, y, label_smoothing=0.2)
            ref_optimizer.zero_grad()
            loss.backward()
            ref_optimizer.step()
            ref_scheduler.step()
            step += 1
            if step % 5 == 0 or step == total:
                decay = 0.95**5 * (step / total) ** 3
                state = reference.state_dict()
                for name in slow:
                    slow[name] = decay * slow[name] + (1 - decay) * state[name]
                    state[name].copy_(slow[name])
            loss_sum += loss.item() * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        expected.append((loss_sum / seen, correct / seen))

    for epoch, ((loss, accuracy), (ref_loss, ref_accuracy)) in enumerate(zip(results, expected, strict=True), 1):
        assert loss == pytest.approx(ref_loss, rel=1e-5), f"epoch {epoch}: mean loss over the batches trained on"
        assert accuracy == pytest.approx(ref_accuracy), f"epoch {epoch}: accuracy over the batches trained on"
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, reference.state_dict()[name], msg=f"{name} differs from the plain loop")
        if name in lookahead.slow:
            assert torch.equal(value, lookahead.slow[name]), f"{name}: the run does not end on the average"


def test_final_clean_train_accuracy_is_measured_in_eval_mode_without_augmentation(tiny_data):
    model, history = train_cifar10(tiny_data, TINY, verbose=False)
    loader = DeviceLoader(tiny_data.train_images, tiny_data.train_labels, 1000, train=False, channels_last=True)
    clean = evaluate(model, loader, torch.nn.functional.cross_entropy, accuracy=True)["accuracy"]
    assert history.records[-1]["final_train_clean_accuracy"] == clean


def test_parameter_groups_decay_weights_and_speed_up_batch_norm_biases():
    from utils.cifar_train import parameter_groups
    from utils.models import FastResNet

    model = FastResNet((4, 8))
    decayed, norm, other = parameter_groups(model, TINY)
    assert decayed["weight_decay"] == TINY.weight_decay and decayed["lr"] == TINY.lr
    assert all(p.ndim >= 2 for p in decayed["params"]) and any(p is model.classifier.weight for p in decayed["params"])
    norm_biases = [m.bias for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert {id(p) for p in norm["params"]} == {id(p) for p in norm_biases}
    assert norm["lr"] == TINY.lr * TINY.bias_lr_scale and norm["weight_decay"] == 0
    assert [id(p) for p in other["params"]] == [id(model.whiten.bias)] and other["weight_decay"] == 0
    assert all(p is not model.whiten.weight for p in decayed["params"])  # frozen: not trained at all


def test_decay_biases_shrinks_every_bias_by_the_weights_lr_times_weight_decay_per_step():
    from utils.cifar_train import parameter_groups

    model = FastResNet((4, 8))
    config = dataclasses.replace(TINY, decay_biases=True)
    decayed, norm, other = parameter_groups(model, config)
    shrink = decayed["lr"] * decayed["weight_decay"]
    assert norm["lr"] * norm["weight_decay"] == pytest.approx(shrink)  # airbench94: wd / lr_biases
    assert other["lr"] * other["weight_decay"] == pytest.approx(shrink) and other["params"][0] is model.whiten.bias
    assert norm["weight_decay"] > 0 and norm["lr"] == config.lr * config.bias_lr_scale


def test_the_residual_switch_reaches_the_network(tiny_data):
    model, _ = train_cifar10(tiny_data, dataclasses.replace(TINY, epochs=1, residual=False), verbose=False)
    blocks = [m for m in model.modules() if hasattr(m, "skip")]
    assert blocks and not any(b.skip for b in blocks)


def test_lr_factor_rises_from_start_and_falls_to_end():
    from utils.cifar_train import lr_factor

    factors = [lr_factor(t, 100, 0.25, start=0.2, end=0.07) for t in range(101)]
    assert factors[0] == pytest.approx(0.2) and factors[25] == pytest.approx(1.0)
    assert factors[100] == pytest.approx(0.07) and max(factors) == pytest.approx(1.0)
    assert all(a <= b for a, b in itertools.pairwise(factors[:26]))


def test_whitening_bias_learns_only_in_its_first_epochs(tiny_data):
    grads = []
    original_step = torch.optim.SGD.step

    def recording_step(self, *args, **kwargs):
        grads.append(model_ref[0].whiten.bias.grad is not None)
        return original_step(self, *args, **kwargs)

    model_ref = []
    original_init = FastResNet.__init__

    def recording_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        model_ref.append(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.optim.SGD, "step", recording_step)
        patch.setattr(FastResNet, "__init__", recording_init)
        model, _ = train_cifar10(tiny_data, dataclasses.replace(TINY, epochs=3, whiten_bias_epochs=1), verbose=False)
    steps = len(grads) // 3
    assert grads == [True] * steps + [False] * (2 * steps)  # a gradient in epoch 1 only
    assert not torch.equal(model.whiten.bias, torch.zeros_like(model.whiten.bias))


def _class_sorted_data(per_class: int) -> CIFAR10:
    """A copy sorted by class, as read from class folders; every image of class k has pixel value 20 k."""
    labels = torch.arange(10).repeat_interleave(per_class)
    images = (20 * labels).to(torch.uint8)[:, None, None, None].expand(-1, 3, 32, 32).contiguous()
    return CIFAR10(images, labels, images[:20], labels[:20], source="class-sorted test data")


def test_whitening_and_clean_train_slice_sample_every_class_of_a_class_sorted_copy(monkeypatch):
    """Taking the first images of a class-sorted copy fitted the whitening layer to airplanes only."""
    import utils.cifar_train

    monkeypatch.setattr(utils.cifar_train, "WHITEN_IMAGES", 50)
    monkeypatch.setattr(utils.cifar_train, "TRAIN_SLICE", 100)
    seen: dict[str, torch.Tensor] = {}
    monkeypatch.setattr(FastResNet, "whiten_from", lambda self, images: seen.setdefault("whiten", images))

    class RecordingLoader(DeviceLoader):
        def __init__(self, images, labels, *args, **kwargs):
            super().__init__(images, labels, *args, **kwargs)
            if len(labels) == 100:
                seen["slice"] = labels

    monkeypatch.setattr(utils.cifar_train, "DeviceLoader", RecordingLoader)
    train_cifar10(_class_sorted_data(per_class=40), dataclasses.replace(TINY, epochs=1), verbose=False)
    whitened_classes = torch.unique(torch.round(seen["whiten"][:, 0, 0, 0] * 1e3))
    assert len(seen["whiten"]) == 50 and len(whitened_classes) == 10
    assert len(seen["slice"]) == 100 and torch.bincount(seen["slice"], minlength=10).min() >= 4


def test_the_whitening_is_fitted_to_the_normalized_training_images(tiny_data, monkeypatch):
    """The images the network sees (normalized, not [0, 1] pixels), the fixed sample's first 5,000."""
    from utils.augment import normalize
    from utils.cifar_train import fixed_sample

    class Fitted(Exception):
        pass

    def fitted(self, images):
        raise Fitted(images)

    monkeypatch.setattr(FastResNet, "whiten_from", fitted)
    with pytest.raises(Fitted) as caught:
        train_cifar10(tiny_data, TINY, verbose=False)
    expected = normalize(tiny_data.train_images[fixed_sample(64, 10_000)])
    assert torch.equal(caught.value.args[0], expected), "the whitening must see the images the network sees"


def test_train_cifar10_trains_with_nesterov_momentum_the_configs_smoothing_and_the_runs_step_count(
    tiny_data, monkeypatch
):
    import utils.cifar_train

    calls = []
    train_epoch = utils.cifar_train.train_epoch

    def recording(model, loader, optimizer, scheduler, scaler, lookahead, total_steps, **kwargs):
        groups = optimizer.param_groups
        calls.append((total_steps, kwargs.get("label_smoothing", 0.0), kwargs.get("autocast_dtype")))
        assert [(g["momentum"], g["nesterov"]) for g in groups] == [(0.6, True)] * 3, "Nesterov, config.momentum"
        assert [g["weight_decay"] for g in groups] == [config.weight_decay, 0, 0]
        return train_epoch(model, loader, optimizer, scheduler, scaler, lookahead, total_steps, **kwargs)

    monkeypatch.setattr(utils.cifar_train, "train_epoch", recording)
    config = dataclasses.replace(TINY, momentum=0.6, label_smoothing=0.3)
    train_cifar10(tiny_data, config, verbose=False)
    assert calls == [(2 * 64 // 16, 0.3, None)] * 2


def test_fixed_sample_is_the_same_random_sample_for_every_run():
    from utils.cifar_train import fixed_sample

    sample = fixed_sample(1000, 100)
    assert torch.equal(sample, fixed_sample(1000, 100)) and len(torch.unique(sample)) == 100
    assert not torch.equal(torch.sort(sample).values, torch.arange(100))  # not the first images
    assert len(fixed_sample(30, 100)) == 30
    with pytest.raises(ValueError):
        fixed_sample(1000, 0)


def test_a_checkpoint_written_before_a_config_field_existed_resumes_with_its_default(tiny_data, tmp_path, capsys):
    checkpoint = tmp_path / "run.pt"
    train_cifar10(tiny_data, TINY, checkpoint=checkpoint, stop_after_epoch=1, verbose=False)
    state = torch.load(checkpoint, weights_only=True)
    del state["config"]["residual"], state["config"]["decay_biases"]  # as written before the two switches
    torch.save(state, checkpoint)
    train_cifar10(tiny_data, TINY, checkpoint=checkpoint)
    assert "resumed from run.pt after epoch 1" in capsys.readouterr().out
    train_cifar10(tiny_data, dataclasses.replace(TINY, residual=False), checkpoint=checkpoint)  # not its default
    assert "resumed" not in capsys.readouterr().out


def test_checkpoint_of_an_older_recipe_is_not_resumed(tiny_data, tmp_path, monkeypatch, capsys):
    import utils.cifar_train

    checkpoint = tmp_path / "run.pt"
    train_cifar10(tiny_data, TINY, checkpoint=checkpoint, stop_after_epoch=1, verbose=False)
    monkeypatch.setattr(utils.cifar_train, "RECIPE_VERSION", utils.cifar_train.RECIPE_VERSION + 1)
    _, history = train_cifar10(tiny_data, TINY, checkpoint=checkpoint)
    out = capsys.readouterr().out
    assert "older version of the training code: not resumed" in out and history["epoch"] == [1, 2]
