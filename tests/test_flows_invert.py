"""The sharded inversion flow on a real Dask LocalCluster (2 worker processes) and on the local runner:
the merged tables are equal, shards already finished are reused on a rerun, and a bad runner setting is
refused naming the fix. Real Prefect (a temporary local server), real Dask, the real projector."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from flows.invert import invert
from flows.runners import TaskRunnerError, make_task_runner
from prefect_server import PrefectServer
from stylealign_core.checkpoints import save_checkpoint
from stylealign_core.generator import Generator
from stylealign_core.inversion import read_latents


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory):
    """A real Prefect server; the Dask worker processes report to it too (they inherit the environment)."""
    with PrefectServer(tmp_path_factory.mktemp("prefect-home")) as server:
        yield server.api_url


@pytest.fixture
def inputs(tmp_path, tiny_g_kwargs, prefect_api, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    torch.manual_seed(0)
    network = save_checkpoint(tmp_path / "g", {"G_ema": Generator(**tiny_g_kwargs).eval()})
    data = tmp_path / "images"
    data.mkdir()
    rng = np.random.default_rng(0)
    size = tiny_g_kwargs["img_resolution"]
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(data / f"im{i}.png")
    with temporary_settings(updates={PREFECT_API_URL: prefect_api}):
        yield str(network), str(data)


def _run(inputs, tmp_path, name, shards, runner):
    network, data = inputs
    return invert(network, data, str(tmp_path / name), space="w", steps=3, shards=shards, metric="stlpips-alex",
                  task_runner=runner, workers=2, settings={"stats_samples": 200}, batch=2, threads=1,
                  cache_dir=str(tmp_path / f"cache-{name}"))


def test_dask_shards_merge_to_the_local_table_and_finished_shards_are_reused(inputs, tmp_path):
    local = _run(inputs, tmp_path, "local", 1, "local")
    dask = _run(inputs, tmp_path, "dask", 2, "dask")
    a, b = read_latents(local["table"]), read_latents(dask["table"])
    assert a.ids == b.ids == [f"im{i}" for i in range(6)] and dask["rows"] == 6
    torch.testing.assert_close(a.latents, b.latents, rtol=1e-4, atol=1e-5)
    assert [s["reused"] for s in dask["shards"]] == [False, False]
    again = _run(inputs, tmp_path, "dask", 2, "local")  # a rerun (e.g. after a kill) redoes nothing finished
    assert [s["reused"] for s in again["shards"]] == [True, True]
    assert read_latents(again["table"]).ids == b.ids


def test_unusable_runner_settings_are_refused_with_the_fix():
    with pytest.raises(TaskRunnerError, match="unknown task_runner 'spark'.*fix: use local, dask"):
        make_task_runner("spark")
    try:
        import prefect_ray  # noqa: F401 - an optional extra
    except ImportError:
        with pytest.raises(TaskRunnerError, match="needs prefect-ray.*fix: pip install prefect-ray"):
            make_task_runner("ray")
    else:
        assert type(make_task_runner("ray")).__name__ == "RayTaskRunner"
