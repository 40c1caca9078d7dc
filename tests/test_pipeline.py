"""The pipeline end to end, against real servers and tools (no mocks).

* a real Prefect server (``prefect server start`` on 127.0.0.1, a free port, SQLite in a temporary
  PREFECT_HOME) shared by the module; the smoke pipeline flow runs against it and its final state is
  read back with the Prefect client;
* ``dvc repro smoke/dvc.yaml`` in a temporary copy of the repository (its own git repo and DVC
  site cache); a second ``dvc repro`` has nothing to do;
* dvc experiments sweep the freeze options, and a served deployment runs on its schedule.

Bad inputs and the stages' shape: test_pipeline_inputs.py.

The data stage really builds the emoji data sets (npm tarballs come from the data library's cache,
``$STYLEALIGN_CACHE``, fetched on first use). Budget: a few minutes on 2 CPU cores.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pipeline_helpers import (BIN, ROOT, STAGES, _params, _show, client_env, flow_runs,  # noqa: F401
                              prefect_server, run)
from prefect_server import stop_process_group

TRANSLATE_KEYS = {"lpips", "baseline_input_lpips", "baseline_random_lpips", "baseline_nearest_lpips",
                  "baseline_mean_lpips", "mask_iou", "n_items", "metric"}


@pytest.fixture(scope="module")
def smoke_flow(client_env, tmp_path_factory):
    """The smoke pipeline flow (`stylealign pipeline run --stage all`) run once against the server."""
    work = tmp_path_factory.mktemp("smoke-flow")
    shutil.copy(ROOT / "smoke" / "params.yaml", work / "params.yaml")
    t0 = time.time()
    proc = run([BIN / "stylealign", "pipeline", "run", "--stage", "all", "--params", work / "params.yaml"],
               timeout=300, env=client_env, cwd=work)
    print(f"smoke pipeline flow: {time.time() - t0:.1f} s")
    assert proc.returncode == 0, _show(proc)
    return work


def copy_repo(dst: Path) -> Path:
    """The repository's files (tracked + untracked, minus git-ignored and smoke outputs) in ``dst``."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        if name.startswith("smoke/") and name not in ("smoke/dvc.yaml", "smoke/params.yaml"):
            continue  # outputs of local smoke runs and their dvc.lock
        src = ROOT / name
        if src.is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)
    return dst


@pytest.fixture(scope="module")
def dvc_repo(client_env, tmp_path_factory):
    """A temporary copy of the repository with `dvc repro smoke/dvc.yaml` run twice."""
    base = tmp_path_factory.mktemp("dvc")
    repo = copy_repo(base / "repo")
    env = dict(client_env, PYTHONPATH=str(repo))  # the stages import the copy's code
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    dvc = [sys.executable, "-m", "dvc"]
    if not (repo / ".dvc").is_dir():
        subprocess.run(dvc + ["init", "-q"], cwd=repo, check=True, env=env)
    subprocess.run(dvc + ["config", "--local", "core.site_cache_dir", str(base / "site-cache")], cwd=repo,
                   check=True, env=env)
    t0 = time.time()
    first = run(dvc + ["repro", "smoke/dvc.yaml"], timeout=420, cwd=repo, env=env)
    t1 = time.time()
    second = run(dvc + ["repro", "smoke/dvc.yaml"], timeout=120, cwd=repo, env=env)
    print(f"dvc repro: first {t1 - t0:.1f} s, second {time.time() - t1:.1f} s")
    wrapper = run([BIN / "stylealign", "repro", "--smoke"], timeout=120, cwd=repo / "smoke", env=env)
    return {"repo": repo, "env": env, "dvc": dvc, "first": first, "second": second, "wrapper": wrapper}


# ---- (a) the smoke flow against a real Prefect server ----------------------------------------------

def test_smoke_flow_run_completed_on_the_server(smoke_flow, prefect_server):
    runs = flow_runs(prefect_server, "pipeline")
    assert runs, "no `pipeline` flow run on the server"
    assert all(r.state.is_completed() for r in runs), [(r.name, r.state.name) for r in runs]
    for stage in STAGES:
        subs = [r for r in flow_runs(prefect_server, stage) if r.parent_task_run_id is not None]
        assert subs and all(r.state.is_completed() for r in subs), (stage, [(r.name, r.state) for r in subs])
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    with SyncPrefectClient(prefect_server) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["finetune-child"])))
        assert arts and "parent_vs_child.png" in arts[0].data, arts
        keys = {a.key for a in client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(
            any_=["invert-latents", "translate-summary", "translate-run", "morph-pairs"])))}
    assert keys == {"invert-latents", "translate-summary", "translate-run", "morph-pairs"}, keys


