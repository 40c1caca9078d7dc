"""The batch-translation flow (flows/batch_translate.py), against real services, no mocks:

* a local input prefix: the first run translates every image, a rerun translates nothing, a new image alone
  is translated next; a 2-worker Dask LocalCluster gives the same outputs and manifest as the local runner;
* a real S3 store (single-node Ceph radosgw on loopback, tests/s3store.py) as input and output prefix, with
  the same idempotence;
* the flow served as a deployment on a real Prefect server with a short interval schedule: a scheduled run
  and a run created through the API both complete and write their outputs.

Tiny freshly initialised parent/child generators (16 px), 32 px input images, 3 projector steps.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import TINY_G
from flows.batch_translate import batch_translate
from prefect_server import PrefectServer, prefect_env, stop_process_group
from s3store import store  # noqa: F401 (the module's S3 store fixture)
from stylealign_core.checkpoints import save_checkpoint
from stylealign_core.editing.batch import MANIFEST_NAME, RECORDS_DIR
from stylealign_core.generator import Generator
from stylealign_core.prefix import PrefixError

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(steps=3, metric="stlpips-alex", batch=2, threads=1, settings={"stats_samples": 200})


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory):
    """A real Prefect server whose scheduler looks for due runs every 2 s (the serve test's schedule)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS", "2")
        with PrefectServer(tmp_path_factory.mktemp("prefect-home")) as server:
            mp.delenv("PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS")
            yield server.api_url


@pytest.fixture
def api(prefect_api, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    with temporary_settings(updates={PREFECT_API_URL: prefect_api}):
        yield prefect_api


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> dict:
    """A tiny parent and an aligned child (same architecture, other weights), as checkpoint paths."""
    root = tmp_path_factory.mktemp("pair")
    torch.manual_seed(0)
    parent = save_checkpoint(root / "parent", {"G_ema": Generator(**TINY_G).eval()})
    torch.manual_seed(1)
    child = save_checkpoint(root / "child", {"G_ema": Generator(**TINY_G).eval()})
    return {"parent": str(parent), "child": str(child)}


def _png(seed: int) -> bytes:
    import io
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _inbox(folder: Path, seeds) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for s in seeds:
        (folder / f"im{s}.png").write_bytes(_png(s))
    return folder


def _items(manifest: dict) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in ("distance", "mse")} for row in manifest["items"]]


# ---- local prefix: idempotence, and the Dask runner gives the same result ------------------------------

def test_local_rerun_skips_everything_new_images_alone_are_translated_and_dask_agrees(api, pair, tmp_path):
    inbox, out = _inbox(tmp_path / "inbox", range(3)), tmp_path / "out"
    first = batch_translate(input=str(inbox), output=str(out), **pair, **FAST)
    assert (first["translated"], first["skipped"], first["batches"]) == (3, 0, 2)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["im0.png", "im1.png", "im2.png"]
    with Image.open(out / "im0.png") as im:
        assert im.size == (TINY_G["img_resolution"],) * 2
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.name != MANIFEST_NAME}

    again = batch_translate(input=str(inbox), output=str(out), **pair, **FAST)
    assert (again["translated"], again["skipped"], again["batches"]) == (0, 3, 0)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.name != MANIFEST_NAME} == stamps

    _inbox(inbox, [3])
    third = batch_translate(input=str(inbox), output=str(out), **pair, **FAST)
    assert (third["translated"], third["skipped"]) == (1, 3)
    assert [p for p in out.glob("*.png") if p not in stamps] == [out / "im3.png"]
    local = json.loads((out / MANIFEST_NAME).read_text())
    assert [r["name"] for r in local["items"]] == [f"im{i}.png" for i in range(4)]
    assert len(list((out / RECORDS_DIR).glob("*.json"))) == 4

    # the same four images on a 2-worker Dask LocalCluster (two batches of two, one per worker)
    dask = batch_translate(input=str(inbox), output=str(tmp_path / "out-dask"), task_runner="dask", workers=2,
                           **pair, **FAST)
    assert (dask["translated"], dask["batches"]) == (4, 2)
    other = json.loads((tmp_path / "out-dask" / MANIFEST_NAME).read_text())
    assert _items(other) == _items(local)  # names, keys, input and generator hashes, steps
    for a, b in zip(local["items"], other["items"]):
        assert a["distance"] == pytest.approx(b["distance"], rel=1e-4, abs=1e-5)
        with Image.open(out / a["output"]) as x, Image.open(tmp_path / "out-dask" / b["output"]) as y:
            assert np.abs(np.asarray(x, np.int16) - np.asarray(y, np.int16)).max() <= 1


