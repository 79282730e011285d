"""CIFAR-10 loading on tiny generated data in every supported layout, the cache, and the errors.

The loader refuses anything but the full original data set (torchvision's checksums, 5,000 and
1,000 images per class); the tiny fakes here are accepted by pointing those checks at the fakes'
own checksums and counts with ``monkeypatch`` (:func:`accept_fake_copy`), in this process only.
"""

import hashlib
import pickle
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from utils import cifar10
from utils.cifar10 import CIFAR10, CLASSES, DATA_ENV_VAR, load_cifar10


def _images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def make_batches(folder, per_batch=10, n_batches=2, n_test=10):
    """torchvision's layout: pickled dicts with `data` (N, 3072) and `labels`.

    Labels cycle through the classes over each split, so the defaults give 2 train and 1 test
    image per class, like :func:`make_image_folder`.
    """
    folder.mkdir(parents=True)
    expected = {"train": [], "test": []}
    for i in range(n_batches + 1):
        name, n = (f"data_batch_{i + 1}", per_batch) if i < n_batches else ("test_batch", n_test)
        images = _images(n, i)
        first = i * per_batch if i < n_batches else 0  # index of this batch's first image in its split
        labels = [(first + k) % 10 for k in range(n)]
        data = images.transpose(0, 3, 1, 2).reshape(n, -1)
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f)
        expected["test" if name == "test_batch" else "train"].append((images, labels))
    return expected


def relabel(file, index, label):
    """Change one label in a pickled batch file."""
    with open(file, "rb") as f:
        batch = pickle.load(f)
    batch["labels"][index] = label
    with open(file, "wb") as f:
        pickle.dump(batch, f)


def make_image_folder(root, per_class=(2, 1), bad_class=None, size=32):
    """train/<class>/*.png and test/<class>/*.png (PNG: lossless, so pixels can be compared)."""
    pixels = {}
    for split, n in zip(("train", "test"), per_class, strict=True):
        for label, cls in enumerate(CLASSES):
            folder = root / split / (bad_class if bad_class and label == 0 else cls)
            folder.mkdir(parents=True)
            for k in range(n):
                array = _images(1, 100 * label + k)[0][:size, :size]
                Image.fromarray(array).save(folder / f"{k:04d}.png")
                pixels[(split, label, k)] = array
    return pixels


def fake_checksums(folder):
    """The md5 of each batch file :func:`make_batches` wrote, in the form of torchvision's published list."""

    def md5(name):
        return hashlib.md5((folder / name).read_bytes()).hexdigest()

    train = sorted(p.name for p in folder.glob("data_batch_*"))
    return {"train": [(name, md5(name)) for name in train], "test": [("test_batch", md5("test_batch"))]}


def accept_fake_copy(monkeypatch, per_class=(2, 1), batches=None):
    """Make the loader expect a fake copy: ``per_class`` (train, test) images of each class and, if
    ``batches`` names a fake ``cifar-10-batches-py`` folder, the md5 of its files as they are now.

    Only the expected values change: the checks themselves (torchvision's ``check_integrity``
    included) run as they do on the real data set.
    """
    monkeypatch.setattr(cifar10, "EXPECTED_PER_CLASS", {"train": per_class[0], "test": per_class[1]})
    if batches is not None:
        checksums = fake_checksums(batches)
        monkeypatch.setattr(cifar10, "_batch_checksums", lambda: checksums)


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def small(monkeypatch):
    """Expect the fakes' 2 train and 1 test image per class instead of the real 5,000 and 1,000."""
    accept_fake_copy(monkeypatch)


def test_the_checks_expect_the_real_data_set():
    from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10

    assert cifar10.EXPECTED_PER_CLASS == {"train": 5000, "test": 1000}
    checksums = cifar10._batch_checksums()
    assert [name for name, _ in checksums["train"]] == [f"data_batch_{i}" for i in range(1, 6)]
    assert [name for name, _ in checksums["test"]] == ["test_batch"]
    assert [list(entry) for entry in checksums["train"]] == TorchvisionCIFAR10.train_list
    assert [list(entry) for entry in checksums["test"]] == TorchvisionCIFAR10.test_list


