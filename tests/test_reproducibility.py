import random

import numpy as np
import pytest
import torch

from utils.reproducibility import describe_cpu, describe_device, get_device, native_bf16, set_seed


def test_set_seed_makes_all_generators_repeat():
    set_seed(123)
    first = (random.random(), np.random.rand(), torch.rand(3))  # noqa: NPY002 -- the legacy API too
    set_seed(123)
    second = (random.random(), np.random.rand(), torch.rand(3))  # noqa: NPY002 -- the legacy API too
    assert first[0] == second[0] and first[1] == second[1]
    torch.testing.assert_close(first[2], second[2])


@pytest.mark.parametrize("bad", [1.5, "1", None, True])
def test_set_seed_rejects_non_int(bad):
    with pytest.raises(TypeError, match="seed"):
        set_seed(bad)


@pytest.mark.parametrize("bad", [-1, 2**32])
def test_set_seed_rejects_out_of_range(bad):
    with pytest.raises(ValueError, match="seed"):
        set_seed(bad)


def test_get_device_auto_matches_cuda_availability():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert get_device().type == expected
    assert get_device("cpu") == torch.device("cpu")


def test_get_device_rejects_unknown_name():
    with pytest.raises(ValueError, match="prefer"):
        get_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful without a GPU")
def test_get_device_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA device"):
        get_device("cuda")


def test_describe_device_cpu():
    assert describe_device(torch.device("cpu")).startswith("cpu (")


def test_native_bf16_follows_what_pytorch_detects_on_the_cpu(monkeypatch):
    cpu = torch.device("cpu")
    assert isinstance(native_bf16(cpu), bool)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert native_bf16(cpu) is False
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert native_bf16(cpu) is True
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")  # a build without the check: not assumed
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    assert native_bf16(cpu) is False
    assert native_bf16(torch.device("meta")) is False


def test_describe_cpu_reads_the_model_name_and_says_whether_bf16_is_native(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9R14\nflags\t: fpu\n")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    cpu = describe_cpu(cpuinfo)
    assert cpu["model"] == "AMD EPYC 9R14" and cpu["native_bf16"] is True
    assert cpu["capability"] == torch.backends.cpu.get_cpu_capability()
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert describe_cpu(cpuinfo)["native_bf16"] is False


def test_describe_cpu_without_cpuinfo_falls_back_to_the_platform(tmp_path, monkeypatch):
    monkeypatch.setattr("platform.processor", lambda: "")
    monkeypatch.setattr("platform.machine", lambda: "arm64")
    assert describe_cpu(tmp_path / "absent")["model"] == "arm64"
    nameless = tmp_path / "cpuinfo"
    nameless.write_text("processor\t: 0\nBogoMIPS\t: 50.00\n")  # an ARM board lists no model name
    assert describe_cpu(nameless)["model"] == "arm64"
