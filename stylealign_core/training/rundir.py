"""The run directory of ``stylealign train|finetune``: the one place that names its files.

    RUN/
      config.json                        the resolved training configuration (precision as resolved)
      log.parquet                        one row per tick: kimg, losses, ADA p and r_t, images/s, leg
      metrics.jsonl                      values returned by on_tick / on_snapshot hooks, one JSON line each
      reals.png                          a grid of training images
      training-curves.png                the log drawn against kimg (legs as vertical lines)
      samples/fakes000012800.png         every snapshot's sample grid
      snapshots/snapshot-000012800/      network.{json,safetensors} (G, D, G_ema), training_state.pt, fakes.png
      network-final.{json,safetensors}   the final networks (train_parent / finetune_child)

Everything else that reads or writes a run (snapshots, export, the CLI, the pipeline tasks) takes
its paths from ``RunDir``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..checkpoints import DIR_CHECKPOINT_NAME

CONFIG_NAME = "config.json"
LOG_NAME = "log.parquet"
METRICS_NAME = "metrics.jsonl"
REALS_NAME = "reals.png"
CURVES_NAME = "training-curves.png"
SAMPLES_DIR = "samples"
SNAPSHOTS_DIR = "snapshots"
SNAPSHOT_PREFIX = "snapshot-"
TRAINING_STATE_NAME = "training_state.pt"   # inside a snapshot directory
SNAPSHOT_FAKES_NAME = "fakes.png"           # inside a snapshot directory
FINAL_NAME = "network-final"                # checkpoint stem: network-final.json + network-final.safetensors


@dataclass(frozen=True)
class RunDir:
    """Paths of one run directory (nothing is created until a writer asks for it)."""
    root: Path

    def __init__(self, root: str | os.PathLike):
        object.__setattr__(self, "root", Path(root))

    def __fspath__(self) -> str:
        return str(self.root)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def config(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def log(self) -> Path:
        return self.root / LOG_NAME

    @property
    def metrics(self) -> Path:
        return self.root / METRICS_NAME

    @property
    def reals(self) -> Path:
        return self.root / REALS_NAME

    @property
    def curves(self) -> Path:
        return self.root / CURVES_NAME

    @property
    def samples(self) -> Path:
        return self.root / SAMPLES_DIR

    @property
    def snapshots(self) -> Path:
        return self.root / SNAPSHOTS_DIR

    @property
    def final(self) -> Path:
        """The final checkpoint's stem (what ``save_checkpoint`` takes)."""
        return self.root / FINAL_NAME

    @property
    def final_manifest(self) -> Path:
        """The final checkpoint's JSON file (what ``load_checkpoint`` and users pass around)."""
        return self.root / f"{FINAL_NAME}.json"

    def sample_grid(self, nimg: int) -> Path:
        return self.samples / f"fakes{nimg:09d}.png"

    def snapshot(self, nimg: int) -> Path:
        return self.snapshots / f"{SNAPSHOT_PREFIX}{nimg:09d}"


def snapshot_state(snapshot: str | os.PathLike) -> Path:
    """The training state file of a snapshot directory (optimizers, progress, RNG, loss state)."""
    return Path(snapshot) / TRAINING_STATE_NAME


def snapshot_checkpoint(snapshot: str | os.PathLike) -> Path:
    """The checkpoint stem of a snapshot directory (G, D, G_ema + ADA p)."""
    return Path(snapshot) / DIR_CHECKPOINT_NAME


def snapshot_fakes(snapshot: str | os.PathLike) -> Path:
    return Path(snapshot) / SNAPSHOT_FAKES_NAME
