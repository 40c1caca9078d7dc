"""stylealign checkpoint format: round trip, atomic save, verification, bad input, URLs."""
import io
import json

import pytest
import torch
from safetensors.torch import save_file

from stylealign_core import Discriminator, Generator
from stylealign_core.checkpoints import (CheckpointError, checkpoint_paths, detect_format, load_checkpoint,
                                         load_generator, read_checkpoint, save_checkpoint, sha256_file)
from stylealign_core.checkpoints import native, remote
from stylealign_core.checkpoints.networks import NetworkSpec, build_network


def randomize(module):
    """Non-default values everywhere (noise strengths, w_avg) so a dropped tensor shows in the images."""
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if not name.endswith("resample_filter"):
                t.copy_(torch.randn_like(t) * (0.5 if name.endswith("noise_strength") else 1.0))
    return module.eval()


@pytest.fixture
def nets(tiny_g_kwargs, tiny_d_kwargs):
    G = randomize(Generator(**tiny_g_kwargs))
    G_ema = randomize(Generator(**tiny_g_kwargs))
    D = randomize(Discriminator(**tiny_d_kwargs))
    return {"G": G, "D": D, "G_ema": G_ema}


def images(G, n=4, seed=1, psi=0.7):
    z = torch.randn([n, G.z_dim], generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return G(z, truncation_psi=psi, noise_mode="const")


def test_round_trip_is_bit_exact(tmp_path, nets):
    meta = {"kimg": 12.5, "recipe": {"lr": 0.0025}, "parent": {"uri": "p.json", "sha256": "ab" * 32}}
    path = save_checkpoint(tmp_path / "parent", nets, metadata=meta,
                           extra_tensors={"augment_pipe.p": torch.tensor(0.3)})
    manifest_path, tensors_path = checkpoint_paths(path)
    assert path == manifest_path and tensors_path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parent.json", "parent.safetensors"]  # no temp files
    manifest = json.loads(manifest_path.read_text())
    assert manifest["format"] == "stylealign-checkpoint" and manifest["format_version"] == 1
    assert manifest["tensors"]["sha256"] == sha256_file(tensors_path)
    assert manifest["networks"]["G_ema"]["class"] == "Generator"
    assert manifest["networks"]["D"]["config"] == nets["D"].config
    for form in (tmp_path / "parent", manifest_path, tensors_path):  # NAME, NAME.json, NAME.safetensors
        ckpt = load_checkpoint(form)
        assert ckpt.format == "stylealign" and ckpt.sha256 == manifest["tensors"]["sha256"]
    assert ckpt.metadata == meta and float(ckpt.extra["augment_pipe.p"]) == pytest.approx(0.3)
    for name, module in nets.items():
        loaded = ckpt.networks[name].state_dict()
        assert all(torch.equal(loaded[k], v) for k, v in module.state_dict().items())
    assert torch.equal(images(ckpt.generator), images(nets["G_ema"]))
    G = load_generator(path)
    assert torch.equal(images(G), images(nets["G_ema"]))
    assert not any(p.requires_grad for p in G.parameters()) and not G.training
    only = load_checkpoint(path, networks=("D",))
    assert list(only.networks) == ["D"]
    assert load_checkpoint(path, networks=()).networks == {}


def test_load_generator_falls_back_to_G(tmp_path, nets):
    path = save_checkpoint(tmp_path / "g_only", {"G": nets["G"]})
    assert torch.equal(images(load_generator(path)), images(nets["G"]))
    with pytest.raises(CheckpointError, match=r"no network 'G_ema'.*it has: G"):
        load_checkpoint(path, networks=("G_ema",))


def test_interrupted_save_is_never_trusted(tmp_path, nets, monkeypatch):
    path = save_checkpoint(tmp_path / "ck", {"G": nets["G"]})
    real = native._write_atomic

    def crash_on_manifest(target, write):
        if target.suffix == ".json":
            raise KeyboardInterrupt("killed while writing the manifest")
        return real(target, write)

    monkeypatch.setattr(native, "_write_atomic", crash_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "ck", {"G": nets["G_ema"]})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.json", "ck.safetensors"]
    with pytest.raises(CheckpointError, match=r"ck\.safetensors: sha256 .* does not match the manifest.*re-save"):
        load_checkpoint(path)
    # a crash before anything is replaced leaves the old pair valid and no temp file behind
    def crash_in_write(target, write):
        return real(target, lambda tmp: (_ for _ in ()).throw(RuntimeError("disk full")))
    save_checkpoint(tmp_path / "ck", {"G": nets["G"]})
    monkeypatch.setattr(native, "_write_atomic", crash_in_write)
    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint(tmp_path / "ck", {"G": nets["G_ema"]})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.json", "ck.safetensors"]
    assert torch.equal(images(load_generator(path)), images(nets["G"]))


def test_sha_mismatch_and_truncation(tmp_path, nets):
    path = save_checkpoint(tmp_path / "ck", {"G_ema": nets["G_ema"]})
    _, tensors = checkpoint_paths(path)
    data = bytearray(tensors.read_bytes())
    data[-5] ^= 0xFF
    tensors.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"ck\.safetensors: sha256 .*does not match.*copy both files again"):
        load_generator(path)
    tensors.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(CheckpointError, match="does not match"):
        load_generator(path)
    tensors.unlink()
    with pytest.raises(CheckpointError, match="tensor file not found"):
        load_generator(path)
    path.write_text(path.read_text()[:50])
    with pytest.raises(CheckpointError, match=r"ck\.json: manifest is not valid JSON"):
        load_generator(path)
    path.unlink()
    tensors.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="manifest not found.*copy both"):
        load_generator(tmp_path / "ck")
    (tmp_path / "empty.pkl").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.pkl: empty file"):
        load_checkpoint(tmp_path / "empty.pkl")
    (tmp_path / "junk.bin").write_bytes(b"GIF89a....")
    with pytest.raises(CheckpointError, match="unrecognised checkpoint format"):
        detect_format(tmp_path / "junk.bin")
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.pkl")