def test_batches_folder(tmp_path, cache, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    expected = make_batches(folder)
    accept_fake_copy(monkeypatch, batches=folder)
    from torchvision.datasets import utils as tv_utils

    checked = []
    real_check = tv_utils.check_integrity

    def spy(path, md5=None):
        checked.append(path.name)
        return real_check(path, md5)  # the real md5 comparison runs

    monkeypatch.setattr(tv_utils, "check_integrity", spy)
    data = load_cifar10(tmp_path, cache_dir=cache, verbose=False)  # the folder holding cifar-10-batches-py
    assert checked == ["data_batch_1", "data_batch_2", "test_batch"]
    assert data.train_images.shape == (20, 3, 32, 32) and data.train_images.dtype == torch.uint8
    assert data.test_images.shape == (10, 3, 32, 32)
    first_images, first_labels = expected["train"][0]
    torch.testing.assert_close(data.train_images[0], torch.from_numpy(first_images[0]).permute(2, 0, 1))
    assert data.train_labels[:10].tolist() == first_labels


def test_fake_batches_fail_torchvision_checksums(tmp_path, cache, small):
    make_batches(tmp_path / "cifar-10-batches-py")
    with pytest.raises(ValueError, match=r"data_batch_1 does not match torchvision's published checksum"):
        load_cifar10(tmp_path, cache_dir=cache, verbose=False)


def test_a_batch_file_with_one_byte_changed_is_refused_before_unpickling(tmp_path, cache, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    make_batches(folder)
    accept_fake_copy(monkeypatch, batches=folder)
    raw = bytearray((folder / "data_batch_2").read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one pixel: the file still unpickles, into wrong data
    (folder / "data_batch_2").write_bytes(raw)
    monkeypatch.setattr(cifar10.pickle, "load", lambda *a, **k: pytest.fail("unpickled before the check"))
    with pytest.raises(
        ValueError, match=rf"data_batch_2 does not match torchvision's published checksum.*\${DATA_ENV_VAR}"
    ):
        load_cifar10(folder, cache_dir=cache, verbose=False)
    assert not cache.exists()


@pytest.mark.parametrize("name", ["data_batch_1", "data_batch_2", "test_batch"])
def test_a_missing_batch_file_is_named(tmp_path, cache, monkeypatch, name):
    folder = tmp_path / "cifar-10-batches-py"
    make_batches(folder)
    accept_fake_copy(monkeypatch, batches=folder)
    (folder / name).unlink()
    with pytest.raises(ValueError, match=rf"{name} is missing.*\${DATA_ENV_VAR}"):
        load_cifar10(tmp_path, cache_dir=cache, verbose=False)


def test_image_folder_tree_keeps_label_order(tmp_path, cache, small):
    pixels = make_image_folder(tmp_path / "copy")
    data = load_cifar10(tmp_path / "copy", cache_dir=cache, verbose=False)
    assert data.train_labels.tolist() == [label for label in range(10) for _ in range(2)]
    assert len(data.test_labels) == 10
    torch.testing.assert_close(data.train_images[2], torch.from_numpy(pixels[("train", 1, 0)]).permute(2, 0, 1))


def make_archive(tmp_path, layout, suffix, junk=False):
    """A ``copy<suffix>`` archive of a fake copy in either layout; ``junk`` adds macOS metadata
    (``._*`` AppleDouble files and a ``__MACOSX/`` folder) whose bytes are no image or batch."""
    source = tmp_path / "src"
    if layout == "folders":
        top = source / "cifar10-jpeg"
        make_image_folder(top)
        junk_files = [top / "train" / "cat" / "._0000.png", top / "test" / "dog" / "._0000.png"]
        junk_files += [source / "__MACOSX" / "cifar10-jpeg" / "train" / cls / "0000.png" for cls in CLASSES]
        junk_files += [source / "__MACOSX" / "cifar10-jpeg" / "test" / cls / "0000.png" for cls in CLASSES]
    else:
        top = source / "cifar-10-batches-py"
        make_batches(top)
        junk_files = [top / "._data_batch_1", source / "__MACOSX" / "cifar-10-batches-py" / "data_batch_1"]
        junk_files += [source / "__MACOSX" / "cifar-10-batches-py" / "test_batch"]
    archive = tmp_path / f"copy{suffix}"
    with tarfile.open(archive, "w:gz" if suffix != ".tar" else "w") as tar:
        if junk:
            for file in junk_files:
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_bytes(b"\x00\x05\x16\x07 AppleDouble metadata, not an image")
            tar.add(source / "__MACOSX", arcname="__MACOSX")  # first, as unzip on a Mac would list it
        tar.add(top, arcname=top.name)
    return archive, top


@pytest.mark.parametrize("layout", ["folders", "batches"])
@pytest.mark.parametrize("suffix", [".tar.gz", ".tgz", ".tar"])
def test_archives_of_either_layout(tmp_path, cache, monkeypatch, layout, suffix):
    archive, top = make_archive(tmp_path, layout, suffix)
    accept_fake_copy(monkeypatch, batches=top if layout == "batches" else None)
    data = load_cifar10(archive, cache_dir=cache, verbose=False)
    assert len(data.train_labels) == 20 and data.train_images.shape[1:] == (3, 32, 32)


@pytest.mark.parametrize("layout", ["folders", "batches"])
def test_macos_metadata_in_an_archive_is_skipped(tmp_path, cache, monkeypatch, layout):
    archive, top = make_archive(tmp_path, layout, ".tar.gz", junk=True)
    accept_fake_copy(monkeypatch, batches=top if layout == "batches" else None)
    data = load_cifar10(archive, cache_dir=cache, verbose=False)
    assert len(data.train_labels) == 20 and len(data.test_labels) == 10


def test_macos_metadata_in_a_folder_is_skipped(tmp_path, cache, small):
    make_image_folder(tmp_path / "copy")
    for split in ("train", "test"):
        (tmp_path / "copy" / split / "._cat").write_bytes(b"AppleDouble")  # metadata of the folder itself
        for cls in CLASSES:
            (tmp_path / "copy" / split / cls / "._0000.png").write_bytes(b"AppleDouble metadata, not an image")
    data = load_cifar10(tmp_path / "copy", cache_dir=cache, verbose=False)
    assert len(data.train_labels) == 20 and len(data.test_labels) == 10


@pytest.mark.parametrize("layout", ["folders", "batches"])
@pytest.mark.parametrize("suffix", [".tar.gz", ".tar"])
def test_a_truncated_archive_is_a_clear_error(tmp_path, cache, monkeypatch, layout, suffix):
    archive, top = make_archive(tmp_path, layout, suffix)
    accept_fake_copy(monkeypatch, batches=top if layout == "batches" else None)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])  # a copy that stopped half-way
    with pytest.raises(ValueError, match=rf"{archive.name} is damaged or incomplete.*\${DATA_ENV_VAR}") as error:
        load_cifar10(archive, cache_dir=cache, verbose=False)
    assert error.value.__cause__ is not None  # the reader's own error, chained for whoever needs it


@pytest.mark.parametrize(
    ("layout", "split", "message"),
    [
        ("folders", "train", "the train split has 1 cat image, expected 2"),
        ("folders", "test", "the test split has 0 ship images, expected 1"),
        ("batches", "train", "the train split has 1 airplane image, expected 2"),
        ("batches", "test", "the test split has 0 truck images, expected 1"),
    ],
)
def test_wrong_class_counts_are_refused(tmp_path, cache, monkeypatch, layout, split, message):
    copy = tmp_path / "copy"
    if layout == "folders":
        make_image_folder(copy)
        if split == "train":  # one cat filed as a dog
            (copy / "train" / "cat" / "0000.png").rename(copy / "train" / "dog" / "0099.png")
        else:  # a test image lost
            (copy / "test" / "ship" / "0000.png").unlink()
        accept_fake_copy(monkeypatch)
    else:
        make_batches(copy, n_test=10 if split == "train" else 9)  # 9 test images: no truck
        if split == "train":  # one airplane labelled as an automobile
            relabel(copy / "data_batch_1", 0, 1)
        accept_fake_copy(monkeypatch, batches=copy)
    with pytest.raises(ValueError, match=rf"{message}.*\${DATA_ENV_VAR}"):
        load_cifar10(copy, cache_dir=cache, verbose=False)
    assert not cache.exists()  # a refused copy is not cached


def test_labels_outside_the_ten_classes_are_refused(tmp_path, cache, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    make_batches(folder)
    relabel(folder / "test_batch", 0, 10)
    accept_fake_copy(monkeypatch, batches=folder)
    with pytest.raises(ValueError, match="the test split has labels outside 0-9"):
        load_cifar10(folder, cache_dir=cache, verbose=False)


def test_environment_variable_names_the_copy(tmp_path, cache, monkeypatch, capsys, small):
    make_image_folder(tmp_path / "copy")
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "copy"))
    data = load_cifar10(cache_dir=cache)
    assert len(data.train_labels) == 20
    assert "local copy copy (decoded and cached)" in capsys.readouterr().out