def test_smoke_flow_outputs(smoke_flow):
    from PIL import Image

    from stylealign_core.checkpoints import load_checkpoint
    from stylealign_core.data import open_dataset
    from stylealign_core.params import load_params

    p = load_params(smoke_flow / "params.yaml")
    ids = {}
    for which in ("parent", "child"):
        ds, meta = open_dataset(p.resolve(getattr(p.data, which).out), split=None)
        assert meta["num_images"] == p.data.limit and meta["resolution"] == p.data.resolution
        assert meta["subset"]["limit"] == p.data.limit
        ids[which] = ds.ids
    assert ids["parent"] == ids["child"], "the two styles' subsets should hold the same emoji"

    lineage = json.loads((p.resolve(p.parent.out) / "lineage.json").read_text())
    assert lineage["source"]["format"] == "init" and lineage["resolved"]["resolution"] == p.data.resolution

    run_dir = p.resolve(p.finetune.out)
    child = load_checkpoint(run_dir / "network-final.json")
    assert {"G", "D", "G_ema"} <= set(child.networks)
    assert child.metadata["kind"] == "child"
    assert child.metadata["parent"]["sha256"] == lineage["resolved"]["sha256"]
    assert child.generator.img_resolution == p.data.resolution

    with Image.open(run_dir / "parent_vs_child.png") as img:
        res, cols = p.data.resolution, p.finetune.grid.columns
        assert img.size == (cols * res, 2 * res)

    metrics = json.loads(p.resolve(p.finetune.metrics).read_text())
    assert metrics["kimg"] == pytest.approx(p.finetune.train.total_kimg)
    assert metrics["steps"] >= 1 and metrics["seconds"] > 0
    check_report(p)


def check_report(p) -> dict:
    """The analyze + report stages' outputs of a smoke run: every required metrics.json key, null only with
    a reason, the KID counts of smoke/params.yaml, and the page (tested in a browser in test_report.py)."""
    from stylealign_core.reports.metrics_json import REQUIRED, get, null_keys
    summary = json.loads((p.resolve(p.analyze.out) / "summary.json").read_text())
    assert {(r["model"], r["domain"]) for r in summary["fid_kid"]} == {
        (m, d) for m in ("parent", "child") for d in ("parent", "child")}
    report = json.loads((p.resolve(p.report.out) / "metrics.json").read_text())
    for key in REQUIRED:
        assert get(report, key) is not None or get(report, key + "_reason"), key
    assert report["kid"]["child"] is not None and report["kid"]["num_gen"] == p.analyze.fid_kid.num_gen
    assert set(report["alignment"]["reset"]) >= {"mapping", "affine", "synthesis", "torgb"}
    assert all(report["alignment"]["reset"][g]["kid"] is not None for g in ("mapping", "affine", "synthesis", "torgb"))
    assert all(report["alignment"]["reset"][g]["translation_mse"] is not None  # the invert stage ran before
               for g in ("mapping", "affine", "synthesis", "torgb", "child", "parent"))
    assert "fid.parent" in null_keys(report)  # smoke: fid none (KID only)
    page = (p.resolve(p.report.out) / "index.html").read_text()
    assert "../runs/child/parent_vs_child.png" in page and "assets/training_curves.png" in page
    return report


