"""Training snapshots: atomic directories, ``latest`` lookup, pruning, and the Parquet training log.

A run directory looks like::

    RUN/
      snapshots/snapshot-000012800/       one directory per snapshot, named by images seen
        network.safetensors, network.json  G, D, G_ema (+ augment p): a normal stylealign checkpoint
        training_state.pt                  optimizer states, progress, RNG, loss state (weights_only-safe)
        fakes.png                          sample grid of G_ema at fixed z
      samples/fakes000012800.png           every snapshot's grid (kept for viewing progress)
      reals.png                            a grid of training images
      log.parquet                          one row per tick: kimg, losses, ADA p, r_t, images/s
      config.json                          the resolved training configuration

A snapshot is written to ``snapshots/.tmp-*`` and renamed into place when complete, so a
killed run never leaves a snapshot that ``latest`` would pick up half-written.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import torch

from ..atomic import fsync_path, write_atomic
from ..errors import StylealignError

SNAPSHOT_PREFIX = "snapshot-"


class SnapshotError(StylealignError, RuntimeError):
    """A snapshot is missing or unreadable; the message names the path."""


def snapshot_dir(run_dir: Path, nimg: int) -> Path:
    return Path(run_dir) / "snapshots" / f"{SNAPSHOT_PREFIX}{nimg:09d}"


def list_snapshots(run_dir: Path) -> list[Path]:
    """Complete snapshots, oldest first."""
    root = Path(run_dir) / "snapshots"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(SNAPSHOT_PREFIX)
             and (p / "training_state.pt").is_file()]
    return sorted(found, key=lambda p: p.name)


def is_snapshot(path) -> bool:
    """A complete training snapshot directory (exact resume), as opposed to a plain checkpoint."""
    return isinstance(path, Path) and (path / "training_state.pt").is_file()


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
                            f"pass another directory under {Path(run_dir) / 'snapshots'} or 'latest'")
    return str(resume)


def write_snapshot(run_dir: Path, nimg: int, write_contents) -> Path:
    """Create a snapshot atomically: ``write_contents(tmp_dir)`` fills a temporary directory which
    is then renamed to its final name."""
    final = snapshot_dir(run_dir, nimg)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
    try:
        write_contents(tmp)
        fsync_path(tmp, directory=True)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        fsync_path(final.parent, directory=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def prune_snapshots(run_dir: Path, keep: int):
    """Delete all but the newest ``keep`` complete snapshots, and leftovers of killed writes."""
    for snap in list_snapshots(run_dir)[:-keep]:
        shutil.rmtree(snap, ignore_errors=True)
    root = Path(run_dir) / "snapshots"
    for leftover in root.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


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
