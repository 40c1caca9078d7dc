"""Batch translation (:mod:`stylealign_core.editing.batch`) as Prefect tasks: plan, translate one batch, manifest.

Prefixes are local directories or ``s3://BUCKET/PREFIX`` (endpoint: the ``endpoint_url`` argument, else
``$AWS_ENDPOINT_URL``; credentials only from the environment). Every task reads and writes the prefixes
itself, so a batch runs the same in this process, on a Dask worker or on a Ray worker. S3 calls are
retried by boto3; a task that still fails is retried once by Prefect (writes are atomic and a finished
image is never redone, so a retry is safe).
"""
from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from stylealign_core.editing.batch import (BatchSettings, Item, Plan, manifest, plan, translate_names,
                                           write_manifest)
from stylealign_core.prefix import open_prefix

from ._common import logger


def _sha256(checkpoint: str) -> str:
    from stylealign_core.checkpoints import read_checkpoint
    return read_checkpoint(checkpoint).sha256


@task(name="batch_translate.plan", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def plan_translation(input: str, output: str, parent: str, child: str, settings: dict,
                     endpoint_url: str | None = None) -> dict:
    """List the input, hash each image and the two checkpoints, and split the images into todo / done."""
    shas = {"parent_sha256": _sha256(parent), "child_sha256": _sha256(child)}
    result = plan(open_prefix(input, endpoint_url), open_prefix(output, endpoint_url), shas["parent_sha256"],
                  shas["child_sha256"], BatchSettings.from_dict(settings))
    logger().info("%s: %d image(s), %d to translate, %d already translated in %s", input, len(result.items),
                  len(result.todo), len(result.done), output)
    return {**shas, "todo": [vars(i) for i in result.todo], "done": [vars(i) for i in result.done]}


@task(name="batch_translate.batch", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def translate_batch(input: str, output: str, parent: str, child: str, names: list[str], settings: dict,
                    shas: dict, endpoint_url: str | None = None, device: str = "cpu",
                    threads: int | None = None) -> dict:
    """Translate the images ``names`` of the input (one batch) into the output; returns their records."""
    import torch

    from stylealign_core.editing import load_aligned_pair
    from stylealign_core.editing.errors import EditError
    from stylealign_core.inversion import load_metric

    if threads:
        torch.set_num_threads(threads)
    cfg = BatchSettings.from_dict(settings)
    pair = load_aligned_pair(parent, child, device=device)
    if (pair.parent_sha256, pair.child_sha256) != (shas["parent_sha256"], shas["child_sha256"]):
        raise EditError(f"the checkpoints changed since this run was planned ({parent}, {child}): run again")
    metric = load_metric(cfg.metric, cfg.metric_file).to(device)
    result = translate_names(pair, metric, open_prefix(input, endpoint_url), open_prefix(output, endpoint_url),
                             names, cfg)
    logger().info("translated %d image(s) into %s (%d unreadable)", len(result["records"]), output,
                  len(result["unreadable"]))
    return result


@task(name="batch_translate.manifest", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def write_translation_manifest(output: str, planned: dict, records: list[dict], unreadable: list[dict],
                               header: dict, endpoint_url: str | None = None) -> str:
    """Write ``OUTPUT/manifest.json`` (the input's images at this run and their translations)."""
    dst = open_prefix(output, endpoint_url)
    items = Plan([Item(**i) for i in planned["todo"]], [Item(**i) for i in planned["done"]]).items
    doc = manifest(dst, items, records, {**header, "unreadable": unreadable})
    path = write_manifest(dst, doc)
    logger().info("manifest: %d item(s) -> %s", len(doc["items"]), path)
    return path