def test_second_load_comes_from_the_cache(tmp_path, cache, monkeypatch, capsys, small):
    make_image_folder(tmp_path / "copy")
    first = load_cifar10(tmp_path / "copy", cache_dir=cache)
    monkeypatch.setattr(cifar10, "_read_local", lambda path: pytest.fail("decoded again instead of using the cache"))
    second = load_cifar10(tmp_path / "copy", cache_dir=cache)
    torch.testing.assert_close(first.train_images, second.train_images)
    assert "(cache)" in capsys.readouterr().out.splitlines()[-1]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "tamper"])
def test_corrupt_or_partial_cache_is_rebuilt(tmp_path, cache, damage, small):
    make_image_folder(tmp_path / "copy")
    good = load_cifar10(tmp_path / "copy", cache_dir=cache, verbose=False)
    (file,) = cache.glob("cifar10-*.pt")
    if damage == "truncate":
        file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    elif damage == "garbage":
        file.write_bytes(b"not a cache")
    else:  # readable, but the pixels no longer match the stored fingerprint
        blob = torch.load(file, weights_only=True)
        blob["train_images"][0] += 1
        torch.save(blob, file)
    rebuilt = load_cifar10(tmp_path / "copy", cache_dir=cache, verbose=False)
    torch.testing.assert_close(rebuilt.train_images, good.train_images)
    assert cifar10._load_cache(file) is not None  # and the rebuilt cache is valid again