def test_a_killed_run_keeps_what_it_finished_a_changed_image_is_redone_and_bad_settings_are_refused(
        api, pair, tmp_path):
    from stylealign_core.editing import load_aligned_pair
    from stylealign_core.editing.batch import BatchSettings, translate_names
    from stylealign_core.editing.errors import EditError
    from stylealign_core.inversion import load_metric
    from stylealign_core.prefix import open_prefix

    inbox, out = _inbox(tmp_path / "inbox", range(3)), tmp_path / "out"
    # what a run killed after its first batch leaves: one PNG and its record, no manifest
    settings = BatchSettings.create(steps=3, metric="stlpips-alex", batch=2, stats_samples=200)
    translate_names(load_aligned_pair(pair["parent"], pair["child"]), load_metric("stlpips-alex"),
                    open_prefix(inbox), open_prefix(out), ["im0.png"], settings)
    assert not (out / MANIFEST_NAME).exists()
    rerun = batch_translate(input=str(inbox), output=str(out), **pair, **FAST)
    assert (rerun["translated"], rerun["skipped"]) == (2, 1)
    assert [r["name"] for r in json.loads((out / MANIFEST_NAME).read_text())["items"]] == \
        ["im0.png", "im1.png", "im2.png"]

    (inbox / "im1.png").write_bytes(_png(7))  # same name, new content: a new key
    changed = batch_translate(input=str(inbox), output=str(out), **pair, **FAST)
    assert (changed["translated"], changed["skipped"]) == (1, 2)
    row = next(r for r in json.loads((out / MANIFEST_NAME).read_text())["items"] if r["name"] == "im1.png")
    assert row["input_sha256"] == hashlib.sha256(_png(7)).hexdigest()

    with pytest.raises(PrefixError, match="overlap.*fix: choose an output prefix outside"):
        batch_translate(input=str(inbox), output=str(inbox / "translated"), **pair, **FAST)
    with pytest.raises(EditError, match="unknown projector setting.*stepz.*fix: use"):
        BatchSettings.create(stepz=3)


def test_command_line_runs_the_flow_and_defaults_resolve_against_params(api, pair, tmp_path, capsys):
    from flows.batch_translate import _locations
    from stylealign.cli import build_parser, main
    from stylealign_core.inversion import DEFAULT_METRIC

    inbox = _inbox(tmp_path / "inbox", range(2))
    argv = ["translate-batch", "--input", str(inbox), "--output", str(tmp_path / "out"), "--parent", pair["parent"],
            "--child", pair["child"], "--steps", "3", "--metric", "stlpips-alex", "--threads", "1"]
    assert main(argv) == 0
    assert "translated 2 image(s), 0 already done" in capsys.readouterr().out
    assert main(argv) == 0
    assert "translated 0 image(s), 2 already done" in capsys.readouterr().out
    assert main(argv[:5]) == 2
    assert "pass --parent and --child, or --params FILE" in capsys.readouterr().err
    assert build_parser().parse_args(argv[:5]).metric == DEFAULT_METRIC

    # prefect.yaml's scheduled deployment: paths relative to params.yaml, the pipeline's parent and child
    import yaml
    deployments = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    spec = deployments["stylealign-batch-translate"]
    assert spec["entrypoint"] == "flows/batch_translate.py:batch_translate" and spec["schedules"][0]["cron"]
    defaults = spec["parameters"]
    (tmp_path / defaults["params_path"]).write_text((ROOT / "smoke" / "params.yaml").read_text())
    where = _locations(str(tmp_path / defaults["params_path"]), defaults["input"], "s3://b/out", None, None)
    assert where == {"input": str(tmp_path / "batch" / "inbox"), "output": "s3://b/out",
                     "parent": str(tmp_path / "models" / "parent-resolved" / "network.json"),
                     "child": str(tmp_path / "runs" / "child" / "network-final.json")}


# ---- S3: input and output prefixes in a real store --------------------------------------------------------

