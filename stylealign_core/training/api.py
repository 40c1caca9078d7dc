"""Entry points: ``train_parent`` (from scratch) and ``finetune_child`` (from any loadable parent).

Both read a stylealign data set (or a stylegan2-ada-pytorch zip), run the shared loop, and export
the final networks as ``RUN/network-final`` (a stylealign checkpoint whose metadata holds the
recipe, the data set and, for children, the parent's uri and sha256).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import torch

from ..checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from ..data import open_dataset
from .config import TrainConfig
from .distributed import DistContext, init_from_env
from .loop import train
from .rundir import FINAL_NAME, RunDir  # noqa: F401 (FINAL_NAME: the final checkpoint's name, imported from here)


def load_training_images(data: str | os.PathLike, xflip: bool = False, split: str | None = "train"):
    """uint8 images [N, C, R, R] (x-flipped copies appended when ``xflip``) and the data set info."""
    dataset, info = open_dataset(data, split=split)
    images = np.ascontiguousarray(dataset.images_array())
    if images.ndim != 4:
        raise ValueError(f"{data}: expected a 4-d image array, got shape {images.shape}")
    if images.shape[-1] in (1, 3) and images.shape[1] not in (1, 3):  # NHWC -> NCHW
        images = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    if xflip:
        images = np.concatenate([images, images[..., ::-1]])
    return images, info


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _run(cfg: TrainConfig, data, run_dir, parent=None, parent_info=None, resume=None,
         dist_ctx: DistContext | None = None, progress=True) -> dict:
    ctx = dist_ctx or init_from_env(cfg.device)
    images, info = load_training_images(data, xflip=cfg.xflip)
    recipe = {"train": cfg.to_dict(), "data": str(data), "data_name": (info or {}).get("name"),
              "num_images": int(images.shape[0]), "commit": _git_commit(), "world_size": ctx.world_size}
    metadata = {"recipe": recipe, "kind": "child" if parent is not None else "parent"}
    if parent_info:
        metadata["parent"] = parent_info
    result = train(cfg, images, run_dir, parent=parent, resume=resume, dist_ctx=ctx, metadata=metadata,
                   progress=progress)
    final = RunDir(run_dir).final
    if ctx.is_main:
        meta = dict(metadata, kimg=result["kimg"], frozen=result["frozen"])
        if result["resumed_from"]:
            meta["resumed_from"] = result["resumed_from"]
        save_checkpoint(final, {"G": result["G"], "D": result["D"], "G_ema": result["G_ema"]}, metadata=meta)
    ctx.barrier()
    result["checkpoint"] = str(final)
    return result


def train_parent(cfg: TrainConfig, data, run_dir, resume=None, dist_ctx=None, progress=True) -> dict:
    """Train a parent StyleGAN2 from scratch on ``data``."""
    return _run(cfg, data, run_dir, resume=resume, dist_ctx=dist_ctx, progress=progress)


def finetune_child(cfg: TrainConfig, parent_uri, data, run_dir, resume=None, dist_ctx=None,
                   progress=True) -> dict:
    """Fine-tune a child from ``parent_uri`` (stylealign, official .pkl or rosinality .pt) on ``data``."""
    parent = load_checkpoint(parent_uri, device="cpu")
    for name in ("G", "D"):
        if name not in parent.networks:
            raise ValueError(f"{parent_uri}: fine-tuning needs the parent's {name} network, the checkpoint "
                             f"holds only {sorted(parent.networks)}; use a training checkpoint (with G and D)")
    info = dict(parent.lineage(), kind=(parent.metadata or {}).get("kind"))
    return _run(cfg, data, run_dir, parent=parent, parent_info=info, resume=resume, dist_ctx=dist_ctx,
                progress=progress)


def read_lineage(checkpoint) -> list[dict]:
    """Walk the parent links recorded in checkpoints: [this, parent, grandparent, ...], as far as
    the recorded parent URIs can still be read."""
    chain, uri = [], checkpoint
    for _ in range(16):
        try:
            ckpt = load_checkpoint(uri, networks=())
        except CheckpointError:
            if not chain:
                raise
            chain[-1]["parent_unreadable"] = str(uri)
            break
        chain.append(dict(ckpt.lineage(), kind=(ckpt.metadata or {}).get("kind")))
        parent = (ckpt.metadata or {}).get("parent")
        if not parent:
            break
        uri = parent["uri"]
    return chain


def set_threads(threads: int | None):
    if threads:
        torch.set_num_threads(threads)
