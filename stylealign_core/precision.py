"""Mixed-precision settings: one place that turns a user's choice into a torch.autocast context.

Modes: "fp32" (no autocast), "bf16", "fp16" (CUDA), and "auto", which never picks a mode that slows
the run down:

* CUDA: bf16.
* CPU with AMX-BF16 (Intel Sapphire Rapids and later): bf16 (convs 3-5x faster than fp32).
* CPU with AVX512-BF16 but no AMX (e.g. AMD Zen 4): bf16 was 1.56x faster than fp32 for the default
  parent's layers but ~18x slower for the tiny smoke network, so the flag alone decides nothing. A
  short probe times a forward+backward of the network at hand (fp32 against bf16 autocast, 3-10
  alternating reps, about two seconds) and bf16 is chosen only when it is at least ``BF16_MIN_SPEEDUP``
  times faster. The result is cached per (CPU model, torch version, threads, network config, batch) in
  ``$STYLEALIGN_CACHE/precision/`` (default ``~/.cache/stylealign``). Without a network to probe: fp32.
* Any other CPU (bf16 emulated: a 2048^3 bf16 matmul ran at 0.3 GFLOP/s against 80 in fp32 on a 2-core
  AMD EPYC Zen 3, StyleGAN2 training at 1 image/s against 16): fp32.

``resolve`` returns the concrete mode ("fp32", "bf16", "fp16", never "auto"): that is what runs and what
config.json, logs and metrics should record. Asking for "bf16" on a CPU that emulates it still runs bf16
(a user may want its numerics) but warns once per process and names "auto" as the fix. Set
``STYLEALIGN_CPU_BF16`` to ``amx``, ``avx512`` or ``none`` to override what the CPU flags say.
Results are checked against fp32 by relative error, never by equality.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import inspect
import json
import logging
import os
import statistics
import time
import warnings
from pathlib import Path
from typing import Callable

import torch

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
CPU_BF16_KINDS = ("amx", "avx512", "none")
CPU_BF16_ENV = "STYLEALIGN_CPU_BF16"
BF16_MIN_SPEEDUP = 1.2   # bf16 must be this much faster than fp32 for "auto" to pick it on a CPU
PROBE_BATCH = 8
PROBE_MIN_REPS = 3       # timed (fp32, bf16) pairs, at least ...
PROBE_MAX_REPS = 10      # ... and at most, adding pairs while the probe has run less than PROBE_BUDGET_S
PROBE_BUDGET_S = 2.0
PROBE_VERSION = 1        # part of the cache key: bump when the probe's method changes

log = logging.getLogger(__name__)
TimeStep = Callable[[str, Callable[[], None]], float]  # (precision, step) -> seconds of one step


class SlowPrecisionWarning(UserWarning):
    """The requested precision is emulated on this device and far slower than fp32."""


def _cpu_flags(cpuinfo: str) -> set[str]:
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return flags


def cpu_bf16_kind_from_flags(cpuinfo: str) -> str:
    """"amx" (AMX-BF16), "avx512" (AVX512-BF16 without AMX) or "none", from /proc/cpuinfo text."""
    flags = _cpu_flags(cpuinfo)
    return "amx" if "amx_bf16" in flags else "avx512" if "avx512_bf16" in flags else "none"


def has_fast_bf16_flag(cpuinfo: str) -> bool:
    """True when /proc/cpuinfo text lists AMX-BF16 or AVX512-BF16 among the CPU flags."""
    return cpu_bf16_kind_from_flags(cpuinfo) != "none"


@functools.lru_cache(maxsize=None)
def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


def cpu_bf16_kind() -> str:
    """This CPU's bf16 support ("amx", "avx512", "none"); ``$STYLEALIGN_CPU_BF16`` overrides the flags."""
    forced = os.environ.get(CPU_BF16_ENV, "").strip().lower()
    if forced:
        if forced not in CPU_BF16_KINDS:
            raise ValueError(f"{CPU_BF16_ENV}={forced!r}: use one of {', '.join(CPU_BF16_KINDS)} "
                             "(or unset it to read the CPU flags)")
        return forced
    return cpu_bf16_kind_from_flags(_cpuinfo())


def cpu_has_fast_bf16() -> bool:
    """True when this CPU has AMX-BF16 or AVX512-BF16 (bf16 matmul/conv run natively, not emulated)."""
    return cpu_bf16_kind() != "none"


def cpu_model_name() -> str:
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    import platform
    return platform.processor() or platform.machine() or "unknown CPU"


