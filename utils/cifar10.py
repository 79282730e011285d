"""CIFAR-10 as uint8 tensors: found locally or downloaded, decoded once, cached.

Sources, in order:

1. a local copy named by the ``path`` argument or by ``$BOOK_CIFAR10``: torchvision's
   ``cifar-10-batches-py`` folder (or a folder holding it), an image-folder tree
   ``train/<class>/*`` and ``test/<class>/*``, or a ``.tar.gz``/``.tgz``/``.tar`` of either;
2. torchvision's download of the original, when the machine is online.

What is checked before anything is used, each failure a ``ValueError`` that says what to fix:

- every file of a ``cifar-10-batches-py`` folder (``data_batch_1`` to ``data_batch_5``, ``test_batch``)
  must be present and match the md5 checksum torchvision publishes for it, before it is unpickled;
- an archive must read to the end (a damaged or partly copied one is reported as such);
- whatever the layout, the data must hold the full CIFAR-10: 5,000 training and 1,000 test images
  of each class (:data:`EXPECTED_PER_CLASS`).

macOS metadata (``__MACOSX/`` folders, ``._*`` AppleDouble files) in an archive or a folder is skipped.

The decoded arrays are cached (``$BOOK_CACHE``, default ``~/.cache/regularization-executed``) in
one file per source, written atomically and checked on load, so the second load takes well under
a second and a corrupt or partial cache is detected and rebuilt.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import re
import socket
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .files import atomic_torch_save

__all__ = [
    "CLASSES",
    "DATA_ENV_VAR",
    "CACHE_ENV_VAR",
    "EXPECTED_PER_CLASS",
    "CIFAR10",
    "load_cifar10",
    "default_cache_dir",
]

CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
DATA_ENV_VAR = "BOOK_CIFAR10"
CACHE_ENV_VAR = "BOOK_CACHE"
_CACHE_FORMAT = 1
_DOWNLOAD_HOST = ("www.cs.toronto.edu", 443)
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
EXPECTED_PER_CLASS: dict[str, int] = {"train": 5000, "test": 1000}
"""Images of each class in each split of the real CIFAR-10; a copy with other counts is refused."""
# what a damaged or partly copied archive raises while it is read (gzip.BadGzipFile is an OSError)
_DAMAGED_ARCHIVE = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


@dataclass
class CIFAR10:
    """CIFAR-10 as tensors: images ``uint8 (N, 3, 32, 32)``, labels ``int64 (N,)``, and where they came from."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: str

    def subset(self, n_train: int | None = None, n_test: int | None = None, seed: int = 0) -> CIFAR10:
        """A random, class-mixed subset (``None`` keeps a split whole).

        Raises:
            ValueError: if a size is not positive or exceeds the split.
        """
        g = torch.Generator().manual_seed(seed)

        def pick(images: torch.Tensor, labels: torch.Tensor, n: int | None, name: str):
            if n is None:
                return images, labels
            if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= len(labels):
                raise ValueError(f"{name} must be an int in [1, {len(labels)}], got {n!r}")
            index = torch.randperm(len(labels), generator=g)[:n]
            return images[index], labels[index]

        train = pick(self.train_images, self.train_labels, n_train, "n_train")
        test = pick(self.test_images, self.test_labels, n_test, "n_test")
        return CIFAR10(*train, *test, source=f"{self.source} (subset {len(train[1])}/{len(test[1])})")

    def validation_split(self, per_class: int, seed: int = 0) -> CIFAR10:
        """The training set split in two: ``per_class`` random images of each class held out as the
        *test* split of the result, the rest as its training split; the real test set is left out.

        Tune on this, never on the test set. The held-out images are the same for a given ``seed``.

        Raises:
            ValueError: if ``per_class`` is not a positive int, or leaves a class with no training image.
        """
        if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
            raise ValueError(f"per_class must be a positive int, got {per_class!r}")
        g = torch.Generator().manual_seed(seed)
        held_out = []
        for label in torch.unique(self.train_labels):
            members = torch.nonzero(self.train_labels == label).flatten()
            if per_class >= len(members):
                raise ValueError(f"class {int(label)} has {len(members)} training images, cannot hold out {per_class}")
            held_out.append(members[torch.randperm(len(members), generator=g)[:per_class]])
        val = torch.cat(held_out)
        val = val[torch.randperm(len(val), generator=g)]  # classes mixed, not in blocks
        keep = torch.ones(len(self.train_labels), dtype=torch.bool)
        keep[val] = False
        train = torch.nonzero(keep).flatten()
        train = train[torch.randperm(len(train), generator=g)]
        return CIFAR10(
            self.train_images[train], self.train_labels[train], self.train_images[val], self.train_labels[val],
            source=f"{self.source} (training set minus {len(val)} held-out validation images, seed {seed})",
        )


