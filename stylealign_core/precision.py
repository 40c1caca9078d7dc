"""Mixed-precision settings: one place that turns a user's choice into a torch.autocast context.

Modes: "fp32" (no autocast), "bf16" (CPU with AMX/AVX512-BF16: ~3-5x faster convs; any CUDA GPU
since Ampere), "fp16" (CUDA), "auto" (bf16 on CUDA and on CPUs that report native bf16, else fp32).
Results are checked against fp32 by relative error, never by equality.
"""
from __future__ import annotations

import contextlib
import functools

import torch

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@functools.lru_cache(maxsize=None)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has AMX-BF16 or AVX512-BF16 (bf16 matmul/conv run natively)."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


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
    return precision


def autocast(device_type: str, precision: str):
    """Context manager: autocast for bf16/fp16, a no-op for fp32."""
    mode = resolve(device_type, precision)
    if mode == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=_DTYPES[mode])