@functools.lru_cache(maxsize=None)
def _warn_emulated_bf16():
    warnings.warn("precision 'bf16' on a CPU without native bf16 (no amx_bf16/avx512_bf16 in /proc/cpuinfo): "
                  "bf16 is emulated here and runs 10-300x slower than fp32; use precision 'auto' (fp32 on this "
                  "CPU, bf16 where it is fast) or 'fp32'", SlowPrecisionWarning, stacklevel=3)


def resolve(device_type: str, precision: str, network: torch.nn.Module | dict | None = None, *,
            batch: int = PROBE_BATCH, cache_dir: str | os.PathLike | None = None,
            time_step: TimeStep | None = None) -> str:
    """The concrete mode ("fp32", "bf16" or "fp16") for ``precision`` on ``device_type``; validates the rest.

    ``network`` (a Generator or Discriminator, or a Generator's config dict) and ``batch`` are what "auto"
    probes on a CPU with AVX512-BF16 but no AMX (see the module docstring); ``cache_dir`` and
    ``time_step`` (``(precision, step) -> seconds``) go to :func:`probe_bf16`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return _resolve_auto(device_type, network, batch, cache_dir, time_step)
    if precision == "fp16" and device_type == "cpu":
        raise ValueError("precision 'fp16' is for CUDA devices; on CPU use 'bf16' or 'fp32'")
    if precision == "bf16" and device_type == "cpu" and not cpu_has_fast_bf16():
        _warn_emulated_bf16()
    return precision


def _resolve_auto(device_type, network, batch, cache_dir, time_step) -> str:
    if device_type == "cuda":
        return "bf16"
    if device_type != "cpu":
        return "fp32"
    kind = cpu_bf16_kind()
    if kind == "amx":
        return "bf16"
    if kind == "avx512" and network is not None:
        return probe_bf16(network, batch=batch, cache_dir=cache_dir, time_step=time_step)["choice"]
    return "fp32"


def autocast(device_type: str, precision: str):
    """Context manager: autocast for bf16/fp16, a no-op for fp32 (pass an already resolved mode)."""
    mode = resolve(device_type, precision)
    if mode == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=_DTYPES[mode])


# ---- the CPU bf16 probe ----------------------------------------------------------------------------
_probe_memo: dict[str, dict] = {}  # cache file path -> record, so a process reads each file once


def time_step_wall(precision: str, step: Callable[[], None]) -> float:
    """Seconds one call of ``step`` takes (wall clock): the probe's default timing function."""
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def _network_description(network) -> tuple[str, dict]:
    """(class name, config) of what is probed: a stylealign network, or a Generator config dict."""
    if isinstance(network, dict):  # completed with the defaults, as Generator(**network).config would be
        from .generator import Generator
        defaults = {name: param.default for name, param in inspect.signature(Generator).parameters.items()}
        unknown = set(network) - set(defaults)
        if unknown:
            raise TypeError(f"not Generator arguments: {sorted(unknown)}")
        return "Generator", {**defaults, **network}
    if not isinstance(network, torch.nn.Module) or not isinstance(getattr(network, "config", None), dict):
        raise TypeError(f"the bf16 probe needs a stylealign Generator or Discriminator (or a Generator config "
                        f"dict), got {type(network).__name__}")
    return type(network).__name__, network.config


def _probe_network(network) -> torch.nn.Module:
    """A private float32 CPU copy that trains (a config dict builds a Generator without touching the global
    RNG); the caller's network, its gradients and its requires_grad flags stay as they were."""
    if isinstance(network, dict):
        from .generator import Generator
        with torch.random.fork_rng(devices=[]):
            return Generator(**network)
    return copy.deepcopy(network).cpu().float().requires_grad_(True)


def _probe_inputs(net, batch: int) -> tuple:
    rng = torch.Generator().manual_seed(0)  # the probe never draws from the global RNG
    c = torch.zeros(batch, net.c_dim) if getattr(net, "c_dim", 0) else None
    if c is not None:
        c[:, 0] = 1
    if hasattr(net, "z_dim"):
        return torch.randn(batch, net.z_dim, generator=rng), c
    res, channels = net.config["img_resolution"], net.config["img_channels"]
    return torch.randn(batch, channels, res, res, generator=rng), c


def _training_step(net, inputs, precision: str) -> Callable[[], None]:
    """One forward (under autocast for bf16) + backward of ``net``, as a training step runs it."""
    params = [p for p in net.parameters()]
    kwargs = {"noise_mode": "const"} if hasattr(net, "z_dim") else {}

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = net(*inputs, **kwargs)
        out.float().square().mean().backward()
        for p in params:
            p.grad = None

    return step


