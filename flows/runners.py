"""Task runners for the sharded flows (inversion, batch translation): one setting string, one place.

    local                      tasks of the flow run in threads of this process (ThreadPoolTaskRunner)
    dask                       a Dask LocalCluster started for the flow (``workers`` processes, 1 thread each)
    dask://HOST:PORT           an existing Dask scheduler (tcp://HOST:PORT); its workers need this package
    ray                        a local Ray instance started for the flow (prefect-ray)
    ray://HOST:PORT            an existing Ray cluster

GPUs: start one Dask worker per GPU with ``--resources GPU=1`` (``dask worker tcp://... --nthreads 1
--resources GPU=1``) and set ``task_runner: dask://...``; the shard tasks ask for ``GPU: 1`` when the flow's
device is cuda, so each GPU runs one shard at a time. With Ray, each shard task asks for ``num_gpus: 1``.
"""
from __future__ import annotations

import contextlib

from stylealign_core.errors import StylealignError


class TaskRunnerError(StylealignError):
    """A task-runner setting that cannot be used here (unknown, or its package is missing)."""


def make_task_runner(setting: str, workers: int = 2):
    """The Prefect task runner for ``setting`` (see the module docstring)."""
    setting = (setting or "local").strip()
    if setting == "local":
        from prefect.task_runners import ThreadPoolTaskRunner
        return ThreadPoolTaskRunner(max_workers=workers)
    if setting == "dask" or setting.startswith(("dask://", "tcp://")):
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError:
            raise TaskRunnerError(f"task_runner {setting!r} needs prefect-dask (fix: pip install "
                                  "prefect-dask, or set task_runner: local)") from None
        if setting == "dask":
            return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1,
                                                  "processes": True, "dashboard_address": None})
        return DaskTaskRunner(address="tcp://" + setting.split("://", 1)[1])
    if setting == "ray" or setting.startswith("ray://"):
        try:
            from prefect_ray import RayTaskRunner
        except ImportError:
            raise TaskRunnerError(f"task_runner {setting!r} needs prefect-ray (fix: pip install "
                                  "prefect-ray, or set task_runner: local or dask)") from None
        return RayTaskRunner() if setting == "ray" else RayTaskRunner(address=setting)
    raise TaskRunnerError(f"unknown task_runner {setting!r} (fix: use local, dask, dask://HOST:PORT, ray or "
                          "ray://HOST:PORT)")


def gpu_resources(setting: str, device: str):
    """A context that asks the runner for one GPU per task submitted inside it (Dask resources / Ray)."""
    if device != "cuda":
        return contextlib.nullcontext()
    if setting == "dask" or setting.startswith(("dask://", "tcp://")):
        import dask
        return dask.annotate(resources={"GPU": 1})
    if setting == "ray" or setting.startswith("ray://"):
        from prefect_ray.context import remote_options
        return remote_options(num_gpus=1)
    return contextlib.nullcontext()