def default_cache_dir() -> Path:
    """``$BOOK_CACHE``, or ``~/.cache/regularization-executed``."""
    return Path(os.environ.get(CACHE_ENV_VAR) or Path.home() / ".cache" / "regularization-executed")


# ----------------------------------------------------------------------------- readers of each layout


def _is_macos_junk(name: str) -> bool:
    """A ``._*`` AppleDouble file or anything under ``__MACOSX/`` (``name`` relative to the copy): macOS metadata."""
    parts = Path(name).parts
    return bool(parts) and (parts[-1].startswith("._") or "__MACOSX" in parts)


def _batch_checksums() -> dict[str, list[tuple[str, str]]]:
    """torchvision's published ``(file name, md5)`` of each pickled batch, by split.

    Taken from torchvision (imported here, on use, because it is slow to import) so that this
    code never holds a copy of the checksums.
    """
    from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10

    return {
        "train": [(name, md5) for name, md5 in TorchvisionCIFAR10.train_list],
        "test": [(name, md5) for name, md5 in TorchvisionCIFAR10.test_list],
    }


def _check_batch_files(folder: Path, checksums: dict[str, list[tuple[str, str]]]) -> None:
    """Every batch file is present and matches its checksum; raises ``ValueError`` naming the first that is not."""
    from torchvision.datasets.utils import check_integrity

    files = checksums["train"] + checksums["test"]
    for name, md5 in files:
        file = folder / name
        if not file.is_file():
            raise ValueError(
                f"{file} is missing: a complete cifar-10-batches-py holds {', '.join(n for n, _ in files)}. "
                f"Copy the whole folder again and point ${DATA_ENV_VAR} (or path=) at it."
            )
        if not check_integrity(file, md5):
            raise ValueError(
                f"{file} does not match torchvision's published checksum: it is corrupt or not the original "
                f"CIFAR-10 file. Download or copy cifar-10-batches-py again and point ${DATA_ENV_VAR} (or path=) "
                "at the new copy."
            )


