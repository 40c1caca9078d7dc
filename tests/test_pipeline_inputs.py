"""The pipeline's inputs and shape: malformed params and bad parent URIs fail naming the key or the URI, a
local parent checkpoint is resolved and its hash checked, and the stage names agree across dvc.yaml, the
flows, the params sections and the CLI. The stages run against a real Prefect server (module-scoped)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline_helpers import (BIN, ROOT, STAGES, _env, _params, _show, client_env,  # noqa: F401
                              prefect_server, run)


# ---- (c) clear failures ---------------------------------------------------------------------------------

def test_malformed_params_fail_naming_the_key(tmp_path):
    path = _params(tmp_path, finetune__train__batch="abc")
    proc = run([BIN / "stylealign", "pipeline", "run", "--stage", "finetune", "--params", path], timeout=60,
               env=_env(), cwd=tmp_path)
    assert proc.returncode == 2, _show(proc)
    assert f"{path}: finetune.train.batch: expected int, got 'abc'" in proc.stderr
    assert "Starting temporary server" not in proc.stdout + proc.stderr  # validated before Prefect starts


def test_unsupported_parent_uri_scheme_fails_at_validation(tmp_path):
    path = _params(tmp_path, parent__uri="ftp://example.org/parent.pkl")
    proc = run([BIN / "stylealign", "pipeline", "run", "--stage", "parent", "--params", path], timeout=60,
               env=_env(), cwd=tmp_path)
    assert proc.returncode == 2, _show(proc)
    assert "parent.uri: unsupported URL scheme" in proc.stderr


def test_missing_parent_checkpoint_fails_clearly(tmp_path, client_env):
    path = _params(tmp_path, parent__uri="models/no-such-parent")
    proc = run([BIN / "stylealign", "pipeline", "run", "--stage", "parent", "--params", path], timeout=120,
               env=client_env, cwd=tmp_path)
    assert proc.returncode == 1, _show(proc)
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("stylealign: error: stage parent failed:"), last
    assert "parent.uri 'models/no-such-parent'" in last and "no such file" in last, last


def _tiny_checkpoint(path: Path, networks=("G", "D", "G_ema")) -> str:
    import torch

    from stylealign_core import Discriminator, Generator
    from stylealign_core.checkpoints import save_checkpoint, sha256_file
    torch.manual_seed(0)
    kw = dict(img_resolution=32, img_channels=3, channel_base=256, channel_max=32)
    nets = {"G": Generator(z_dim=32, w_dim=32, mapping_layers=2, **kw), "D": Discriminator(**kw)}
    nets["G_ema"] = nets["G"]
    save_checkpoint(path, {k: nets[k] for k in networks}, metadata={"kind": "parent", "note": "made by the test"})
    return sha256_file(path.with_suffix(".safetensors"))


def test_parent_stage_resolves_a_local_checkpoint_and_checks_its_hash(tmp_path, client_env):
    sha = _tiny_checkpoint(tmp_path / "models" / "tiny")
    stylealign = [BIN / "stylealign", "pipeline", "run", "--stage", "parent"]
    bad = _params(tmp_path, parent__uri="models/tiny", parent__sha256="0" * 64)
    proc = run(stylealign + ["--params", bad], timeout=120, env=client_env, cwd=tmp_path)
    assert proc.returncode == 1 and "does not match the expected" in proc.stderr, _show(proc)

    good = _params(tmp_path, parent__uri="models/tiny", parent__sha256=sha)
    proc = run(stylealign + ["--params", good], timeout=120, env=client_env, cwd=tmp_path)
    assert proc.returncode == 0, _show(proc)
    lineage = json.loads((tmp_path / "models" / "parent-resolved" / "lineage.json").read_text())
    assert lineage["source"] == {"uri": "models/tiny", "format": "stylealign", "sha256": sha,
                                 "file": str(tmp_path / "models" / "tiny.json")}
    from stylealign_core.checkpoints import load_checkpoint
    resolved = load_checkpoint(tmp_path / "models" / "parent-resolved" / "network.json")
    assert resolved.sha256 == lineage["resolved"]["sha256"] and resolved.metadata["note"] == "made by the test"


def test_parent_without_a_discriminator_is_refused(tmp_path, client_env):
    _tiny_checkpoint(tmp_path / "gen-only", networks=("G_ema",))
    path = _params(tmp_path, parent__uri="gen-only.json")
    proc = run([BIN / "stylealign", "pipeline", "run", "--stage", "parent", "--params", path], timeout=120,
               env=client_env, cwd=tmp_path)
    assert proc.returncode == 1, _show(proc)
    assert "fine-tuning needs the parent's D network(s)" in proc.stderr, _show(proc)


# ---- the shape: one name per stage everywhere ----------------------------------------------------------

def test_stage_names_agree_everywhere():
    from flows.pipeline import STAGES as FLOWS
    from stylealign.pipeline_cli import STAGE_NAMES
    from stylealign_core.params import SECTIONS

    root = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    smoke = yaml.safe_load((ROOT / "smoke" / "dvc.yaml").read_text())["stages"]
    assert list(root) == list(smoke) == list(FLOWS) == list(SECTIONS) == list(STAGE_NAMES) == STAGES
    for name, fl in FLOWS.items():
        assert fl.name == name
        assert root[name]["cmd"] == smoke[name]["cmd"] == f"stylealign pipeline run --stage {name} --params params.yaml"
        assert (ROOT / "tasks" / f"{name}.py").is_file()
        code = [d for d in root[name]["deps"] if not d.startswith(("${", "models/parent"))]  # smoke: parent init
        assert [d for d in smoke[name]["deps"] if not d.startswith("${")] == ["../" + d for d in code]
        assert f"tasks/{name}.py" in code
        for dep in code:
            assert (ROOT / dep).exists(), dep
        assert root[name]["params"] == smoke[name]["params"]
        assert root[name]["outs"] == smoke[name]["outs"]


def test_repro_command_line():
    from stylealign.pipeline_cli import repro_command
    assert repro_command()[1:] == ["-m", "dvc", "repro"]
    assert repro_command(smoke=True)[3:] == ["repro", "smoke/dvc.yaml"]
    assert repro_command(smoke=True, force=True, targets=["finetune"])[3:] == [
        "repro", "--force", "smoke/dvc.yaml:finetune"]


def test_repro_starts_one_prefect_server_for_all_stages_unless_one_is_named():
    """`stylealign repro` gives every stage one temporary Prefect API (instead of one server per stage) and
    stops it afterwards; a PREFECT_API_URL already set is used as it is."""
    import urllib.error
    import urllib.request

    from stylealign.pipeline_cli import shared_prefect_server
    named = {"PREFECT_API_URL": "http://127.0.0.1:9/api", "X": "1"}
    with shared_prefect_server(named) as env:
        assert env is named
    with shared_prefect_server({"X": "1"}) as env:
        url = env["PREFECT_API_URL"]
        assert url.startswith("http://127.0.0.1:") and env["X"] == "1"
        with urllib.request.urlopen(f"{url}/health", timeout=30) as response:
            assert response.status == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/health", timeout=5)
