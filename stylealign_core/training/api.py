"""Entry points: ``train_parent`` (from scratch) and ``finetune_child`` (from any loadable parent).

Both read a stylealign data set (or a stylegan2-ada-pytorch zip) one batch at a time, with x-flips and
(for ``cond``, a class-conditional model) labels from the data set, run the shared loop, and export
the final networks as ``RUN/network-final`` (a stylealign checkpoint whose metadata holds the
recipe, the data set and, for children, the parent's uri and sha256).
"""
from __future__ import annotations

import copy

import os
import subprocess
from pathlib import Path

import torch

from ..errors import InputMismatch
from ..checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from ..data import DataError, ImageDataset
from ..data.format import is_dataset_dir
from .config import TrainConfig
from .distributed import DistContext, init_from_env
from .hooks import as_hooks
from .loop import train
from .rundir import FINAL_NAME, RunDir  # noqa: F401 (FINAL_NAME: the final checkpoint's name, imported from here)


def open_training_data(data: str | os.PathLike, xflip: bool = False, labels: bool = False) -> ImageDataset:
    """The training images of ``data`` as an ``ImageDataset`` read one batch at a time (memory O(batch)):
    the ``train`` split of a stylealign data set, all of a stylegan2-ada-pytorch zip; ``xflip`` adds mirrored
    copies (indices n..2n-1, made when read); ``labels`` gives the data set's labels (class-conditional)."""
    split = "train" if is_dataset_dir(data) else None
    try:
        return ImageDataset(data, split=split, xflip=xflip, labels=True if labels else None, preload=False,
                            progress=False)
    except DataError as exc:
        if labels and "label" in exc.message:
            raise DataError(f"{exc.message}; a class-conditional run (--cond, train.cond) needs them", exc.path,
                            hint="build the data set with label columns, or train without --cond") from None
        raise


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def snapshot_metrics_hook(names: list[str], data, num_gen: int):
    """The ``on_snapshot`` hook of ``--metrics``: FID/KID of G_ema against the training data ``data`` (a data
    set path), one ``metrics.jsonl`` line per snapshot with every metric's record (value, std, counts, seeds)."""
    def metrics(ctx) -> dict:
        from ..metrics.evaluate import evaluate_metrics
        records = evaluate_metrics(ctx.G_ema, data, names, num_gen=num_gen, kimg=ctx.kimg)
        return {record["metric"]: record for record in records}
    return metrics


def _run(cfg: TrainConfig, data, run_dir, parent=None, parent_info=None, resume=None,
         dist_ctx: DistContext | None = None, progress=True, on_tick=None, on_snapshot=None) -> dict:
    ctx = dist_ctx or init_from_env(cfg.device)
    dataset = open_training_data(data, xflip=cfg.xflip, labels=getattr(cfg, "cond", False))
    recipe = {"train": cfg.to_dict(), "data": str(data), "data_name": dataset.metadata.get("name"),
              "num_images": len(dataset), "label_dim": dataset.label_dim, "commit": _git_commit(),
              "world_size": ctx.world_size}
    metadata = {"recipe": recipe, "kind": "child" if parent is not None else "parent"}
    if parent_info:
        metadata["parent"] = parent_info
    hooks = [snapshot_metrics_hook(cfg.metrics, data, cfg.metrics_num_gen)] if cfg.metrics else []
    hooks += list(as_hooks(on_snapshot, "on_snapshot"))
    result = train(cfg, dataset, run_dir, parent=parent, resume=resume, dist_ctx=ctx, metadata=metadata,
                   progress=progress, on_tick=on_tick, on_snapshot=hooks)
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
                   progress=True, on_tick=None, on_snapshot=None) -> dict:
    """Fine-tune a child from ``parent_uri`` (stylealign, official .pkl or rosinality .pt) on ``data``.
    ``on_tick``: hooks called with each tick's log row (see :mod:`.hooks`), e.g. to report progress
    where there is no terminal for the progress bar; ``on_snapshot``: hooks run at each snapshot after the
    ``cfg.metrics`` ones (their records go to RUN/metrics.jsonl too)."""
    parent = load_checkpoint(parent_uri, device="cpu")
    if "G" not in parent.networks and "G_ema" in parent.networks:  # a shipped export holds G_ema and D
        parent.networks["G"] = copy.deepcopy(parent.networks["G_ema"])
    for name in ("G", "D"):
        if name not in parent.networks:
            raise InputMismatch(f"{parent_uri}: fine-tuning needs the parent's {name} network, the checkpoint "
                                f"holds only {sorted(parent.networks)}; use a training checkpoint (with G or "
                                "G_ema, and D)")
    info = dict(parent.lineage(), kind=(parent.metadata or {}).get("kind"))
    cfg = cfg.replace(network=_parent_network_settings(parent, cfg))  # record what the child is, not defaults
    return _run(cfg, data, run_dir, parent=parent, parent_info=info, resume=resume, dist_ctx=dist_ctx,
                progress=progress, on_tick=on_tick, on_snapshot=on_snapshot)


def _parent_network_settings(parent, cfg: TrainConfig) -> dict:
    """The child's architecture is its parent's: ``train.network`` as the parent's G and D were built."""
    g, d = parent.networks["G"].config, parent.networks["D"].config
    net = cfg.network.model_dump()
    net.update({key: g[key] for key in ("z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max",
                                        "conv_clamp") if key in g})
    if "mbstd_group_size" in d:
        net["mbstd_group_size"] = d["mbstd_group_size"]
    return net


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
