"""Batches drawn and augmented on the device: no per-image PIL work in the training loop.

The whole data set sits on the device as uint8; each batch is indexed out, converted to
normalized floats, randomly translated (reflect padding, then a random crop) and flipped, all as
batched tensor operations, and optionally made smaller (progressive resizing: cheap low-resolution
epochs first): resized, or, instead of the translation, cropped to a random smaller window. A seeded
``torch.Generator`` makes every epoch reproducible.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .checks import image_batch, positive_int

__all__ = [
    "CIFAR10_MEAN", "CIFAR10_STD", "normalize", "channel_constants", "random_translate", "random_crop",
    "random_flip", "resize", "DeviceLoader",
]  # fmt: skip

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def normalize(images: torch.Tensor, mean=CIFAR10_MEAN, std=CIFAR10_STD, dtype=torch.float32) -> torch.Tensor:
    """uint8 ``(N, 3, H, W)`` images to floats with per-channel zero mean and unit variance.

    Raises:
        TypeError: if ``images`` is not a tensor. ValueError: if it is not 4-D with 3 channels.
    """
    image_batch("images", images)
    if images.shape[1] != len(mean):
        raise ValueError(f"images have {images.shape[1]} channels, mean/std have {len(mean)}")
    return _normalize(images, *channel_constants(mean, std, images.device, dtype))


def channel_constants(
    mean=CIFAR10_MEAN, std=CIFAR10_STD, device: torch.device | str = "cpu", dtype=torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """``mean`` and ``std`` as ``(1, C, 1, 1)`` tensors of ``dtype`` on ``device``.

    Building them is a copy from the host: on a GPU the host waits for it, so a loader builds them
    once, not for every batch.
    """
    return tuple(torch.tensor(v, device=device, dtype=dtype).view(1, -1, 1, 1) for v in (mean, std))


def _normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``(images / 255 - mean) / std`` in the dtype of ``mean``, from per-channel tensors."""
    # one new tensor, then in place (the same roundings as out of place); copy=True keeps a float
    # input of this dtype from being changed under its caller
    return images.to(mean.dtype, copy=True).div_(255).sub_(mean).div_(std)