def test_offline_without_a_copy_is_a_clear_error(cache, monkeypatch):
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    monkeypatch.setattr(cifar10, "_online", lambda timeout=5.0: False)
    with pytest.raises(RuntimeError, match=rf"\${DATA_ENV_VAR}.*internet access"):
        load_cifar10(cache_dir=cache)


def test_the_online_check_gives_up_quickly(monkeypatch):
    def refuse(address, timeout):
        assert timeout <= 5
        raise OSError("unreachable")

    monkeypatch.setattr(cifar10.socket, "create_connection", refuse)
    assert cifar10._online() is False


def test_missing_path(tmp_path, cache):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_cifar10(tmp_path / "nowhere", cache_dir=cache)


def test_a_file_that_is_not_an_archive(tmp_path, cache):
    (tmp_path / "data.zip").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"not a \.tar\.gz"):
        load_cifar10(tmp_path / "data.zip", cache_dir=cache)


def test_a_folder_without_cifar(tmp_path, cache):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no CIFAR-10 data found"):
        load_cifar10(tmp_path / "empty", cache_dir=cache)


def test_wrong_class_folders(tmp_path, cache):
    make_image_folder(tmp_path / "copy", bad_class="aeroplane")
    with pytest.raises(ValueError, match="class folders"):
        load_cifar10(tmp_path / "copy", cache_dir=cache)


def test_wrong_image_size(tmp_path, cache):
    make_image_folder(tmp_path / "copy", size=16)
    with pytest.raises(ValueError, match="not a 32x32"):
        load_cifar10(tmp_path / "copy", cache_dir=cache)


def test_subset(tmp_path, cache, small):
    make_image_folder(tmp_path / "copy")
    data = load_cifar10(tmp_path / "copy", cache_dir=cache, verbose=False)
    small = data.subset(n_train=5, n_test=3, seed=1)
    assert len(small.train_labels) == 5 and len(small.test_labels) == 3
    torch.testing.assert_close(small.train_images, data.subset(5, 3, seed=1).train_images)
    with pytest.raises(ValueError, match="n_train"):
        data.subset(n_train=21)
    with pytest.raises(ValueError, match="n_test"):
        data.subset(n_test=0)


def _sorted_copy(per_class: int) -> CIFAR10:
    labels = torch.arange(10).repeat_interleave(per_class)
    images = torch.arange(len(labels)).remainder(256).to(torch.uint8)[:, None, None, None].expand(-1, 3, 32, 32)
    return CIFAR10(images.contiguous(), labels, images[:5].contiguous(), labels[:5], source="sorted")


def test_validation_split_holds_out_a_class_balanced_part_of_the_training_set():
    data = _sorted_copy(per_class=20)  # 200 images, each with its own pixel value
    split = data.validation_split(per_class=5, seed=3)
    assert torch.bincount(split.test_labels, minlength=10).tolist() == [5] * 10
    assert torch.bincount(split.train_labels, minlength=10).tolist() == [15] * 10
    ids = lambda images: set(images[:, 0, 0, 0].tolist())  # noqa: E731 - every image has its own pixel value
    assert not ids(split.train_images) & ids(split.test_images)
    assert ids(split.train_images) | ids(split.test_images) == ids(data.train_images)
    assert len(torch.unique(split.test_labels[:10])) > 1  # mixed, not in class blocks
    assert torch.equal(split.test_images, data.validation_split(per_class=5, seed=3).test_images)
    assert not torch.equal(split.test_images, data.validation_split(per_class=5, seed=4).test_images)
    assert "held-out validation" in split.source


@pytest.mark.parametrize("per_class", [0, -1, 1.5, True, 20])
def test_validation_split_rejects_bad_sizes(per_class):
    with pytest.raises(ValueError, match=r"per_class|cannot hold out"):
        _sorted_copy(per_class=20).validation_split(per_class=per_class)