def write_pair(path, tensors: dict, networks: dict, extra=None):
    """A checkpoint pair written by hand (consistent sha256) to exercise content checks."""
    manifest_path, tensors_path = checkpoint_paths(path)
    save_file(tensors, str(tensors_path))
    manifest = {"format": "stylealign-checkpoint", "format_version": 1,
                "tensors": {"file": tensors_path.name, "sha256": sha256_file(tensors_path)},
                "networks": networks, "extra": extra or {}, "metadata": {}}
    manifest_path.write_text(json.dumps(manifest))
    return manifest_path


@pytest.mark.parametrize("problem", ["missing", "extra", "shape", "int", "fp16", "config", "version", "undescribed"])
def test_content_errors_name_the_tensor(tmp_path, nets, problem):
    G = nets["G_ema"]
    state = {f"G_ema.{k}": v.clone() for k, v in G.state_dict().items()}
    entry = {"class": "Generator", "config": dict(G.config)}
    extra_tensors = {}
    if problem == "missing":
        del state["G_ema.synthesis.b8.conv0.affine.bias"]
    elif problem == "extra":
        state["G_ema.synthesis.b32.conv0.weight"] = torch.zeros(1)
    elif problem == "shape":
        state["G_ema.mapping.fc1.weight"] = torch.zeros(3, 3)
    elif problem == "int":
        state["G_ema.mapping.w_avg"] = state["G_ema.mapping.w_avg"].to(torch.int64)
    elif problem == "fp16":
        state = {k: v.half() for k, v in state.items()}
    elif problem == "config":
        entry["config"]["img_resolution"] = 32
    elif problem == "undescribed":
        extra_tensors = {"stray": torch.zeros(2)}
    path = write_pair(tmp_path / "ck", {**state, **extra_tensors}, {"G_ema": entry})
    if problem == "version":
        manifest = json.loads(path.read_text())
        manifest["format_version"] = 99
        path.write_text(json.dumps(manifest))
    expected = {"missing": r"missing 1 tensor\(s\): synthesis\.b8\.conv0\.affine\.bias",
                "extra": r"unexpected 1 tensor\(s\): synthesis\.b32\.conv0\.weight",
                "shape": r"mapping\.fc1\.weight has shape \[3, 3\], the config implies \[32, 32\]",
                "int": r"mapping\.w_avg has dtype torch\.int64, expected a floating-point",
                "config": r"missing \d+ tensor\(s\).*synthesis\.b32",
                "version": r"format_version 99 is newer.*upgrade",
                "undescribed": r"undescribed tensors \['stray'\]"}
    if problem == "fp16":  # half precision is fine: cast to float32
        G2 = load_generator(path)
        assert G2.mapping.fc0.weight.dtype == torch.float32
        torch.testing.assert_close(images(G2), images(G), rtol=0.02, atol=0.02)
        return
    with pytest.raises(CheckpointError, match=expected[problem]) as err:
        load_generator(path)
    assert "ck." in str(err.value)  # names the file