def test_s3_prefixes_rerun_skips_everything_and_new_images_alone_are_translated(api, pair, store, monkeypatch):
    for key, value in store.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # the endpoint comes from the flow parameter here
    client = store.client()
    client.create_bucket(Bucket="emoji")
    for s in range(3):
        client.put_object(Bucket="emoji", Key=f"inbox/im{s}.png", Body=_png(s))
    run = dict(input="s3://emoji/inbox", output="s3://emoji/translated", endpoint_url=store.endpoint, **pair, **FAST)

    def listing() -> dict:
        objects = client.list_objects_v2(Bucket="emoji", Prefix="translated/").get("Contents", [])
        return {o["Key"]: o["ETag"] for o in objects}

    first = batch_translate(**run)
    assert (first["translated"], first["skipped"]) == (3, 0)
    assert first["manifest"] == "s3://emoji/translated/manifest.json"
    keys = listing()
    assert {k for k in keys if k.endswith(".png")} == {f"translated/im{s}.png" for s in range(3)}
    again = batch_translate(**run)
    assert (again["translated"], again["skipped"]) == (0, 3)
    assert {k: v for k, v in listing().items() if not k.endswith(MANIFEST_NAME)} == \
        {k: v for k, v in keys.items() if not k.endswith(MANIFEST_NAME)}
    client.put_object(Bucket="emoji", Key="inbox/im3.png", Body=_png(3))
    third = batch_translate(**run)
    assert (third["translated"], third["skipped"]) == (1, 3)
    manifest = json.loads(client.get_object(Bucket="emoji", Key="translated/manifest.json")["Body"].read())
    assert [r["output"] for r in manifest["items"]] == [f"im{s}.png" for s in range(4)]
    png = client.get_object(Bucket="emoji", Key="translated/im3.png")["Body"].read()
    assert png.startswith(b"\x89PNG")


# ---- a served deployment: its schedule and the API both start runs that complete ---------------------------

# Longer than one run (~15 s here), so scheduled runs do not queue up ahead of the API's (limit 1).
INTERVAL_S = 20
SERVE = f"""
import sys, json
from flows.batch_translate import batch_translate
batch_translate.serve(name="test-batch", interval={INTERVAL_S}, limit=1, parameters=json.loads(sys.argv[1]))
"""


def test_served_deployment_runs_on_its_schedule_and_through_the_api(api, pair, tmp_path):
    from prefect.client.orchestration import SyncPrefectClient

    inbox = _inbox(tmp_path / "inbox", range(3))
    params = {"input": str(inbox), "output": str(tmp_path / "scheduled"), **pair, **FAST}
    env = prefect_env(PREFECT_API_URL=api, PREFECT_HOME=tmp_path / "client", PYTHONPATH=ROOT,
                      PREFECT_RUNNER_POLL_FREQUENCY=2)
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-c", SERVE, json.dumps(params)], cwd=tmp_path, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 240

    def wait(what, probe):
        while not (value := probe()):
            assert proc.poll() is None and time.monotonic() < deadline, \
                f"{what}: {(tmp_path / 'serve.log').read_text()[-3000:]}"
            time.sleep(1)
        return value

    try:
        with SyncPrefectClient(api) as client:
            deployment = wait("deployment", lambda: _deployment(client, "batch-translate/test-batch"))
            assert [s.schedule.interval.total_seconds() for s in deployment.schedules] == [INTERVAL_S]
            scheduled = wait("a completed scheduled run", lambda: [
                r for r in client.read_flow_runs() if r.deployment_id == deployment.id and r.auto_scheduled
                and r.state.is_completed()])
            assert scheduled
            by_api = client.create_flow_run_from_deployment(
                deployment.id, parameters={"output": str(tmp_path / "by-api")})
            state = wait("the API-triggered run", lambda: (s := client.read_flow_run(by_api.id).state).is_final() and s)
            assert state.is_completed(), (state, (tmp_path / "serve.log").read_text()[-3000:])
    finally:
        stop_process_group(proc)
        log.close()
    for folder in ("scheduled", "by-api"):
        assert sorted(p.name for p in (tmp_path / folder).glob("*.png")) == [f"im{s}.png" for s in range(3)]
        assert len(json.loads((tmp_path / folder / MANIFEST_NAME).read_text())["items"]) == 3


def _deployment(client, name: str):
    try:
        return client.read_deployment_by_name(name)
    except Exception:  # noqa: BLE001 - ObjectNotFound until serve() has registered it
        return None