def test_smoke_flow_editing_outputs(smoke_flow):
    """invert -> both latents tables (the first `limit` test images of each domain, in its own generator);
    translate -> the CLI's run layout + the flat metrics file; morph -> pairs.json listing existing files."""
    from PIL import Image

    from stylealign_core.checkpoints import load_checkpoint
    from stylealign_core.data import open_dataset
    from stylealign_core.inversion import read_latents
    from stylealign_core.params import load_params

    p = load_params(smoke_flow / "params.yaml")
    networks = {"parent": p.resolve(p.parent.out) / "network.json",
                "child": p.resolve(p.finetune.out) / "network-final.json"}
    tables = {}
    for domain, network in networks.items():
        ds, _ = open_dataset(p.resolve(getattr(p.data, domain).out), split=p.invert.split)
        table = tables[domain] = read_latents(p.resolve(p.invert.out) / domain / "latents.parquet")
        assert table.ids == list(ds.ids[:p.invert.limit]) and len(table) == p.invert.limit
        assert table.space == p.invert.space and table.metric == p.invert.metric
        assert table.generator_sha256 == load_checkpoint(network).sha256, domain

    run = p.resolve(p.translate.out)
    summary = json.loads((run / "summary.json").read_text())
    assert {r["method"] for r in summary} == {"translation", "input", "random_sample", "nearest_train", "mean_image"}
    assert {r["metric"] for r in summary} == {"perceptual", "mse", "l1", "mask_iou"}
    assert all({"mean", "ci_low", "ci_high"} <= set(r) for r in summary)
    assert (run / "contact_sheet.png").is_file() and (run / "translations.parquet").is_file()
    metrics = json.loads(p.resolve(p.translate.metrics).read_text())
    assert set(metrics) == TRANSLATE_KEYS, metrics
    assert metrics["n_items"] == p.invert.limit and metrics["metric"] == p.translate.metric
    means = {(r["method"], r["metric"]): r["mean"] for r in summary}
    assert metrics["lpips"] == pytest.approx(means["translation", "perceptual"])
    assert metrics["baseline_nearest_lpips"] == pytest.approx(means["nearest_train", "perceptual"])
    assert 0 <= metrics["mask_iou"] <= 1

    out = p.resolve(p.morph.out)
    pairs = json.loads((out / "pairs.json").read_text())
    assert [(e["a"], e["b"]) for e in pairs] == [(i, i) for i in tables["parent"].ids[:p.morph.count]]
    for e in pairs:
        with Image.open(out / e["gif"]) as gif:
            assert gif.n_frames == p.morph.frames
        assert (out / e["strip"]).is_file() and (out / e["dir"] / "run.json").is_file()
        assert e["mp4"] is None or (out / e["mp4"]).is_file()


def test_rerunning_a_stage_outside_dvc_keeps_what_is_up_to_date(smoke_flow, client_env):
    before = {p: p.stat().st_mtime_ns for p in (smoke_flow / "models" / "parent-resolved").iterdir()}
    proc = run([BIN / "stylealign", "pipeline", "run", "--stage", "parent", "--params", smoke_flow / "params.yaml"],
               timeout=120, env=client_env, cwd=smoke_flow)
    assert proc.returncode == 0, _show(proc)
    assert "is up to date" in proc.stdout + proc.stderr
    after = {p: p.stat().st_mtime_ns for p in (smoke_flow / "models" / "parent-resolved").iterdir()}
    assert before == after


def test_invert_stage_with_encoders(smoke_flow, client_env, tmp_path):
    """invert.method encode: the parent's encoder from invert.encoder.parent, the child's warm-started from it
    in the stage (init_from recorded), both tables written by encode+refine; a missing encoder names the key."""
    from stylealign_core.checkpoints import load_checkpoint
    from stylealign_core.inversion import read_latents
    from stylealign_core.params import load_params

    p = load_params(smoke_flow / "params.yaml")
    parent_net = p.resolve(p.parent.out) / "network.json"
    enc = tmp_path / "enc-parent"
    proc = run([BIN / "stylealign", "encoder", "train", "--network", parent_net, "--out", enc, "--kimg", "0.008",
                "--batch", "4", "--lr", "5e-4", "--channels", "8", "--channel-max", "16", "--hidden", "64",
                "--perceptual-weight", "0", "--no-progress"], timeout=120, cwd=smoke_flow)
    assert proc.returncode == 0, _show(proc)
    doc = yaml.safe_load((smoke_flow / "params.yaml").read_text())
    doc["invert"].update(method="encode", out="runs/invert-enc", shards=1,
                         encoder={"parent": str(enc) + ".json", "child_kimg": 0.016, "refine": 2})
    params = smoke_flow / "params-encode.yaml"
    params.write_text(yaml.safe_dump(doc))
    proc = run([BIN / "stylealign", "pipeline", "run", "--stage", "invert", "--params", params], timeout=300,
               env=client_env, cwd=smoke_flow)
    assert proc.returncode == 0, _show(proc)
    out = smoke_flow / "runs" / "invert-enc"
    child_enc = load_checkpoint(out / "child-encoder" / "encoder.json")
    child_sha = load_checkpoint(p.resolve(p.finetune.out) / "network-final.json", networks=()).sha256
    assert child_enc.metadata["generator"]["sha256"] == child_sha
    assert child_enc.metadata["init_from"]["sha256"] == load_checkpoint(str(enc) + ".json").sha256
    recipe = child_enc.metadata["recipe"]            # the parent encoder's architecture, the default recipe
    assert (recipe["hidden"], recipe["lr"], recipe["batch"]) == (64, 1e-3, 16)
    assert child_enc.metadata["kimg"] == pytest.approx(0.016)
    for domain in ("parent", "child"):
        table = read_latents(out / domain / "latents.parquet")
        assert len(table) == p.invert.limit and set(table.columns["method"]) == {"encode+refine"}, domain
    doc["invert"]["encoder"]["parent"] = "models/no-such-encoder.json"
    params.write_text(yaml.safe_dump(doc))
    proc = run([BIN / "stylealign", "pipeline", "run", "--stage", "invert", "--params", params], timeout=120,
               env=client_env, cwd=smoke_flow)
    assert proc.returncode != 0 and "invert.encoder.parent" in proc.stdout + proc.stderr, _show(proc)


