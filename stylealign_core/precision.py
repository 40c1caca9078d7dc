"""Mixed-precision settings: one place that turns a user's choice into a torch.autocast context.

Modes: "fp32" (no autocast), "bf16" (CPU with AMX/AVX512-BF16: ~3-5x faster convs; any CUDA GPU
since Ampere), "fp16" (CUDA), "auto" (bf16 on CUDA and on CPUs that report native bf16, else fp32).
Results are checked against fp32 by relative error, never by equality.

On a CPU without native bf16 (e.g. AVX2-only AMD EPYC or older Intel), bf16 is emulated: a 2048^3 bf16
matmul ran at 0.3 GFLOP/s against 80 GFLOP/s in fp32 on a 2-core AMD EPYC, and StyleGAN2 training at
1 image/s against 16 in fp32. Asking for "bf16" there still runs bf16 (a user may want its numerics),
but warns once per process and names "auto" as the fix.
"""
from __future__ import annotations

import contextlib
import functools
import warnings

import torch

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
_FAST_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


class SlowPrecisionWarning(UserWarning):
    """The requested precision is emulated on this device and far slower than fp32."""


def has_fast_bf16_flag(cpuinfo: str) -> bool:
    """True when /proc/cpuinfo text lists AMX-BF16 or AVX512-BF16 among the CPU flags."""
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return any(flag in flags for flag in _FAST_BF16_FLAGS)


@functools.lru_cache(maxsize=None)
def cpu_has_fast_bf16() -> bool:
    """True when this CPU has AMX-BF16 or AVX512-BF16 (bf16 matmul/conv run natively)."""
    try:
        with open("/proc/cpuinfo") as f:
            return has_fast_bf16_flag(f.read())
    except OSError:
        return False


@functools.lru_cache(maxsize=None)
def _warn_emulated_bf16():
    warnings.warn("precision 'bf16' on a CPU without native bf16 (no amx_bf16/avx512_bf16 in /proc/cpuinfo): "
                  "bf16 is emulated here and runs 10-300x slower than fp32; use precision 'auto' (fp32 on this "
                  "CPU, bf16 where it is fast) or 'fp32'", SlowPrecisionWarning, stacklevel=3)


def resolve(device_type: str, precision: str) -> str:
    """Turn "auto" into a concrete mode for the device; validate the rest."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        if device_type == "cuda":
            return "bf16"
        return "bf16" if device_type == "cpu" and cpu_has_fast_bf16() else "fp32"
    if precision == "fp16" and device_type == "cpu":
        raise ValueError("precision 'fp16' is for CUDA devices; on CPU use 'bf16' or 'fp32'")
    if precision == "bf16" and device_type == "cpu" and not cpu_has_fast_bf16():
        _warn_emulated_bf16()
    return precision


def autocast(device_type: str, precision: str):
    """Context manager: autocast for bf16/fp16, a no-op for fp32."""
    mode = resolve(device_type, precision)
    if mode == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=_DTYPES[mode])
