"""Against a real S3 store (single-node Ceph radosgw on loopback, tests/s3store.py), no mocks:

* a parent checkpoint downloaded from ``s3://`` with boto3, sha256-checked, cached; a missing object and an
  unreachable endpoint fail naming the URL;
* a DVC S3 remote (``endpointurl`` in .dvc/config, credentials only in the environment): push, wipe the
  cache and the workspace copy, pull, byte-exact;
* the store going down before a push: a clear error, nothing half-written that a pull would trust, and the
  retry after it returns succeeds.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from s3store import store  # noqa: F401 (the module's S3 store fixture)
from services import free_port
from stylealign_core.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from stylealign_core.checkpoints.native import sha256_file
from stylealign_core.generator import Generator

BIN = Path(sys.executable).parent


@pytest.fixture
def s3_env(store, monkeypatch, tmp_path):
    for key, value in store.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("STYLEALIGN_CACHE", str(tmp_path / "cache"))
    return store


def _digest_tree(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# ---- parent download ----------------------------------------------------------------------------------

def test_parent_downloads_from_s3_sha_checked_and_cached(s3_env, tmp_path, tiny_g_kwargs):
    G = Generator(**tiny_g_kwargs).eval()
    manifest = save_checkpoint(tmp_path / "src" / "parent", {"G_ema": G})
    tensors = manifest.with_suffix(".safetensors")
    client = s3_env.client()
    client.create_bucket(Bucket="models")
    for path in (manifest, tensors):
        client.upload_file(str(path), "models", f"emoji/{path.name}")
    sha = sha256_file(tensors)

    loaded = load_checkpoint("s3://models/emoji/parent.json", sha256=sha)
    assert str(tmp_path / "cache") in str(loaded.source)
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(loaded.networks["G_ema"](z, None, noise_mode="const"), G(z, None, noise_mode="const"))
    client.delete_object(Bucket="models", Key="emoji/parent.safetensors")
    assert load_checkpoint("s3://models/emoji/parent.json", sha256=sha).sha256 == sha  # the cache answers

    with pytest.raises(CheckpointError, match="sha256 .* expected 0{64}"):
        load_checkpoint("s3://models/emoji/parent.json", sha256="0" * 64)
    with pytest.raises(CheckpointError, match=r"s3://models/emoji/missing\.json.*download failed.*NoSuchKey"):
        load_checkpoint("s3://models/emoji/missing.json")


def test_unreachable_s3_endpoint_names_the_url_and_the_endpoint(monkeypatch, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    monkeypatch.setenv("STYLEALIGN_CACHE", str(tmp_path / "cache"))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint("s3://models/emoji/parent.json")
    message = str(err.value)
    assert "s3://models/emoji/parent.json" in message and dead in message and "AWS_ENDPOINT_URL" in message
    assert not list((tmp_path / "cache").rglob("*.part"))  # nothing half-written kept


# ---- DVC S3 remote --------------------------------------------------------------------------------------

def _dvc(repo: Path, env: dict, *args, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(BIN / "dvc"), *args], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=300)
    if check and proc.returncode != 0:
        pytest.fail(f"dvc {' '.join(args)} failed (rc {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture
def dvc_repo(store, tmp_path):
    """A git + DVC repository whose default remote is the S3 store; credentials only in the environment."""
    repo = tmp_path / "repo"
    repo.mkdir()
    env = dict(os.environ, DVC_NO_ANALYTICS="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t", **store.env)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    _dvc(repo, env, "init", "-q")
    bucket = "dvc-" + tmp_path.name[-20:].lower().replace("_", "-").strip("-")
    store.client().create_bucket(Bucket=bucket)
    _dvc(repo, env, "remote", "add", "-d", "store", f"s3://{bucket}/cache")
    _dvc(repo, env, "remote", "modify", "store", "endpointurl", store.endpoint)
    data = repo / "data"
    (data / "sub").mkdir(parents=True)
    rng = torch.Generator().manual_seed(0)
    for i in range(6):
        (data / "sub" / f"blob{i}.bin").write_bytes(torch.randint(0, 256, (200_000 + i,), generator=rng,
                                                                  dtype=torch.uint8).numpy().tobytes())
    (data / "params.txt").write_text("seed: 0\n")
    _dvc(repo, env, "add", "-q", "data")
    return repo, env


def test_dvc_s3_remote_push_wipe_pull_is_byte_exact(dvc_repo):
    repo, env = dvc_repo
    before = _digest_tree(repo / "data")
    _dvc(repo, env, "push")
    config = (repo / ".dvc" / "config").read_text()
    assert "endpointurl" in config and "DVCSECRETKEY" not in config  # secrets stay out of the repo
    subprocess.run(["rm", "-rf", str(repo / ".dvc" / "cache"), str(repo / "data")], check=True)
    _dvc(repo, env, "pull")
    assert _digest_tree(repo / "data") == before


def test_push_while_the_store_is_down_fails_clearly_and_the_retry_succeeds(store, dvc_repo):
    repo, env = dvc_repo
    before = _digest_tree(repo / "data")
    store.stop_gateway()
    try:
        down = _dvc(repo, env, "push", check=False)
    finally:
        store.start_gateway()
    assert down.returncode != 0
    message = down.stderr + down.stdout
    assert "Could not connect to the endpoint URL" in message and store.endpoint in message, message
    _dvc(repo, env, "push")  # the retry, once the store is back
    subprocess.run(["rm", "-rf", str(repo / ".dvc" / "cache"), str(repo / "data")], check=True)
    _dvc(repo, env, "pull")
    assert _digest_tree(repo / "data") == before
    status = _dvc(repo, env, "status", "--cloud")
    assert "up to date" in status.stdout.lower() or "in sync" in status.stdout.lower(), status.stdout