# ---- (b) dvc repro of the smoke project ---------------------------------------------------------------

def test_dvc_repro_smoke_completes(dvc_repo):
    first, repo = dvc_repo["first"], dvc_repo["repo"]
    assert first.returncode == 0, _show(first)
    for stage in STAGES:
        assert f"Running stage 'smoke/dvc.yaml:{stage}'" in first.stdout, _show(first)
    lock = yaml.safe_load((repo / "smoke" / "dvc.lock").read_text())
    assert set(lock["stages"]) == set(STAGES)
    assert (repo / "smoke" / "runs" / "child" / "network-final.json").is_file()
    assert (repo / "smoke" / "runs" / "child" / "parent_vs_child.png").is_file()
    assert json.loads((repo / "smoke" / "metrics" / "finetune.json").read_text())["steps"] >= 1
    assert (repo / "smoke" / "runs" / "invert" / "child" / "latents.parquet").is_file()
    assert set(json.loads((repo / "smoke" / "metrics" / "translate.json").read_text())) == TRANSLATE_KEYS
    assert (repo / "smoke" / "runs" / "morph" / "pairs.json").is_file()
    from stylealign_core.params import load_params
    check_report(load_params(repo / "smoke" / "params.yaml"))
    show = run(dvc_repo["dvc"] + ["metrics", "show", "--json", "smoke/reports/metrics.json"], timeout=60, cwd=repo,
               env=dvc_repo["env"])
    assert show.returncode == 0 and '"transfer_score_reason"' in show.stdout, _show(show)
    plots = run(dvc_repo["dvc"] + ["plots", "show", "--json", "smoke/reports/plots/fid_kid.csv"], timeout=60,
                cwd=repo, env=dvc_repo["env"])
    assert plots.returncode == 0 and '"smoke/reports/plots/fid_kid.csv": [{"type": "vega"' in plots.stdout, _show(plots)


def test_second_dvc_repro_has_nothing_to_do(dvc_repo):
    second = dvc_repo["second"]
    assert second.returncode == 0, _show(second)
    assert "Running stage" not in second.stdout, _show(second)
    assert "Data and pipelines are up to date." in second.stdout, _show(second)
    status = run(dvc_repo["dvc"] + ["status", "smoke/dvc.yaml"], timeout=60, cwd=dvc_repo["repo"], env=dvc_repo["env"])
    assert status.returncode == 0 and "up to date" in status.stdout, _show(status)


def test_stylealign_repro_smoke_wraps_dvc_repro(dvc_repo):
    """`stylealign repro --smoke` (run from a subdirectory) finds the repository root and runs dvc."""
    wrapper = dvc_repo["wrapper"]
    assert wrapper.returncode == 0, _show(wrapper)
    assert f"+ dvc repro smoke/dvc.yaml (in {dvc_repo['repo']})" in wrapper.stdout, _show(wrapper)
    assert "Data and pipelines are up to date." in wrapper.stdout, _show(wrapper)


def test_dvc_stages_ran_the_same_flows(dvc_repo, prefect_server):
    """Each dvc.yaml stage ran its Prefect flow (top-level runs, not sub-flows), reported to the server."""
    params = str(dvc_repo["repo"] / "smoke" / "params.yaml")
    for stage in STAGES:
        mine = [r for r in flow_runs(prefect_server, stage) if r.parameters.get("params_path") == params]
        assert len(mine) == 1 and mine[0].parent_task_run_id is None, (stage, mine)
        assert mine[0].state.is_completed(), (stage, mine[0].state)


