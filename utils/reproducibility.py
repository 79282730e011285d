"""Seeding, random draws that are the same on every CPU, and device selection."""

from __future__ import annotations

import os
import platform
import random
from pathlib import Path

import numpy as np
import torch

__all__ = ["set_seed", "portable_uniform_", "get_device", "describe_device", "describe_cpu", "native_bf16"]


def set_seed(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python's, NumPy's and PyTorch's (CPU and CUDA) random generators.

    Args:
        seed: a non-negative integer below 2**32.
        deterministic: also ask PyTorch for deterministic kernels (slower on GPU).

    Raises:
        TypeError: if ``seed`` is not an ``int``.
        ValueError: if ``seed`` is negative or too large for NumPy.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- seeds the legacy global generator that libraries still use
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


@torch.no_grad()
def portable_uniform_(tensor: torch.Tensor, bound: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill ``tensor`` with U(-bound, bound) draws that are bit-identical on every CPU.

    ``Tensor.uniform_(-b, b)`` computes ``-b + 2b * u`` in a vectorised kernel that fuses the
    multiply and add on CPUs with FMA instructions and not on others, so its last bit depends on
    the machine. Here ``u`` comes from ``torch.rand`` in float64 (the same numbers everywhere; from
    ``generator`` when given, else the global generator) and every step is one correctly rounded
    IEEE operation.
    """
    u = torch.rand(tensor.shape, dtype=torch.float64, device=tensor.device, generator=generator)
    return tensor.copy_(u.mul_(2).sub_(1).mul_(bound))


def get_device(prefer: str | None = None) -> torch.device:
    """Return the device to compute on: CUDA when available, else the CPU.

    Args:
        prefer: ``"cuda"`` or ``"cpu"`` to force a choice; ``None`` picks automatically.

    Raises:
        ValueError: if ``prefer`` is not ``None``, ``"cpu"`` or ``"cuda"``, or if CUDA is
            asked for on a machine without it.
    """
    if prefer is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if prefer not in ("cpu", "cuda"):
        raise ValueError(f"prefer must be None, 'cpu' or 'cuda', got {prefer!r}")
    if prefer == "cuda" and not torch.cuda.is_available():
        raise ValueError("prefer='cuda' but no CUDA device is available")
    return torch.device(prefer)


def describe_device(device: torch.device) -> str:
    """A one-line human description of ``device`` (GPU name, or CPU thread count)."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes in bf16 with its own instructions, so that bf16 autocast is fast there.

    A GPU: ``torch.cuda.is_bf16_supported`` without emulation (a T4 emulates it). A CPU: the x86
    AVX512-BF16 or AMX instructions, as PyTorch detects them; any other CPU counts as without (bf16
    there is emulated, and usually slower than fp32).
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type != "cpu":
        return False
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None)


def describe_cpu(cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo") -> dict[str, object]:
    """The CPU that a measurement ran on, for a results file: what a speed or a rounding depends on.

    ``model``: the first ``model name`` line of ``cpuinfo`` (Linux), else ``platform.processor()``,
    else ``platform.machine()``; ``capability``: the kernels PyTorch picked (``DEFAULT``, ``AVX2``,
    ``AVX512``, ...); ``native_bf16``: :func:`native_bf16` of the CPU.
    """
    model = ""
    try:
        for line in Path(cpuinfo).read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                model = value.strip()
                break
    except OSError:  # not Linux, or no /proc: the platform's own words
        pass
    return {
        "model": model or platform.processor() or platform.machine(),
        "capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": native_bf16(torch.device("cpu")),
    }