def test_resolution_and_class_checks(tmp_path, nets):
    path = save_checkpoint(tmp_path / "ck", nets)
    with pytest.raises(CheckpointError, match=r"ck\.json: network 'G_ema' works at 16x16, expected 64x64"):
        load_generator(path, expect_resolution=64)
    assert load_generator(path, expect_resolution=16).img_resolution == 16
    with pytest.raises(CheckpointError, match="unknown network class 'Mystery'"):
        build_network(NetworkSpec("Mystery", {}, {}))
    with pytest.raises(CheckpointError, match="options this version does not know: fancy"):
        build_network(NetworkSpec("Generator", dict(nets["G"].config, fancy=1), {}))
    with pytest.raises(CheckpointError, match="cannot save a Linear"):
        save_checkpoint(tmp_path / "x", {"G": torch.nn.Linear(2, 2)})
    with pytest.raises(CheckpointError, match="JSON-serializable"):
        save_checkpoint(tmp_path / "x", {"G": nets["G"]}, metadata={"bad": object()})
    with pytest.raises(CheckpointError, match="collides with a network prefix"):
        save_checkpoint(tmp_path / "x", {"G": nets["G"]}, extra_tensors={"G.p": torch.zeros(1)})
    assert not list(tmp_path.glob("x*"))


def test_pinned_sha256(tmp_path, nets):
    path = save_checkpoint(tmp_path / "ck", {"G": nets["G"]})
    good = load_checkpoint(path).sha256
    assert load_checkpoint(path, sha256=good.upper()).sha256 == good
    with pytest.raises(CheckpointError, match="does not match the expected"):
        load_checkpoint(path, sha256="0" * 64)


class _FakeServer:
    def __init__(self, files):
        self.files, self.hits = files, []

    def __call__(self, url):
        self.hits.append(url)
        if url not in self.files:
            raise OSError(f"404 {url}")
        return io.BytesIO(self.files[url])


def test_https_download_cache_and_sha(tmp_path, nets, monkeypatch):
    src = save_checkpoint(tmp_path / "src" / "ck", {"G_ema": nets["G_ema"]})
    manifest, tensors = checkpoint_paths(src)
    server = _FakeServer({"https://host/models/ck.json": manifest.read_bytes(),
                          "https://host/models/ck.safetensors": tensors.read_bytes(),
                          "https://host/raw.bin": tensors.read_bytes()})
    monkeypatch.setattr(remote, "_urlopen", server)
    monkeypatch.setenv("STYLEALIGN_CACHE", str(tmp_path / "cache"))
    sha = sha256_file(tensors)
    G = load_generator("https://host/models/ck.safetensors", sha256=sha)
    assert torch.equal(images(G), images(nets["G_ema"]))
    n = len(server.hits)
    load_generator("https://host/models/ck.json")  # served from the cache
    assert len(server.hits) == n
    assert str(tmp_path / "cache") in str(read_checkpoint("https://host/models/ck.json").source)
    with pytest.raises(CheckpointError, match="expected 0000.*discarded"):
        remote.fetch("https://host/raw.bin", sha256="0" * 64)
    assert not [p for p in (tmp_path / "cache").rglob("raw.bin*")]  # nothing kept
    path = remote.fetch("https://host/raw.bin", sha256=sha)
    assert sha256_file(path) == sha
    path.write_bytes(b"tampered")  # a bad cache entry is fetched again when a sha256 is pinned
    assert sha256_file(remote.fetch("https://host/raw.bin", sha256=sha)) == sha
    with pytest.raises(CheckpointError, match="download failed.*404"):
        remote.fetch("https://host/nope.pkl")
    with pytest.raises(CheckpointError, match="unsupported URL scheme"):
        load_checkpoint("ftp://host/x.pkl")


def test_identical_saves_are_byte_identical(tmp_path):
    """DVC tracks checkpoints by hash: the same tensors and metadata must give the same bytes."""
    import hashlib

    from stylealign_core import Generator
    from stylealign_core.checkpoints import save_checkpoint

    G = Generator(z_dim=8, w_dim=8, img_resolution=8, img_channels=3, mapping_layers=1, channel_base=64,
                  channel_max=8)
    texts, digests = [], []
    for run in ("a", "b"):
        save_checkpoint(tmp_path / run / "net", {"G": G}, metadata={"kimg": 1, "recipe": {"x": [1, 2]}})
        digests.append(hashlib.sha256((tmp_path / run / "net.safetensors").read_bytes()).hexdigest())
        texts.append((tmp_path / run / "net.json").read_text())
    assert digests[0] == digests[1] and texts[0] == texts[1]


def test_a_model_directory_loads_as_its_network_checkpoint(nets, tmp_path):
    save_checkpoint(tmp_path / "model" / "network", {"G_ema": nets["G_ema"], "D": nets["D"]}, metadata={"kimg": 3})
    ckpt = load_checkpoint(tmp_path / "model")
    assert ckpt.metadata["kimg"] == 3 and set(ckpt.networks) == {"G_ema", "D"}
    assert ckpt.sha256 == load_checkpoint(tmp_path / "model" / "network.json").sha256
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="empty: is a directory without network.json"):
        load_checkpoint(tmp_path / "empty")
