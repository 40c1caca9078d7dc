"""Stage `finetune`: fine-tune the child from the resolved parent on the child data set.

``train_child`` wraps :func:`stylealign_core.training.api.finetune_child` (resume from the newest
snapshot of the run directory when its settings match: the core's check, ``ResumeMismatch`` otherwise);
``parent_vs_child_grid`` writes the comparison sheet (same z: parent row, then child row); ``write_metrics`` the DVC metrics file.
"""
from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from prefect import task
from prefect.cache_policies import NO_CACHE

from stylealign_core.atomic import write_json_atomic
from stylealign_core.checkpoints import load_generator
from stylealign_core.latents import grid_seeds
from stylealign_core.reports import comparison
from stylealign_core.training.api import finetune_child, set_threads
from stylealign_core.training.config import TrainConfig
from stylealign_core.training.resume import ResumeMismatch, check_run_resumable
from stylealign_core.training.rundir import RunDir

from ._common import logger

GRID_NAME = "parent_vs_child.png"
# The pipeline's policy is stricter than the core's (stylealign_core.training.resume.RESUMABLE_CHANGES): any
# other change of params.yaml's finetune.train makes a new run. The check itself is the core's.
RESUMABLE_CHANGES = {"total_kimg", "snapshot_kimg", "keep_snapshots"}


def final_checkpoint(run_dir: str | Path) -> Path:
    return RunDir(run_dir).final_manifest


def _check_resumable(run_dir: Path, cfg: TrainConfig, parent_sha256: str, data: str, parent_uri: str | None = None):
    """The core's resume check against the run's newest snapshot, with the pipeline's fix in the message."""
    metadata = {"kind": "child", "parent": {"sha256": parent_sha256, "uri": parent_uri}, "recipe": {"data": data}}
    try:
        # train.network is not the pipeline's to set for a child: it is the parent's (checked by sha256)
        train = {key: value for key, value in cfg.to_dict().items() if key != "network"}
        check_run_resumable(run_dir, train, metadata, allowed=RESUMABLE_CHANGES)
    except ResumeMismatch as exc:
        raise ResumeMismatch(f"{exc}. In the pipeline: set finetune.resume: null in params.yaml to start afresh "
                             "(the directory is cleared), or move it away") from None


@task(name="finetune.train_child", cache_policy=NO_CACHE)
def train_child(train: dict, parent_checkpoint: str, parent_sha256: str, data: str, run_dir: str,
                resume: str | None, threads: int | None) -> dict:
    """Fine-tune; returns a JSON-able summary (kimg, steps, seconds, checkpoint, last log row)."""
    log = logger()
    cfg = TrainConfig.from_dict(train)
    run = Path(run_dir)
    if resume is None and run.exists():
        log.info("finetune.resume is null: clearing %s", run)
        shutil.rmtree(run)
    elif resume == "latest" and run.exists():
        _check_resumable(run, cfg, parent_sha256, data, parent_checkpoint)
    set_threads(threads)
    log.info("fine-tuning %s kimg, batch %s, precision %s, %s torch threads: parent %s, data %s -> %s",
             cfg.total_kimg, cfg.batch, cfg.precision, torch.get_num_threads(), parent_checkpoint, data, run)
    t0 = time.time()
    result = finetune_child(cfg, parent_checkpoint, data, run, resume=resume, progress=False,
                            on_tick=progress_logger(log, cfg.total_kimg))
    seconds = time.time() - t0
    rows = result.get("log") or []
    last = {k: _num(v) for k, v in (rows[-1] if rows else {}).items()}
    speeds = [r["images_per_s"] for r in rows if "images_per_s" in r]
    summary = {"kimg": float(result["kimg"]), "steps": int(result["steps"]), "seconds": round(seconds, 2),
               "images_per_s": _num(float(np.mean(speeds))) if speeds else None,
               "checkpoint": str(result["checkpoint"]) + ".json", "last": last}
    log.info("fine-tuned to %.3f kimg in %.1f s -> %s", summary["kimg"], seconds, summary["checkpoint"])
    return summary


def progress_logger(log, total_kimg: float):
    """An on_tick hook: one log line per tick (kimg done, speed, time left, losses), the stage's progress in
    `dvc repro`, the Prefect UI and a worker's log, where no terminal shows a progress bar."""
    def report_progress(ctx) -> None:
        row = ctx.row
        speed = row.get("images_per_s") or 0.0
        left_min = (total_kimg - ctx.kimg) * 1000 / speed / 60 if speed > 0 else float("nan")
        losses = ", ".join(f"{k} {row[k]:.3f}" for k in ("loss_G", "loss_D", "augment_p") if k in row)
        log.info("finetune: %.3g/%g kimg (%.0f%%), %.1f img/s, ~%.1f min left; %s", ctx.kimg, total_kimg,
                 100 * ctx.kimg / total_kimg, speed, left_min, losses)
    return report_progress


def _num(v):
    if isinstance(v, (np.generic,)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@task(name="finetune.parent_vs_child_grid", cache_policy=NO_CACHE)
def parent_vs_child_grid(parent_checkpoint: str, child_checkpoint: str, out: str, columns: int, seed: int,
                         truncation_psi: float) -> str:
    """Seeds ``seed .. seed + columns - 1`` through both G_ema: parent row, then child row (same z)."""
    seeds = grid_seeds(columns, first=seed)
    path = comparison.parent_vs_child_grid(load_generator(parent_checkpoint), load_generator(child_checkpoint),
                                           out, seeds, truncation_psi=truncation_psi)
    logger().info("wrote %s (row 1: parent, row 2: child; seeds %d-%d)", path, seeds[0], seeds[-1])
    return str(path)


@task(name="finetune.write_metrics", cache_policy=NO_CACHE)
def write_metrics(path: str, summary: dict) -> dict:
    """The DVC metrics file: kimg, steps, seconds, images/s and the last logged losses."""
    metrics = {"kimg": summary["kimg"], "steps": summary["steps"], "seconds": summary["seconds"],
               "images_per_s": summary["images_per_s"]}
    for key in ("loss_G", "loss_D", "loss_r1", "loss_pl", "augment_p", "score_real", "score_fake"):
        if summary["last"].get(key) is not None:
            metrics[key] = summary["last"][key]
    write_json_atomic(path, metrics)
    return metrics