def _read_batches(folder: Path) -> tuple[torch.Tensor, ...]:
    """torchvision's ``cifar-10-batches-py``: pickled dicts of ``data`` (N, 3072) and ``labels``.

    Each file is checked against torchvision's published md5 before it is unpickled.
    """
    checksums = _batch_checksums()
    _check_batch_files(folder, checksums)

    def read(names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = [], []
        for name in names:
            with open(folder / name, "rb") as f:
                batch = pickle.load(f, encoding="latin1")
            images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.extend(batch["labels"])
        return torch.from_numpy(np.concatenate(images)), torch.tensor(labels, dtype=torch.int64)

    return (*read([name for name, _ in checksums["train"]]), *read([name for name, _ in checksums["test"]]))


def _decode_image(source: str | Path | io.BytesIO, name: str) -> np.ndarray:
    """One 32x32 RGB image as a uint8 ``(32, 32, 3)`` array; ``name`` is used in the error."""
    from PIL import Image

    with Image.open(source) as image:
        array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    if array.shape != (32, 32, 3):
        raise ValueError(f"{name} is {array.shape[1]}x{array.shape[0]}, not a 32x32 CIFAR-10 image")
    return array


def _stack(images: list[np.ndarray], labels: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """HWC arrays to a contiguous ``(N, 3, 32, 32)`` uint8 tensor, with int64 labels."""
    stacked = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return stacked, torch.tensor(labels, dtype=torch.int64)


def _read_image_folder(root: Path) -> tuple[torch.Tensor, ...]:
    """``train/<class>/*`` and ``test/<class>/*``; class folders in CIFAR-10 label order."""

    def read(split: Path) -> tuple[torch.Tensor, torch.Tensor]:
        folders = sorted(p for p in split.iterdir() if p.is_dir() and not _is_macos_junk(p.name))
        names = [p.name for p in folders]
        if names != list(CLASSES):
            raise ValueError(f"{split} must hold the 10 CIFAR-10 class folders {list(CLASSES)}, found {names}")
        images, labels = [], []
        for label, folder in enumerate(folders):
            for file in sorted(folder.iterdir()):
                if file.suffix.lower() not in _IMAGE_SUFFIXES or _is_macos_junk(file.name):
                    continue
                images.append(_decode_image(file, str(file)))
                labels.append(label)
        if not images:
            raise ValueError(f"{split} holds no images")
        return _stack(images, labels)

    return (*read(root / "train"), *read(root / "test"))


def _find_layout(root: Path) -> tuple[str, Path] | None:
    """The layout found at ``root`` or one level below it: ``("batches", dir)`` or ``("folders", dir)``."""
    for candidate in (root, *sorted(p for p in root.iterdir() if p.is_dir() and not _is_macos_junk(p.name))):
        if (candidate / "test_batch").exists() or any(candidate.glob("data_batch_*")):
            return "batches", candidate
        if (candidate / "train").is_dir() and (candidate / "test").is_dir():
            return "folders", candidate
    return None


_LAYOUTS = (
    "torchvision's cifar-10-batches-py folder, an image-folder tree train/<class>/ and test/<class>/, "
    "or a .tar.gz/.tgz/.tar archive of either"
)


def _read_image_tar(archive: tarfile.TarFile) -> tuple[torch.Tensor, ...] | None:
    """Decode an image-folder tree straight from an archive (no extraction); ``None`` if it holds none."""
    pattern = re.compile(r"(?:^|/)(train|test)/([^/]+)/[^/]+$")
    splits: dict[str, tuple[list[np.ndarray], list[int]]] = {"train": ([], []), "test": ([], [])}
    for member in archive:
        match = pattern.search(member.name)
        if not member.isfile() or match is None or Path(member.name).suffix.lower() not in _IMAGE_SUFFIXES:
            continue
        if _is_macos_junk(member.name):
            continue
        split, cls = match.groups()
        if cls not in CLASSES:
            raise ValueError(f"unknown class folder {cls!r} in the archive; expected {list(CLASSES)}")
        splits[split][0].append(_decode_image(io.BytesIO(archive.extractfile(member).read()), member.name))
        splits[split][1].append(CLASSES.index(cls))
    if not splits["train"][0] and not splits["test"][0]:
        return None
    result: list[torch.Tensor] = []
    for split, (images, labels) in splits.items():
        if not images:
            raise ValueError(f"the archive has no {split}/ images")
        result += _stack(images, labels)
    return tuple(result)


def _read_local(path: Path) -> tuple[torch.Tensor, ...]:
    """Read an existing local copy in any supported layout."""
    if path.is_file():
        if not (path.name.endswith((".tar.gz", ".tgz", ".tar"))):
            raise ValueError(f"{path} is a file but not a .tar.gz/.tgz/.tar archive; expected {_LAYOUTS}")
        with tempfile.TemporaryDirectory() as tmp:
            try:
                with tarfile.open(path) as archive:
                    images = _read_image_tar(archive)
                    if images is None:  # a few pickled batch files: extract them, then read the folder
                        members = [m for m in archive.getmembers() if not _is_macos_junk(m.name)]
                        archive.extractall(tmp, members=members, filter="data")
            except _DAMAGED_ARCHIVE as error:
                raise ValueError(
                    f"the archive {path} is damaged or incomplete ({error}). Download or copy it again, "
                    f"then point ${DATA_ENV_VAR} (or path=) at the new copy."
                ) from error
            return images if images is not None else _read_local(Path(tmp))
    layout = _find_layout(path)
    if layout is None:
        raise ValueError(f"no CIFAR-10 data found in {path}; expected {_LAYOUTS}")
    kind, folder = layout
    return _read_batches(folder) if kind == "batches" else _read_image_folder(folder)


def _online(timeout: float = 5.0) -> bool:
    try:
        with socket.create_connection(_DOWNLOAD_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def _download(cache_dir: Path) -> tuple[torch.Tensor, ...]:
    if not _online():
        raise RuntimeError(
            "CIFAR-10 is not available: no local copy was given and the download server cannot be reached. "
            f"Either set ${DATA_ENV_VAR} (or pass path=...) to a local copy ({_LAYOUTS}), "
            "or run on a machine with internet access so that torchvision can download the original."
        )
    from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10

    TorchvisionCIFAR10(str(cache_dir), train=True, download=True)
    return _read_batches(cache_dir / "cifar-10-batches-py")


def _check_class_counts(tensors: tuple[torch.Tensor, ...]) -> None:
    """Each split holds :data:`EXPECTED_PER_CLASS` images of every class; else ``ValueError`` naming the first."""
    for split, labels in (("train", tensors[1]), ("test", tensors[3])):
        expected = EXPECTED_PER_CLASS[split]
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= len(CLASSES)):
            raise ValueError(
                f"the {split} split has labels outside 0-9: this is not CIFAR-10. "
                f"Check the copy named by ${DATA_ENV_VAR} (or path=)."
            )
        counts = torch.bincount(labels, minlength=len(CLASSES)).tolist()
        for cls, found in zip(CLASSES, counts, strict=True):
            if found != expected:
                raise ValueError(
                    f"the {split} split has {found:,} {cls} {'image' if found == 1 else 'images'}, expected "
                    f"{expected:,}: the copy named by ${DATA_ENV_VAR} (or path=) is incomplete or not the "
                    "original CIFAR-10."
                )


# ----------------------------------------------------------------------------- cache


def _fingerprint(tensors: tuple[torch.Tensor, ...]) -> list[int]:
    """A cheap checksum of each tensor: the wrapping sum of its bytes read as 64-bit words."""
    sums = []
    for t in tensors:
        raw = t.contiguous().view(-1).view(torch.uint8)
        if raw.numel() % 8 == 0:
            sums.append(int(raw.view(torch.int64).sum()))
        else:
            sums.append(int(raw.sum(dtype=torch.int64)))
    return sums


def _cache_file(cache_dir: Path, path: Path | None) -> Path:
    if path is None:
        key = "download"
    else:
        stat = path.stat()
        key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_dir / f"cifar10-{key}.pt"


def _load_cache(file: Path) -> tuple[torch.Tensor, ...] | None:
    """The cached tensors, or ``None`` if the file is missing, unreadable or inconsistent."""
    try:
        blob = torch.load(file, weights_only=True, mmap=True)  # no copy: pages are read on use
        tensors = tuple(blob[k] for k in ("train_images", "train_labels", "test_images", "test_labels"))
        ok = (
            blob["format"] == _CACHE_FORMAT
            and all(t.dtype == torch.uint8 for t in tensors[::2])
            and all(t.dtype == torch.int64 for t in tensors[1::2])
            and tensors[0].shape[1:] == (3, 32, 32) == tensors[2].shape[1:]
            and len(tensors[0]) == len(tensors[1])
            and len(tensors[2]) == len(tensors[3])
            and blob["fingerprint"] == _fingerprint(tensors)
        )
        return tensors if ok else None
    except Exception:  # a partial or corrupt file fails in many ways; all mean "rebuild it"
        return None


def _save_cache(file: Path, tensors: tuple[torch.Tensor, ...], source: str) -> None:
    blob = dict(zip(("train_images", "train_labels", "test_images", "test_labels"), tensors, strict=True))
    blob |= {"format": _CACHE_FORMAT, "fingerprint": _fingerprint(tensors), "source": source}
    atomic_torch_save(blob, file)


def load_cifar10(
    path: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    verbose: bool = True,
) -> CIFAR10:
    """Load CIFAR-10 (train 50,000 and test 10,000 images for the real data set).

    Args:
        path: a local copy (see the module docstring); defaults to ``$BOOK_CIFAR10``; if neither
            is set, torchvision downloads the original.
        cache_dir: where decoded arrays are cached (default :func:`default_cache_dir`).
        verbose: print one line saying where the data came from.

    Raises:
        FileNotFoundError: if the given path does not exist.
        ValueError: if the path holds no recognised layout, the layout is malformed, a batch file
            does not match torchvision's checksum, an archive is damaged, or a split does not hold
            :data:`EXPECTED_PER_CLASS` images of each class.
        RuntimeError: if no local copy is given and the machine is offline.
    """
    if path is None and os.environ.get(DATA_ENV_VAR):
        path = os.environ[DATA_ENV_VAR]
    local = Path(path).expanduser() if path is not None else None
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if local is not None and not local.exists():
        raise FileNotFoundError(f"CIFAR-10 copy not found: {local} (set by argument or ${DATA_ENV_VAR})")
    source = f"local copy {local.name}" if local is not None else "torchvision download of the original"
    file = _cache_file(cache_root, local)
    tensors = _load_cache(file)
    how = "cache"
    if tensors is None:
        tensors = _read_local(local) if local is not None else _download(cache_root)
        _check_class_counts(tensors)  # before caching: a refused copy leaves no cache behind
        _save_cache(file, tensors, source)
        how = "decoded and cached"
    else:
        _check_class_counts(tensors)  # cheap, and covers caches written before this check existed
    data = CIFAR10(*tensors, source=source)
    if verbose:
        print(f"CIFAR-10 from {source} ({how}): {len(data.train_labels)} train, {len(data.test_labels)} test images")
    return data
