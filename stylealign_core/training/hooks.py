"""Callbacks at ticks and snapshots: metrics (FID/KID, as stylegan2-ada-pytorch's ``--metrics``) and
alignment checks plug into training without editing the loop.

    def fid(ctx: HookContext) -> dict | None:
        return {"fid2k": compute_fid(ctx.G_ema, ...)}

    train(cfg, data, run_dir, on_snapshot=[fid])

A hook receives a read-only :class:`HookContext` and may return a dict of JSON-able values; each such
dict is appended as one line to ``RUN/metrics.jsonl`` (``{"event", "hook", "kimg", "step", "snapshot",
"results"}``, like the official ``metric-*.jsonl``). Hooks run on the main process only, after the log row
(tick) or the snapshot (snapshot) is written, under a forked torch RNG: whatever they draw does not
change the training run. They must not modify ``G_ema``. An exact resume drops the lines written after
the snapshot it resumes from, so the file matches an uninterrupted run's.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping

import torch

from ..atomic import write_atomic
from .rundir import RunDir

EVENTS = ("tick", "snapshot")


@dataclass(frozen=True)
class HookContext:
    """What a hook sees. ``snapshot``: the snapshot directory (snapshot events) or None; ``row``: the newest
    log row (read-only mapping); ``final``: True at the last tick/snapshot of this process's run."""
    event: str
    run_dir: RunDir
    kimg: float
    step: int
    G_ema: torch.nn.Module
    snapshot: Path | None
    row: Mapping
    final: bool


Hook = Callable[[HookContext], "dict | None"]


def as_hooks(hooks, name: str) -> tuple:
    """A tuple of callables from None, one callable or a sequence of them."""
    if hooks is None:
        return ()
    hooks = (hooks,) if callable(hooks) else tuple(hooks)
    for hook in hooks:
        if not callable(hook):
            raise TypeError(f"{name}: expected callables taking a HookContext, got {hook!r}")
    return hooks


def hook_name(hook) -> str:
    return getattr(hook, "name", None) or getattr(hook, "__name__", None) or type(hook).__name__


def _json_value(value, where: str):
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()  # numpy scalars
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: {value!r} is not JSON-able; return numbers, strings, lists or dicts") from None
    return value


def run_hooks(hooks: tuple, ctx: HookContext) -> list[dict]:
    """Call each hook with ``ctx``; append what they return to ``RUN/metrics.jsonl``; return those records."""
    records = []
    for hook in hooks:
        name = hook_name(hook)
        t0 = time.time()
        with torch.random.fork_rng(devices=[]):
            results = hook(ctx)
        if results is None:
            continue
        if not isinstance(results, Mapping):
            raise TypeError(f"on_{ctx.event} hook {name}: returned {type(results).__name__}; return a dict of "
                            "values to record, or None")
        results = {str(k): _json_value(v, f"on_{ctx.event} hook {name}, value {k!r}") for k, v in results.items()}
        records.append({"event": ctx.event, "hook": name, "kimg": ctx.kimg, "step": ctx.step,
                        "snapshot": str(ctx.snapshot) if ctx.snapshot else None, "seconds": round(time.time() - t0, 3),
                        "timestamp": time.time(), "results": results})
    if records:
        with open(ctx.run_dir.metrics, "a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    return records


def read_records(path: Path) -> list[dict]:
    """The records of a metrics.jsonl file (a torn last line, from a killed run, is skipped)."""
    if not Path(path).is_file():
        return []
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def truncate_records(path: Path, up_to_kimg: float) -> None:
    """Drop records written after ``up_to_kimg`` (an exact resume rewinds to its snapshot)."""
    records = read_records(path)
    keep = [r for r in records if float(r.get("kimg", 0)) <= up_to_kimg + 1e-9]
    if len(keep) != len(records) or (records and Path(path).read_text(encoding="utf-8").count("\n") != len(records)):
        write_atomic(path, lambda tmp: tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in keep),
                                                      encoding="utf-8"))


def context(event: str, run_dir: RunDir, nimg: int, step: int, G_ema, snapshot, row: dict | None,
            final: bool) -> HookContext:
    return HookContext(event=event, run_dir=run_dir, kimg=nimg / 1000, step=step, G_ema=G_ema, snapshot=snapshot,
                       row=MappingProxyType(dict(row or {})), final=final)