def random_translate(images: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by a random (dy, dx) in ``[-max_shift, max_shift]``, reflecting at the borders.

    Raises:
        ValueError: if ``max_shift`` is negative or not smaller than the image size.
    """
    image_batch("images", images)
    _check_max_shift(max_shift, images)
    if max_shift == 0:
        return images
    shifts = torch.randint(0, 2 * max_shift + 1, (2, len(images)), generator=generator).to(images.device)
    return _translate(images, shifts, max_shift)


def _check_max_shift(max_shift: object, images: torch.Tensor) -> None:
    size = min(images.shape[-2:])
    if isinstance(max_shift, bool) or not isinstance(max_shift, int) or not 0 <= max_shift < size:
        raise ValueError(f"max_shift must be an int in [0, {size}), got {max_shift!r}")


def _translate(images: torch.Tensor, shifts: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Crop each reflect-padded image at offsets ``shifts[:, i]`` in ``[0, 2 * max_shift]``."""
    padded = torch.nn.functional.pad(images, (max_shift,) * 4, mode="reflect")
    return _crop(padded, shifts, *images.shape[-2:])


def _crop(images: torch.Tensor, offsets: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The ``height`` x ``width`` window of image ``i`` whose top-left corner is at ``offsets[:, i]`` (row, column).

    Rows first, then columns, each a ``gather`` along one axis: no host-device synchronisation, and
    on a CPU about three times faster than one 4-D advanced index.
    """
    n, c, _, w = images.shape
    rows = offsets[0, :, None] + torch.arange(height, device=images.device)  # (n, height)
    cols = offsets[1, :, None] + torch.arange(width, device=images.device)  # (n, width)
    images = images.gather(2, rows[:, None, :, None].expand(n, c, height, w))
    return images.gather(3, cols[:, None, None, :].expand(n, c, height, width))


def _check_crop_size(size: object, images: torch.Tensor) -> None:
    limit = min(images.shape[-2:])
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= limit:
        raise ValueError(f"crop size must be an int in [1, {limit}], got {size!r}")


def random_crop(images: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random ``size`` x ``size`` window of each image, every position equally likely.

    Unlike :func:`resize`, a crop keeps the objects' scale (a 28-pixel crop shows less of the
    scene, at the same pixels per object) and costs no resampling.

    Raises:
        ValueError: if ``size`` is not an int between 1 and the image size.
    """
    image_batch("images", images)
    _check_crop_size(size, images)
    offsets = _crop_offsets(images.shape[-2:], size, len(images), generator)
    return _crop(images, offsets.to(images.device), size, size)


def _crop_offsets(shape: tuple[int, int], size: int, n: int, generator: torch.Generator | None) -> torch.Tensor:
    """``(2, n)`` random top-left corners (row, column) of ``size`` windows in an image of ``shape``."""
    rows = torch.randint(0, shape[0] - size + 1, (n,), generator=generator)
    cols = torch.randint(0, shape[1] - size + 1, (n,), generator=generator)
    return torch.stack((rows, cols))


def random_flip(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    image_batch("images", images)
    flip = (torch.rand(len(images), generator=generator, device="cpu") < 0.5).to(images.device)
    return _flip(images, flip)


def _flip(images: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror the images where the boolean ``flip`` is true."""
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Float images resized to ``size x size`` (bilinear, antialiased when shrinking).

    Raises:
        TypeError: if ``images`` is not a tensor. ValueError: if it is not 4-D, or ``size`` is not a positive int.
    """
    image_batch("images", images)
    positive_int("size", size)
    if images.shape[-2:] == (size, size):
        return images
    return torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", antialias=True)


class DeviceLoader:
    """Iterate over shuffled, augmented minibatches of a data set held on ``device``.

    Args:
        images: uint8 ``(N, 3, H, W)``. labels: int64 ``(N,)``.
        batch_size: examples per batch; the last partial batch is dropped when ``train``.
        train: shuffle and augment (translate by up to ``max_shift`` pixels, flip) if True.
            Flips alternate (airbench's derandomised flipping): the first epoch mirrors a random half
            of the images, and every later epoch mirrors exactly the images the epoch before did
            not, so each image is seen both ways in every two epochs.
        seed: seeds the shuffling and augmentation; ``state_dict`` saves their progress.
        image_size: resize every batch to this size (after augmentation); ``None`` keeps the
            native size. It is a plain attribute, so a training loop may change it between epochs.
        crop_size: when training, a random ``crop_size`` x ``crop_size`` window of each image
            (:func:`random_crop`) takes the place of the translation (the window's position is the
            shift); ``None`` for none. A plain attribute too. A crop epoch draws its windows after
            its other random numbers, so a loader that never crops draws exactly what it drew
            before the option existed, and the epochs before a crop epoch are unchanged by it.

    Raises:
        ValueError: on mismatched lengths, a non-positive batch size, a bad ``max_shift``, ``image_size``
            or ``crop_size`` (the last when an epoch starts).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        *,
        train: bool,
        device: torch.device | str = "cpu",
        max_shift: int = 2,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
        channels_last: bool = False,
        image_size: int | None = None,
        crop_size: int | None = None,
    ):
        image_batch("images", images)
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        positive_int("batch_size", batch_size)
        _check_max_shift(max_shift, images)
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.batch_size, self.train, self.max_shift = batch_size, train, max_shift
        self.dtype, self.channels_last = dtype, channels_last
        self.mean, self.std = channel_constants(device=self.device, dtype=dtype)  # once, not per batch
        if image_size is not None:
            positive_int("image_size", image_size)
        self.image_size = image_size
        self.crop_size = crop_size
        if crop_size is not None:
            _check_crop_size(crop_size, images)
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch = 0  # epochs started so far
        self.first_flips: torch.Tensor | None = None  # image i is mirrored in epoch e iff first_flips[i] xor (e odd)

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.train else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = shifts = flips = crops = None
        if self.train:  # the whole epoch's randomness, drawn at once and copied to the device once
            order_cpu = torch.randperm(n, generator=self.generator)
            order = self._to_device(order_cpu)
            shifts = self._to_device(torch.randint(0, 2 * self.max_shift + 1, (2, n), generator=self.generator))
            if self.first_flips is None:
                self.first_flips = torch.rand(n, generator=self.generator) < 0.5
            flips = self._to_device((self.first_flips ^ bool(self.epoch % 2))[order_cpu])
            if self.crop_size is not None:  # drawn last: the draws above stay those of an epoch without it
                _check_crop_size(self.crop_size, self.images)
                crops = self._to_device(_crop_offsets(self.images.shape[-2:], self.crop_size, n, self.generator))
            self.epoch += 1
        for i in range(len(self)):
            index = order[i * self.batch_size : (i + 1) * self.batch_size] if order is not None else None
            if index is None:  # evaluation: batches in order
                index = torch.arange(i * self.batch_size, min(n, (i + 1) * self.batch_size), device=self.device)
            images, labels = self.images[index], self.labels[index]
            x = _normalize(images, self.mean, self.std)
            if self.train:
                batch = slice(i * self.batch_size, (i + 1) * self.batch_size)
                if crops is not None:
                    x = _crop(x, crops[:, batch], self.crop_size, self.crop_size)
                elif self.max_shift:
                    x = _translate(x, shifts[:, batch], self.max_shift)
                x = _flip(x, flips[batch])
            if self.image_size is not None:
                x = resize(x, self.image_size)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, labels

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """A host tensor on the loader's device. To a GPU through pinned memory, without waiting: a
        copy from ordinary host memory would make the host wait for the GPU's queue to drain."""
        if self.device.type != "cuda":
            return tensor.to(self.device)
        return tensor.pin_memory().to(self.device, non_blocking=True)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The random state, to resume the exact sequence of batches after a checkpoint."""
        state = {"generator": self.generator.get_state(), "epoch": torch.tensor(self.epoch)}
        if self.first_flips is not None:
            state["first_flips"] = self.first_flips.clone()
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore a state saved by :meth:`state_dict`, wherever its tensors were loaded to."""
        self.generator.set_state(state["generator"].cpu())  # a CPU generator takes a CPU ByteTensor
        self.epoch = int(state["epoch"])
        first_flips = state.get("first_flips")
        self.first_flips = None if first_flips is None else first_flips.cpu().clone()
