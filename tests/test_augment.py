import pytest
import torch

from utils.augment import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    DeviceLoader,
    normalize,
    random_crop,
    random_flip,
    random_translate,
    resize,
)


def _batch(n=8, seed=0):
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_normalize_gives_floats_with_the_given_statistics():
    images = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    out = normalize(images, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, torch.ones(2, 3, 4, 4))


def test_normalize_uses_each_channels_cifar10_mean_and_std_by_default():
    """Every pixel value of every channel against the formula (v / 255 - mean_c) / std_c, in float64."""
    values = torch.tensor([0, 1, 37, 128, 200, 254, 255], dtype=torch.uint8)
    images = values.view(1, 1, 1, -1).expand(2, 3, 4, -1).contiguous()
    out = normalize(images)
    for c, (mean, std) in enumerate(zip(CIFAR10_MEAN, CIFAR10_STD, strict=True)):
        expected = ((values.double() / 255 - mean) / std).float()
        torch.testing.assert_close(out[:, c], expected.expand(2, 4, -1), msg=f"channel {c}: not (v/255 - mean) / std")


def test_the_cifar10_constants_are_the_training_sets_channel_statistics():
    """Published per-channel mean and std of the 50,000 training images (pixels scaled to [0, 1])."""
    assert CIFAR10_MEAN == pytest.approx((0.4914, 0.4822, 0.4465), abs=5e-4)
    assert CIFAR10_STD == pytest.approx((0.2470, 0.2435, 0.2616), abs=5e-4)


def test_normalize_leaves_a_float_input_unchanged():
    images = torch.full((2, 3, 4, 4), 255.0)
    normalize(images, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    assert torch.equal(images, torch.full((2, 3, 4, 4), 255.0))


@pytest.mark.parametrize(("images", "error"), [(torch.zeros(3, 32, 32), ValueError), ([[1]], TypeError)])
def test_normalize_bad_input(images, error):
    with pytest.raises(error):
        normalize(images)


def _offsets(out: torch.Tensor, images: torch.Tensor, max_shift: int, *, mirrored: bool = False) -> list[tuple]:
    """The (dy, dx) in [-max_shift, max_shift] of the reflect-padded window that each output image is
    (with ``mirrored``, a ``(dy, dx, flipped)`` triple). Fails unless exactly one window fits each image."""
    h, w = images.shape[-2:]
    padded = torch.nn.functional.pad(images, (max_shift,) * 4, mode="reflect")
    candidates = [(dy, dx, flip) for dy in range(-max_shift, max_shift + 1) for dx in range(-max_shift, max_shift + 1)
                  for flip in ((False, True) if mirrored else (False,))]  # fmt: skip

    def window(dy: int, dx: int, flip: bool) -> torch.Tensor:
        view = padded[..., dy + max_shift : dy + max_shift + h, dx + max_shift : dx + max_shift + w]
        return view.flip(-1) if flip else view

    fits = torch.stack([(out == window(*c)).all(dim=(1, 2, 3)) for c in candidates], dim=1)  # (images, candidates)
    counts = fits.sum(dim=1)
    assert (counts == 1).all(), f"images {(counts != 1).nonzero().flatten().tolist()} are not one shifted copy each"
    return [candidates[j] if mirrored else candidates[j][:2] for j in fits.int().argmax(dim=1).tolist()]


def _small_batch(n: int, size: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)


@pytest.mark.parametrize("max_shift", [1, 2])
def test_translate_shifts_by_every_offset_in_range_and_only_those(max_shift):
    x = normalize(_small_batch(300))
    out = random_translate(x, max_shift, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    reached = set(_offsets(out, x, max_shift))
    expected = {(dy, dx) for dy in range(-max_shift, max_shift + 1) for dx in range(-max_shift, max_shift + 1)}
    assert reached == expected, f"offsets never drawn: {sorted(expected - reached)}"


def test_translate_by_zero_is_the_identity():
    x = normalize(_batch())
    assert random_translate(x, 0) is x


@pytest.mark.parametrize("bad", [-1, 32, 1.5])
def test_translate_bad_shift(bad):
    with pytest.raises(ValueError, match="max_shift"):
        random_translate(normalize(_batch()), bad)


def test_translate_crops_each_padded_image_at_its_own_offsets():
    from utils.augment import _translate

    x = normalize(_batch(6))
    shifts = torch.tensor([[0, 4, 2, 1, 3, 0], [4, 0, 2, 3, 1, 0]])  # (dy, dx) of each image, in [0, 2 * 2]
    padded = torch.nn.functional.pad(x, (2,) * 4, mode="reflect")
    expected = torch.stack([padded[i, :, dy : dy + 32, dx : dx + 32] for i, (dy, dx) in enumerate(shifts.T.tolist())])
    assert torch.equal(_translate(x, shifts, 2), expected)


def test_flip_mirrors_about_half_of_the_images():
    x = normalize(_batch(1000))
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = sum(torch.equal(out[i], x[i].flip(-1)) for i in range(len(x)))
    assert 430 < flipped < 570  # Binomial(1000, 0.5) within about 4 sd


def test_augmentation_is_deterministic_for_a_seed():
    x = normalize(_batch())
    a = random_flip(random_translate(x, 2, torch.Generator().manual_seed(5)), torch.Generator().manual_seed(6))
    b = random_flip(random_translate(x, 2, torch.Generator().manual_seed(5)), torch.Generator().manual_seed(6))
    torch.testing.assert_close(a, b)


def test_loader_lengths_shapes_and_order():
    images, labels = _batch(10), torch.arange(10)
    train = DeviceLoader(images, labels, 4, train=True, seed=0)
    test = DeviceLoader(images, labels, 4, train=False)
    assert len(train) == 2 and len(test) == 3  # training drops the last partial batch
    batches = list(train)
    assert [tuple(x.shape) for x, _ in batches] == [(4, 3, 32, 32)] * 2
    assert torch.cat([y for _, y in test]).tolist() == list(range(10))  # evaluation keeps the order


def test_loader_translates_by_every_offset_in_range_and_mirrors_after():
    images = _small_batch(300)
    loader = DeviceLoader(images, torch.arange(300), 300, train=True, max_shift=2, seed=0)
    x, y = next(iter(loader))
    found = _offsets(x, normalize(images)[y], 2, mirrored=True)
    reached = {(dy, dx) for dy, dx, _ in found}
    assert reached == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}, "not every shift of +-2 is drawn"
    assert 0 < sum(flip for *_, flip in found) < 300


def test_evaluation_batches_are_the_normalized_images_in_order_with_a_partial_last_batch():
    images = _small_batch(10)
    batches = list(DeviceLoader(images, torch.arange(10), 4, train=False, max_shift=2))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    x = torch.cat([x for x, _ in batches])
    mean, std = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1), torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(x, (images.float() / 255 - mean) / std)  # neither shifted nor flipped


