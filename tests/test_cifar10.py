"""CIFAR-10 loading on tiny generated data in every supported layout, the cache, and the errors."""

import pickle
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from utils import cifar10
from utils.cifar10 import CLASSES, DATA_ENV_VAR, load_cifar10


def _images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def make_batches(folder, per_batch=4, n_batches=2, n_test=5):
    """torchvision's layout: pickled dicts with `data` (N, 3072) and `labels`."""
    folder.mkdir(parents=True)
    expected = {"train": [], "test": []}
    for i in range(n_batches + 1):
        name, n = (f"data_batch_{i + 1}", per_batch) if i < n_batches else ("test_batch", n_test)
        images = _images(n, i)
        labels = [(i + k) % 10 for k in range(n)]
        data = images.transpose(0, 3, 1, 2).reshape(n, -1)
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f)
        expected["test" if name == "test_batch" else "train"].append((images, labels))
    return expected


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


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def test_batches_folder(tmp_path, cache):
    expected = make_batches(tmp_path / "cifar-10-batches-py")
    data = load_cifar10(tmp_path, cache_dir=cache, verbose=False)  # the folder holding cifar-10-batches-py
    assert data.train_images.shape == (8, 3, 32, 32) and data.train_images.dtype == torch.uint8
    assert data.test_images.shape == (5, 3, 32, 32)
    first_images, first_labels = expected["train"][0]
    torch.testing.assert_close(data.train_images[0], torch.from_numpy(first_images[0]).permute(2, 0, 1))
    assert data.train_labels[:4].tolist() == first_labels


def test_image_folder_tree_keeps_label_order(tmp_path, cache):
    pixels = make_image_folder(tmp_path / "copy")
    data = load_cifar10(tmp_path / "copy", cache_dir=cache, verbose=False)
    assert data.train_labels.tolist() == [label for label in range(10) for _ in range(2)]
    assert len(data.test_labels) == 10
    torch.testing.assert_close(data.train_images[2], torch.from_numpy(pixels[("train", 1, 0)]).permute(2, 0, 1))


@pytest.mark.parametrize("layout", ["folders", "batches"])
@pytest.mark.parametrize("suffix", [".tar.gz", ".tgz", ".tar"])
def test_archives_of_either_layout(tmp_path, cache, layout, suffix):
    source = tmp_path / "src"
    if layout == "folders":
        make_image_folder(source / "cifar10-jpeg")
    else:
        make_batches(source / "cifar-10-batches-py")
    archive = tmp_path / f"copy{suffix}"
    with tarfile.open(archive, "w:gz" if suffix != ".tar" else "w") as tar:
        tar.add(next(source.iterdir()), arcname=next(source.iterdir()).name)
    data = load_cifar10(archive, cache_dir=cache, verbose=False)
    assert len(data.train_labels) in (8, 20) and data.train_images.shape[1:] == (3, 32, 32)


def test_environment_variable_names_the_copy(tmp_path, cache, monkeypatch, capsys):
    make_image_folder(tmp_path / "copy")
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "copy"))
    data = load_cifar10(cache_dir=cache)
    assert len(data.train_labels) == 20
    assert "local copy copy (decoded and cached)" in capsys.readouterr().out


def test_second_load_comes_from_the_cache(tmp_path, cache, monkeypatch, capsys):
    make_image_folder(tmp_path / "copy")
    first = load_cifar10(tmp_path / "copy", cache_dir=cache)
    monkeypatch.setattr(cifar10, "_read_local", lambda path: pytest.fail("decoded again instead of using the cache"))
    second = load_cifar10(tmp_path / "copy", cache_dir=cache)
    torch.testing.assert_close(first.train_images, second.train_images)
    assert "(cache)" in capsys.readouterr().out.splitlines()[-1]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "tamper"])
def test_corrupt_or_partial_cache_is_rebuilt(tmp_path, cache, damage):
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


def test_subset(tmp_path, cache):
    make_image_folder(tmp_path / "copy")
    data = load_cifar10(tmp_path / "copy", cache_dir=cache, verbose=False)
    small = data.subset(n_train=5, n_test=3, seed=1)
    assert len(small.train_labels) == 5 and len(small.test_labels) == 3
    torch.testing.assert_close(small.train_images, data.subset(5, 3, seed=1).train_images)
    with pytest.raises(ValueError, match="n_train"):
        data.subset(n_train=21)
    with pytest.raises(ValueError, match="n_test"):
        data.subset(n_test=0)
