"""The sharded inversion flow: a data set's N shards mapped over a task runner, then merged.

    from flows.invert import invert
    invert(network="models/parent/emoji-noto-64/network.json", data="data/emoji-google-64", out="runs/inv",
           shards=4, task_runner="dask")          # local | dask | dask://HOST:PORT | ray | ray://HOST:PORT

The merged table does not depend on the runner or the shard count: each image's randomness comes from the
run seed and its own content (stylealign_core.inversion.image_seed), and merging orders rows by input.
"""
from __future__ import annotations

from prefect import flow

from flows.runners import gpu_resources, make_task_runner
from tasks import invert as invert_tasks
from tasks._common import artifact


@flow(name="invert", log_prints=True)
def _invert(network: str, data: str, out: str, settings: dict, shards: int, metric: str, options: dict,
            task_runner: str, device: str) -> dict:
    with gpu_resources(task_runner, device):
        futures = [invert_tasks.invert_shard.submit(network, data, out, settings, i, shards, metric, device=device,
                                                    **options) for i in range(shards)]
    results = [f.result() for f in futures]  # a failed shard fails the flow
    merged = invert_tasks.merge(out)
    artifact("table", "invert-shards", f"Inversion of {data} in {shards} shard(s) ({task_runner})",
             table=[{k: r[k] for k in ("shard", "computed", "reused", "table")} for r in results])
    return {**merged, "shards": results}


def invert(network: str, data: str, out: str, space: str = "w+", steps: int = 1000, shards: int = 1,
           metric: str = "stlpips-vgg", task_runner: str = "local", workers: int = 2, device: str = "cpu",
           settings: dict | None = None, **options) -> dict:
    """Run the inversion flow with ``task_runner`` (``options``: batch, seed, split, limit, threads, metric_file,
    cache_dir of :func:`tasks.invert.invert_shard`; ``settings``: more ProjectorSettings fields)."""
    runner = make_task_runner(task_runner, workers)
    flow_ = _invert.with_options(task_runner=runner)
    return flow_(network, data, out, {"space": space, "steps": steps, **(settings or {})}, shards, metric, options,
                 task_runner, device)
