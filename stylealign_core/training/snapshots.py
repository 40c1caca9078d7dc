"""Training snapshots: atomic directories, ``latest`` lookup, pruning, and the Parquet training log.

The layout of a run directory is owned by :class:`.rundir.RunDir`. A snapshot directory
(``RUN/snapshots/snapshot-000012800/``, named by images seen) holds ``network.{json,safetensors}`` (G, D,
G_ema + augment p: a normal stylealign checkpoint), ``training_state.pt`` (optimizer states, progress,
RNG, loss state; weights_only-safe) and ``fakes.png`` (the sample grid of G_ema at fixed z).

A snapshot is built in a staging directory beside its final name and swapped into place when complete
(``atomic.publish_dir``), so a killed run never leaves a snapshot that ``latest`` would pick up half-written.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import torch

from ..atomic import publish_dir, remove_stale_dirs, staging_name, write_atomic
from ..errors import StylealignError
from .rundir import SNAPSHOT_PREFIX, RunDir, snapshot_state


class SnapshotError(StylealignError, RuntimeError):
    """A snapshot is missing or unreadable; the message names the path."""


def snapshot_dir(run_dir: Path, nimg: int) -> Path:
    return RunDir(run_dir).snapshot(nimg)


def list_snapshots(run_dir: Path) -> list[Path]:
    """Complete snapshots, oldest first."""
    root = RunDir(run_dir).snapshots
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(SNAPSHOT_PREFIX)
             and snapshot_state(p).is_file()]
    return sorted(found, key=lambda p: p.name)


def is_snapshot(path) -> bool:
    """A complete training snapshot directory (exact resume), as opposed to a plain checkpoint."""
    return isinstance(path, Path) and snapshot_state(path).is_file()


def resolve_resume(run_dir: Path, resume: str | os.PathLike | None) -> Path | str | None:
    """``None`` -> start fresh; ``"latest"`` -> newest complete snapshot of the run (None if none yet);
    a snapshot directory -> that snapshot (exact resume); any other path or URL -> returned as a string:
    a checkpoint to take the weights from (see ``loop.train``)."""
    if resume is None:
        return None
    if str(resume) == "latest":
        snaps = list_snapshots(run_dir)
        return snaps[-1] if snaps else None
    path = Path(resume)
    if is_snapshot(path):
        return path
    if path.name.startswith(SNAPSHOT_PREFIX):
        raise SnapshotError(f"{path}: not a complete training snapshot (no training_state.pt); "
                            f"pass another directory under {RunDir(run_dir).snapshots} or 'latest'")
    return str(resume)


def write_snapshot(run_dir: Path, nimg: int, write_contents) -> Path:
    """Create a snapshot atomically: ``write_contents(tmp_dir)`` fills a staging directory that
    ``atomic.publish_dir`` swaps into place when complete."""
    final = snapshot_dir(run_dir, nimg)
    publish_dir(final, write_contents)
    return final


def prune_snapshots(run_dir: Path, keep: int):
    """Delete all but the newest ``keep`` complete snapshots, and leftovers of killed writes."""
    for snap in list_snapshots(run_dir)[:-keep]:
        shutil.rmtree(snap, ignore_errors=True)
    snapshots = RunDir(run_dir).snapshots
    for leftover in snapshots.glob(".tmp-*"):  # staging names of runs before publish_dir
        shutil.rmtree(leftover, ignore_errors=True)
    for name in {m["name"] for m in map(staging_name, snapshots.glob(f".{SNAPSHOT_PREFIX}*")) if m}:
        remove_stale_dirs(snapshots / name)  # publish_dir's leftovers of processes that no longer run


def save_state(path: Path, state: dict):
    torch.save(state, path)


def load_state(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file
        raise SnapshotError(f"{path}: unreadable training state ({exc}); resume from an older snapshot "
                            f"or start fresh") from exc


def write_log(path: Path, rows: list[dict]):
    """Rewrite the Parquet training log atomically (it is small: one row per tick)."""
    if rows:
        write_atomic(path, lambda tmp: pd.DataFrame(rows).to_parquet(tmp, index=False))


def read_log(path: Path, up_to_nimg: int | None = None) -> list[dict]:
    if not Path(path).is_file():
        return []
    frame = pd.read_parquet(path)
    if up_to_nimg is not None:
        frame = frame[frame["nimg"] <= up_to_nimg]
    return frame.to_dict("records")