def test_changing_a_finetune_param_outdates_only_finetune(dvc_repo):
    repo = dvc_repo["repo"]
    path = repo / "smoke" / "params.yaml"
    original = path.read_text()
    try:
        path.write_text(original.replace("    seed: 0\n    truncation_psi", "    seed: 1\n    truncation_psi"))
        assert path.read_text() != original
        status = run(dvc_repo["dvc"] + ["status", "--json", "smoke/dvc.yaml"], timeout=60, cwd=repo, env=dvc_repo["env"])
        assert status.returncode == 0, _show(status)
        assert list(json.loads(status.stdout)) == ["smoke/dvc.yaml:finetune"], status.stdout
    finally:
        path.write_text(original)


def _experiments(show_json: str) -> dict:
    """{experiment name: (its smoke params' finetune.train.finetune, its smoke finetune metrics)}."""
    found = {}
    for rev in json.loads(show_json):
        for exp in rev.get("experiments") or []:
            data = exp["revs"][0]["data"]
            train = data["params"]["smoke/params.yaml"]["data"]["finetune"]["train"]
            found[exp["name"]] = (train["finetune"], data["metrics"]["smoke/metrics/finetune.json"].get("data"))
    return found


def test_dvc_exp_queue_sweeps_the_freeze_options(dvc_repo):
    """README "Sweeps": fine-tuning freeze settings queued with `dvc exp run --queue -S` on the smoke
    parent -> finetune sub-pipeline, then run; each experiment records its params and its metrics, and the
    stages upstream of the swept parameter are reused, not rerun."""
    repo, env, dvc = dvc_repo["repo"], dvc_repo["env"], dvc_repo["dvc"]
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run(git + ["add", "-A"], cwd=repo, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "smoke pipeline"], cwd=repo, check=True)  # exps need a HEAD
    sweep = {"freeze-mapping": ["mapping"], "freeze-mapping-affine": ["mapping", "affine"]}
    for name, freeze in sweep.items():
        queued = run(dvc + ["exp", "run", "--queue", "smoke/dvc.yaml:finetune", "-n", name, "-S",
                            f"smoke/params.yaml:finetune.train.finetune.freeze=[{','.join(freeze)}]"],
                     timeout=60, cwd=repo, env=env)
        assert queued.returncode == 0, _show(queued)
    try:
        ran = run(dvc + ["exp", "run", "--run-all", "-j", "1"], timeout=420, cwd=repo, env=env)
    finally:
        run(dvc + ["queue", "stop", "--kill"], timeout=60, cwd=repo, env=env)
    assert ran.returncode == 0, _show(ran)
    log = ran.stdout + ran.stderr
    assert log.count("Stage 'smoke/dvc.yaml:parent' didn't change, skipping") == len(sweep), _show(ran)
    show = run(dvc + ["exp", "show", "--json"], timeout=60, cwd=repo, env=env)
    assert show.returncode == 0, _show(show)
    experiments = _experiments(show.stdout)
    assert set(experiments) == set(sweep), show.stdout[-2000:]
    for name, freeze in sweep.items():
        settings, metrics = experiments[name]
        assert settings["freeze"] == freeze
        assert metrics and metrics["kimg"] == pytest.approx(0.064) and metrics["steps"] == 8, metrics


# ---- serving: flow.serve() deployment, cron schedule, a run started from the server --------------------

def test_serve_registers_a_scheduled_deployment_that_runs(tmp_path, client_env, prefect_server):
    from prefect.client.orchestration import SyncPrefectClient

    params = _params(tmp_path)
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([BIN / "stylealign", "pipeline", "serve", "--stage", "parent", "--params", params,
                             "--name", "test-serve", "--cron", "0 3 * * *"], stdout=log, stderr=subprocess.STDOUT,
                            env=client_env, cwd=tmp_path, start_new_session=True)
    try:
        with SyncPrefectClient(prefect_server) as client:
            deadline = time.monotonic() + 90
            deployment = None
            while deployment is None:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                try:
                    deployment = client.read_deployment_by_name("parent/test-serve")
                except Exception:  # noqa: BLE001 - ObjectNotFound until serve() has registered it
                    time.sleep(1)
            assert [s.schedule.cron for s in deployment.schedules] == ["0 3 * * *"]
            assert deployment.parameters == {"params_path": str(params)}
            flow_run = client.create_flow_run_from_deployment(deployment.id)
            while not (state := client.read_flow_run(flow_run.id).state).is_final():
                assert time.monotonic() < deadline + 60, (tmp_path / "serve.log").read_text()
                time.sleep(1)
            assert state.is_completed(), (state, (tmp_path / "serve.log").read_text())
        assert (tmp_path / "models" / "parent-resolved" / "network.json").is_file()
    finally:
        stop_process_group(proc)
        log.close()