def test_loader_state_dict_resumes_the_same_batches():
    images, labels = _batch(16), torch.arange(16)
    loader = DeviceLoader(images, labels, 4, train=True, seed=3)
    list(loader)  # one epoch
    state = loader.state_dict()
    expected = [y.tolist() for _, y in loader]
    fresh = DeviceLoader(images, labels, 4, train=True, seed=99)
    fresh.load_state_dict(state)
    assert [y.tolist() for _, y in fresh] == expected


def test_loader_channels_last():
    loader = DeviceLoader(_batch(4), torch.arange(4), 2, train=True, channels_last=True)
    x, _ = next(iter(loader))
    assert x.is_contiguous(memory_format=torch.channels_last)


def test_resize_shrinks_and_keeps_the_mean_colour():
    x = normalize(_batch(3))
    small = resize(x, 16)
    assert small.shape == (3, 3, 16, 16)
    torch.testing.assert_close(small.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=0.02, rtol=0)
    assert resize(x, 32) is x  # already that size: no copy


@pytest.mark.parametrize("size", [0, -4, 16.0, True])
def test_resize_rejects_bad_sizes(size):
    with pytest.raises(ValueError, match="size"):
        resize(normalize(_batch(2)), size)


def test_loader_image_size_can_change_between_epochs():
    loader = DeviceLoader(_batch(8), torch.arange(8), 4, train=True, image_size=16, channels_last=True)
    x, _ = next(iter(loader))
    assert x.shape == (4, 3, 16, 16) and x.is_contiguous(memory_format=torch.channels_last)
    loader.image_size = None
    assert next(iter(loader))[0].shape == (4, 3, 32, 32)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"batch_size": 0}, "batch_size"), ({"max_shift": -1}, "max_shift"), ({"image_size": 0}, "size")],
)
def test_loader_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DeviceLoader(_batch(4), torch.arange(4), **({"batch_size": 2} | kwargs), train=True)


