"""Stage `invert`: one shard of a data set -> latents (a Prefect task), and the deterministic merge.

Thin wrappers around :mod:`stylealign_core.inversion`: the task loads the generator and the perceptual
distance and inverts shard I of N into ``OUT/shards/`` (with the projector, or an encoder + refine steps);
finished shards are kept, so a rerun after a kill only inverts the missing ones (the latents cache makes even a
half-finished shard cheap to redo). ``child_encoder`` warm-starts a child's encoder from its parent's.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from stylealign_core.checkpoints import load_checkpoint
from stylealign_core.inversion import (InvertOptions, LatentsCache, ProjectorSettings, encoder_options,
                                       invert_dataset, load_init, load_metric, load_reals, merge_shards,
                                       train_encoder, warm_start_settings)
from stylealign_core.inversion.shards import finished_shards

from ._common import logger


@task(name="invert.shard", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def invert_shard(network: str, data: str, out: str, settings: dict, shard: int, shards: int, metric: str,
                 metric_file: str | None = None, batch: int = 16, seed: int = 0, split: str | None = None,
                 limit: int | None = None, device: str = "cpu", threads: int | None = None,
                 cache_dir: str | None = None, encoder: str | None = None, refine: int = 0) -> dict:
    """Invert shard ``shard`` of ``shards`` (skipped when its table is already complete); with ``encoder`` (a
    checkpoint trained for ``network``) its codes + ``refine`` projector steps instead of the projector."""
    done = finished_shards(out).get(shards, {})
    if shard in done:
        logger().info("shard %d/%d already finished: %s", shard, shards, done[shard])
        return {"shard": shard, "table": str(done[shard]), "computed": 0, "reused": True}
    if threads:
        import torch
        torch.set_num_threads(threads)
    ckpt = load_checkpoint(network)
    G = ckpt.generator.eval().to(device)
    encoder_args = encoder_options(encoder, G, ckpt.sha256, refine, network, device) if encoder else {}
    options = InvertOptions(settings=ProjectorSettings(**settings), batch=batch, seed=seed, split=split,
                            shard=(shard, shards), limit=limit, cache=LatentsCache(cache_dir),
                            generator_uri=network, **encoder_args)
    result = invert_dataset(G, ckpt.sha256, data, out, load_metric(metric, metric_file).to(device), options)
    logger().info("shard %d/%d: %d image(s), %d optimised, %d from cache -> %s", shard, shards,
                  len(result.table), result.computed, result.cached, result.table_path)
    return {"shard": shard, "table": str(result.table_path), "computed": result.computed, "reused": False}


@task(name="invert.child_encoder", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def child_encoder(network: str, parent_encoder: str, data: str, out: str, kimg: float, metric: str,
                  metric_file: str | None = None, device: str = "cpu", threads: int | None = None) -> str:
    """The child's encoder at ``out``: the parent's (``parent_encoder``) continued with its architecture and the
    default recipe for ``kimg`` on the child's samples and the train split of ``data``; ``init_from`` records
    the parent's."""
    if threads:
        import torch
        torch.set_num_threads(threads)
    ckpt = load_checkpoint(network)
    G = ckpt.generator.eval().to(device)
    init, init_ckpt, init_from = load_init(parent_encoder)
    settings = warm_start_settings(init, kimg)
    metric_name = init_ckpt.metadata.get("metric") or metric
    summary = train_encoder(
        G, ckpt.sha256, load_metric(metric_name, metric_file).to(device) if settings.perceptual_weight else None,
        settings, load_reals(data, G, "train") if settings.real_fraction else None, out, init=init,
        metadata={"generator": {"uri": network, "sha256": ckpt.sha256}, "data": data, "split": "train",
                  "init_from": init_from})
    logger().info("child encoder: %s kimg from %s (%s) -> %s", kimg, parent_encoder, init_ckpt.sha256[:12],
                  summary["path"])
    return summary["path"]


@task(name="invert.merge", cache_policy=NO_CACHE)
def merge(out: str) -> dict:
    """Merge the finished shards into ``OUT/latents.parquet`` (rows in input order)."""
    table, path = merge_shards(out)
    logger().info("merged %d rows (%s) into %s", len(table), table.space, path)
    return {"table": str(path), "rows": len(table), "space": table.space, "metric": table.metric}


@task(name="invert.clear", cache_policy=NO_CACHE)
def clear(out: str) -> None:
    """Remove a previous run's ``out`` (the pipeline stage starts afresh, as under `dvc repro`; its finished
    images come back from the latents cache, so a rerun after a kill redoes only the missing ones)."""
    if Path(out).exists():
        logger().info("clearing %s", out)
        shutil.rmtree(out)