def _probe_key(network, batch: int) -> dict:
    kind, config = _network_description(network)
    return {"probe_version": PROBE_VERSION, "cpu": cpu_model_name(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "network": kind,
            "config": json.loads(json.dumps(config, sort_keys=True, default=str)), "batch": batch}


def _cache_root(cache_dir) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    from .data.npm_fetch import cache_root  # $STYLEALIGN_CACHE or ~/.cache/stylealign
    return cache_root() / "precision"


def _read_record(path: Path, key: dict) -> dict | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # absent or damaged: measure again
    ok = isinstance(record, dict) and record.get("key") == key and isinstance(record.get("speedup"), (int, float))
    return record if ok else None


def measure_bf16_speedup(net, inputs, time_step: TimeStep = time_step_wall, min_reps: int = PROBE_MIN_REPS,
                         max_reps: int = PROBE_MAX_REPS, budget_s: float = PROBE_BUDGET_S) -> dict:
    """Time alternating fp32 / bf16 steps (after one untimed warm-up of each: allocation, kernel selection):
    at least ``min_reps`` pairs, more while under ``budget_s`` seconds, at most ``max_reps``.

    Returns ``fp32_s`` / ``bf16_s`` (the fastest step of each), ``reps`` and ``speedup``: the smaller of
    the two estimates fp32_s / bf16_s and the median of the per-pair ratios, so that a noisy machine (other
    processes stealing the cores) needs both to agree before bf16 counts as faster.
    """
    steps = {p: _training_step(net, inputs, p) for p in ("fp32", "bf16")}
    for step in steps.values():
        step()
    pairs: list[tuple[float, float]] = []
    start = time.perf_counter()
    while len(pairs) < max(1, min_reps) or (len(pairs) < max_reps and time.perf_counter() - start < budget_s):
        pairs.append(tuple(max(float(time_step(p, step)), 1e-12) for p, step in steps.items()))
    fp32_s, bf16_s = min(t for t, _ in pairs), min(t for _, t in pairs)
    median_ratio = statistics.median(f / b for f, b in pairs)
    return {"fp32_s": fp32_s, "bf16_s": bf16_s, "reps": len(pairs), "speedup": min(fp32_s / bf16_s, median_ratio)}


def probe_bf16(network, batch: int = PROBE_BATCH, cache_dir: str | os.PathLike | None = None,
               time_step: TimeStep | None = None) -> dict:
    """Measure (or read from the cache) how much faster bf16 autocast runs ``network`` than fp32 on this CPU.

    ``network``: a Generator or Discriminator (a private copy is timed) or a Generator config dict.
    ``cache_dir``: where the records live (default ``$STYLEALIGN_CACHE/precision``). ``time_step``:
    ``(precision, step) -> seconds`` for one call of ``step`` (default: the wall clock, ``time_step_wall``).
    Returns the record: ``key``, ``fp32_s``, ``bf16_s``, ``reps``, ``speedup`` (see ``measure_bf16_speedup``),
    ``choice`` ("bf16" when speedup >= BF16_MIN_SPEEDUP, else "fp32"), ``cached`` (whether it came from the
    cache) and ``path``.
    """
    if batch < 1:
        raise ValueError(f"the bf16 probe batch must be >= 1, got {batch}")
    key = _probe_key(network, batch)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = _cache_root(cache_dir) / f"bf16-probe-{digest}.json"
    record = _probe_memo.get(str(path)) or _read_record(path, key)
    cached = record is not None
    if record is None:
        net = _probe_network(network).train()
        record = dict(measure_bf16_speedup(net, _probe_inputs(net, batch), time_step or time_step_wall), key=key,
                      measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        _write_record(path, record)
    record = dict(record, choice="bf16" if record["speedup"] >= BF16_MIN_SPEEDUP else "fp32", cached=cached,
                  path=str(path))
    _probe_memo[str(path)] = record
    if not cached:
        log.info("bf16 probe on %s (%s, batch %d): fp32 %.1f ms, bf16 %.1f ms per step (%.2fx) -> %s; cached in %s",
                 key["cpu"], key["network"], batch, record["fp32_s"] * 1e3, record["bf16_s"] * 1e3,
                 record["speedup"], record["choice"], path)
    return record


def _write_record(path: Path, record: dict) -> None:
    from .atomic import write_json_atomic
    try:
        write_json_atomic(path, record)
    except OSError as exc:  # a read-only cache costs a probe per process, not the run
        log.warning("could not cache the bf16 probe in %s (%s); set STYLEALIGN_CACHE to a writable directory",
                    path, exc)