def test_loader_mismatched_lengths():
    with pytest.raises(ValueError, match="labels"):
        DeviceLoader(_batch(4), torch.arange(3), 2, train=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_loader_keeps_everything_on_the_gpu():
    loader = DeviceLoader(_batch(8), torch.arange(8), 4, train=True, device="cuda")
    x, y = next(iter(loader))
    assert x.device.type == "cuda" and y.device.type == "cuda"


def test_an_epochs_randomness_is_drawn_once_at_its_start():
    """One draw and one host-to-device copy per epoch, not two per batch (each a GPU synchronisation)."""
    loader = DeviceLoader(_batch(16), torch.arange(16), 4, train=True, max_shift=2, seed=0)
    batches = iter(loader)
    next(batches)
    state_after_first_batch = loader.generator.get_state()
    rest = list(batches)
    assert len(rest) == 3 and torch.equal(state_after_first_batch, loader.generator.get_state())


def test_an_epoch_is_still_shuffled_shifted_and_flipped():
    images = torch.arange(16 * 3 * 8 * 8, dtype=torch.float32).reshape(16, 3, 8, 8).to(torch.uint8)
    loader = DeviceLoader(images, torch.arange(16), 16, train=True, max_shift=2, seed=0)
    x, y = next(iter(loader))
    assert not torch.equal(y, torch.arange(16))  # shuffled
    plain = DeviceLoader(images, torch.arange(16), 16, train=False)
    clean = next(iter(plain))[0][y]
    assert not torch.equal(x, clean)  # augmented


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_loader_state_saved_on_cuda_loads_back():
    loader = DeviceLoader(_batch(8), torch.arange(8), 4, train=True, device="cuda", seed=3)
    state = {key: value.to("cuda") for key, value in loader.state_dict().items()}  # as map_location=cuda would
    other = DeviceLoader(_batch(8), torch.arange(8), 4, train=True, device="cuda", seed=4)
    other.load_state_dict(state)
    assert torch.equal(other.generator.get_state(), loader.generator.get_state())


def test_flips_alternate_between_epochs():
    images = _batch(16)
    loader = DeviceLoader(images, torch.arange(16), 16, train=True, max_shift=0, seed=0)
    normalized = normalize(images)

    def mirrored(batch, labels):
        return {int(i) for x, i in zip(batch, labels, strict=True) if torch.equal(x, normalized[i].flip(-1))}

    epochs = [mirrored(*next(iter(loader))) for _ in range(3)]
    assert 0 < len(epochs[0]) < 16  # a random half (about) in the first epoch
    assert epochs[1] == set(range(16)) - epochs[0]  # then exactly the others
    assert epochs[2] == epochs[0]


def test_alternating_flips_survive_a_resume():
    images = _batch(16)
    loader = DeviceLoader(images, torch.arange(16), 8, train=True, seed=1)
    list(loader)
    state = loader.state_dict()
    expected = list(loader)
    fresh = DeviceLoader(images, torch.arange(16), 8, train=True, seed=7)
    fresh.load_state_dict(state)
    for (a, la), (b, lb) in zip(expected, fresh, strict=True):
        assert torch.equal(a, b) and torch.equal(la, lb)


def _windows(image: torch.Tensor, size: int) -> dict[tuple[int, int], torch.Tensor]:
    """Every ``size`` x ``size`` window of one ``(C, H, W)`` image, by its top-left corner."""
    h, w = image.shape[-2:]
    return {(r, c): image[:, r : r + size, c : c + size] for r in range(h - size + 1) for c in range(w - size + 1)}


def test_random_crop_is_a_window_of_each_image_and_reaches_every_position():
    x = normalize(_batch(400))
    out = random_crop(x, 28, torch.Generator().manual_seed(0))
    assert out.shape == (400, 3, 28, 28)
    corners = set()
    for i in range(len(x)):
        found = [corner for corner, window in _windows(x[i], 28).items() if torch.equal(out[i], window)]
        assert len(found) == 1  # random images: exactly one window matches
        corners |= set(found)
    assert corners == {(r, c) for r in range(5) for c in range(5)}  # all 25 corners of a 32 -> 28 crop


def test_random_crop_of_the_full_size_is_the_image():
    x = normalize(_batch(4))
    assert torch.equal(random_crop(x, 32), x)


@pytest.mark.parametrize("bad", [0, 33, 2.5, True])
def test_random_crop_bad_size(bad):
    with pytest.raises(ValueError, match="crop size"):
        random_crop(normalize(_batch(2)), bad)


def test_a_loader_crop_is_a_random_window_instead_of_a_translation():
    images = _batch(64)
    loader = DeviceLoader(images, torch.arange(64), 64, train=True, max_shift=2, seed=0, crop_size=24)
    normalized = normalize(images)
    x, y = next(iter(loader))
    assert x.shape == (64, 3, 24, 24)
    corners = set()
    for crop, i in zip(x, y.tolist(), strict=True):
        windows = _windows(normalized[i], 24)
        found = [c for c, w in windows.items() if torch.equal(crop, w) or torch.equal(crop, w.flip(-1))]
        assert len(found) == 1  # a window of the image itself (mirrored or not), not of a padded copy
        corners |= set(found)
    assert len(corners) > 25  # positions spread over the 9 x 9 possible corners, beyond a +-2 shift's 5 x 5


def test_a_full_size_crop_turns_the_translation_off():
    images = _batch(16)
    loader = DeviceLoader(images, torch.arange(16), 16, train=True, max_shift=2, seed=0, crop_size=32)
    normalized = normalize(images)
    x, y = next(iter(loader))
    for image, i in zip(x, y, strict=True):  # the image itself, mirrored or not: no shift at all
        assert torch.equal(image, normalized[i]) or torch.equal(image, normalized[i].flip(-1))


def test_cropping_a_later_epoch_leaves_the_earlier_epochs_batches_as_they_were():
    images = _batch(16)
    plain = DeviceLoader(images, torch.arange(16), 8, train=True, seed=2)
    cropped = DeviceLoader(images, torch.arange(16), 8, train=True, seed=2)
    for (a, la), (b, lb) in zip(plain, cropped, strict=True):  # epoch 1: neither crops
        assert torch.equal(a, b) and torch.equal(la, lb)
    cropped.crop_size = 28
    assert {tuple(x.shape[-2:]) for x, _ in cropped} == {(28, 28)}
    cropped.crop_size = None
    assert {tuple(x.shape[-2:]) for x, _ in cropped} == {(32, 32)}  # and back to full size


@pytest.mark.parametrize("bad", [0, 40, 1.5])
def test_a_loader_rejects_a_bad_crop_size(bad):
    with pytest.raises(ValueError, match="crop size"):
        DeviceLoader(_batch(4), torch.arange(4), 2, train=True, crop_size=bad)
    loader = DeviceLoader(_batch(4), torch.arange(4), 2, train=True)
    loader.crop_size = bad  # set between epochs, as a training loop does: refused when the epoch starts
    with pytest.raises(ValueError, match="crop size"):
        next(iter(loader))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_loader_crops_on_the_gpu_as_on_the_cpu():
    images = _batch(32)
    batches = {}
    for device in ("cpu", "cuda"):
        loader = DeviceLoader(images, torch.arange(32), 16, train=True, device=device, seed=4, crop_size=28)
        batches[device] = [(x.cpu(), y.cpu()) for x, y in loader]
        assert all(x.device.type == device and x.shape[-1] == 28 for x, _ in loader)
    for (a, la), (b, lb) in zip(batches["cpu"], batches["cuda"], strict=True):
        assert torch.equal(la, lb)  # the same draws: every random number comes from the CPU generator
        torch.testing.assert_close(a, b)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_random_crop_keeps_a_gpu_batch_on_the_gpu():
    x = normalize(_batch(4)).cuda()
    out = random_crop(x, 24, torch.Generator().manual_seed(0))
    assert out.device.type == "cuda" and out.shape == (4, 3, 24, 24)
