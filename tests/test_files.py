from pathlib import Path

import pytest
import torch

from utils import files
from utils.files import atomic_torch_save


def test_atomic_save_writes_and_replaces(tmp_path):
    path = tmp_path / "sub" / "state.pt"
    atomic_torch_save({"x": torch.ones(2)}, path)
    atomic_torch_save({"x": torch.zeros(2)}, path)
    torch.testing.assert_close(torch.load(path, weights_only=True)["x"], torch.zeros(2))
    assert [p.name for p in path.parent.iterdir()] == ["state.pt"]


def test_a_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "state.pt"
    atomic_torch_save({"x": torch.ones(2)}, path)

    def crash(obj, f):
        with open(f, "wb") as handle:
            handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(files.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic_torch_save({"x": torch.zeros(2)}, path)
    monkeypatch.undo()
    torch.testing.assert_close(torch.load(path, weights_only=True)["x"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["state.pt"]


def test_output_path_follows_book_output(monkeypatch, tmp_path):
    from utils.files import OUTPUT_ENV_VAR, output_path

    monkeypatch.delenv(OUTPUT_ENV_VAR, raising=False)
    assert output_path("runs", "chapter5") == Path("runs/chapter5")
    monkeypatch.setenv(OUTPUT_ENV_VAR, str(tmp_path))
    assert output_path("checkpoints", "a.pt") == tmp_path / "checkpoints" / "a.pt"
