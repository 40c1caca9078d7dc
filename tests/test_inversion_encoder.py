"""Encoder inversion on a tiny generator: checkpoint round trip, training, the quality floor, invert --method encode."""
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from stylealign.cli import main
from stylealign_core.checkpoints import load_checkpoint, save_checkpoint
from stylealign_core.generator import Generator
from stylealign_core.inversion import (Encoder, EncoderTrainSettings, InversionError, InvertOptions, LatentsCache,
                                       ProjectorSettings, check_encoder, evaluate_encoder, invert_dataset,
                                       load_encoder, quality_floor, read_latents, save_encoder, train_encoder)
from stylealign_core.inversion import run as run_module
from stylealign_core.inversion.encoder import encoder_codes, widen_hidden
from stylealign_core.inversion.spaces import synthesize_codes, w_average

from test_inversion_projector import tiny_metric
from services import require_stlpips

TINY = dict(z_dim=32, w_dim=32, img_resolution=16, img_channels=3, mapping_layers=2, channel_base=256, channel_max=32)
SHA = "ab" * 32
SMALL = dict(channels=8, channel_max=16, hidden=64)


def _generator() -> Generator:
    torch.manual_seed(0)
    return Generator(**TINY).eval()


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Small convolutions on a shared 2-core machine: one thread is several times faster than two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, _one_thread):
    """(G, path of an encoder trained 120 steps on G's samples, training summary)."""
    G = _generator()
    out = tmp_path_factory.mktemp("enc") / "enc"
    settings = EncoderTrainSettings(kimg=120 * 16 / 1000, batch=16, lr=5e-3, stats_samples=500,
                                    snapshot_kimg=1.0, **SMALL)
    summary = train_encoder(G, SHA, tiny_metric(), settings, None, out)
    return G, out, summary


def _generated(G, n=8, seed=999):
    """Held-out generator images (another seed than any training step's)."""
    z = torch.randn([n, G.z_dim], generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return G.synthesize(G.z_to_w(z), "w")


def _write(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    arrays = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for i, array in enumerate(arrays):
        Image.fromarray(array).save(folder / f"g{i}.png")
    return folder


def test_checkpoint_round_trip(tmp_path):
    G = _generator()
    E = Encoder.for_generator(G, SHA, space="w+", **SMALL)
    x = _generated(G, 3)
    torch.testing.assert_close(E(x), G.w_to_wplus(w_average(G).expand(3, -1)))  # untrained: the mean latent
    torch.nn.init.normal_(E.head.weight, std=0.01)
    path = save_encoder(tmp_path / "enc", E, metadata={"note": "test"})
    manifest = json.loads(path.read_text())
    assert manifest["networks"]["E"]["class"] == "Encoder"
    assert manifest["networks"]["E"]["config"]["generator_sha256"] == SHA
    assert manifest["metadata"]["space"] == "w+" and manifest["metadata"]["note"] == "test"
    loaded, ckpt = load_encoder(path)
    assert loaded.config == E.config and len(ckpt.sha256) == 64
    torch.testing.assert_close(loaded(x), E(x))
    assert loaded(x).shape == (3, G.num_ws, G.w_dim)
    W = Encoder.for_generator(G, SHA, space="w", **SMALL)
    assert W(x).shape == (3, G.w_dim)
    save_checkpoint(tmp_path / "gen", {"G_ema": G})
    with pytest.raises(InversionError, match="holds no encoder"):
        load_encoder(tmp_path / "gen.json")


def test_cli_converts_and_describes_an_encoder(tmp_path, capsys):
    """`stylealign convert --dtype float16` (how the shipped encoder was stored) and `info` on an encoder."""
    G = _generator()
    E = Encoder.for_generator(G, SHA, space="w+", **SMALL)
    torch.nn.init.normal_(E.head.weight, std=0.01)
    save_encoder(tmp_path / "enc", E, metadata={"recipe": {"kimg": 1.0}})
    assert main(["convert", str(tmp_path / "enc.json"), str(tmp_path / "half"), "--dtype", "float16"]) == 0
    assert main(["info", str(tmp_path / "half.json")]) == 0
    out = capsys.readouterr().out
    assert "E: Encoder 16x16x3" in out and "hidden=64" in out and "space=w+" in out
    half, ckpt = load_encoder(tmp_path / "half.json")
    assert ckpt.metadata["recipe"] == {"kimg": 1.0} and half.generator_sha256 == SHA
    x = _generated(G, 2)
    torch.testing.assert_close(half(x), E(x), atol=2e-3, rtol=0)


def test_training_saves_and_resumes(trained, tmp_path):
    G, out, summary = trained
    assert summary["step"] == 120 and summary["losses"]["latent"] < 1.0
    ckpt = load_checkpoint(out)
    assert ckpt.metadata["step"] == 120 and ckpt.metadata["recipe"]["lr"] == 5e-3
    # resuming a finished run trains nothing more; a longer one continues from the saved step
    settings = EncoderTrainSettings(kimg=122 * 16 / 1000, batch=16, lr=2e-3, stats_samples=500, **SMALL)
    copy = tmp_path / "enc"
    save_encoder(copy, load_encoder(out)[0], metadata=ckpt.metadata)
    more = train_encoder(G, SHA, tiny_metric(), settings, None, copy, resume=True)
    assert more["step"] == 122
    with pytest.raises(InversionError, match="cannot resume"):
        train_encoder(G, "cd" * 32, tiny_metric(), settings, None, copy, resume=True)


def _aligned_child(G, scale=0.05, seed=1) -> Generator:
    """A stand-in child: G with its synthesis weights moved by ``scale`` x their std (mapping kept)."""
    child = _generator()
    child.load_state_dict(G.state_dict())
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in child.named_parameters():
            if name.startswith("synthesis") and p.ndim > 1:
                p.add_(torch.randn(p.shape, generator=gen) * p.std() * scale)
    return child.eval()


def test_init_from_an_aligned_generators_encoder(trained, tmp_path):
    G, out, _ = trained
    E, _ = load_encoder(out)
    child, child_sha = _aligned_child(G), "cd" * 32
    settings = EncoderTrainSettings(kimg=16 / 1000, batch=16, lr=1e-12, stats_samples=500, **SMALL)
    train_encoder(child, child_sha, tiny_metric(), settings, None, tmp_path / "child", init=E)
    E_child, _ = load_encoder(tmp_path / "child")
    assert E_child.generator_sha256 == child_sha
    assert torch.allclose(E_child.w_avg, w_average(child).cpu())
    x = _generated(child)
    with torch.no_grad():   # the same offsets (one step at lr 1e-12), around the child's w_avg
        assert torch.allclose(E_child(x) - E_child.w_avg, E(x) - E.w_avg, atol=1e-5)
    projector = ProjectorSettings(space="w+", steps=2, stats_samples=500)
    warm = evaluate_encoder(child, E_child, x, list(range(8)), tiny_metric(), projector, refine_steps=0)
    null = evaluate_encoder(child, Encoder.for_generator(child, child_sha, **SMALL), x, list(range(8)),
                            tiny_metric(), projector, refine_steps=0, projector_distance=warm["projector"])
    assert warm["encoder"] < 0.8 * null["encoder"], (warm, null)   # the parent's encoder already fits the child
    narrower = EncoderTrainSettings(kimg=16 / 1000, batch=16, stats_samples=500, **{**SMALL, "hidden": 32})
    with pytest.raises(InversionError, match="init encoder's hidden.weight has shape"):
        train_encoder(child, child_sha, tiny_metric(), narrower, None, tmp_path / "c2", init=E)
    with pytest.raises(InversionError, match="predicts 'w\\+', this run trains 'w'"):
        train_encoder(child, child_sha, tiny_metric(), EncoderTrainSettings(space="w", kimg=0.016, **SMALL), None,
                      tmp_path / "c3", init=E)


def test_init_with_a_wider_hidden_layer_starts_from_the_same_function(trained, tmp_path):
    G, out, _ = trained
    E, _ = load_encoder(out)
    x = _generated(G)
    state = widen_hidden(E.state_dict(), 96, seed=3)
    assert state["hidden.weight"].shape == (96, E.hidden.in_features) and state["head.weight"].shape[1] == 96
    with pytest.raises(ValueError, match="cannot narrow"):
        widen_hidden(E.state_dict(), 32)
    wide = EncoderTrainSettings(kimg=16 / 1000, batch=16, lr=1e-12, stats_samples=500, **{**SMALL, "hidden": 96})
    train_encoder(G, SHA, tiny_metric(), wide, None, tmp_path / "same", init=E)
    E_same, _ = load_encoder(tmp_path / "same")
    assert E_same.hidden.out_features == 96
    with torch.no_grad():   # the new units' output weights start at zero: the same codes
        assert torch.allclose(E_same(x), E(x), atol=1e-5)
    grown = EncoderTrainSettings(kimg=5 * 16 / 1000, batch=16, lr=1e-3, stats_samples=500, **{**SMALL, "hidden": 96})
    train_encoder(G, SHA, tiny_metric(), grown, None, tmp_path / "grown", init=E)
    E_grown, _ = load_encoder(tmp_path / "grown")
    assert E_grown.head.weight[:, SMALL["hidden"]:].abs().sum() > 0   # training reaches the new units
    other = EncoderTrainSettings(kimg=16 / 1000, batch=16, stats_samples=500, **{**SMALL, "channels": 4,
                                                                                  "hidden": 96})
    with pytest.raises(InversionError, match="from_rgb.weight has shape"):   # only the hidden width may differ
        train_encoder(G, SHA, tiny_metric(), other, None, tmp_path / "other", init=E)


def test_warm_start_takes_the_architecture_not_the_last_steps_learning_rate():
    from stylealign_core.inversion import warm_start_settings
    init = Encoder(16, 3, 32, 4, hidden=1024, refine_iterations=1)   # trained at lr 5e-5 on reals, say
    settings = warm_start_settings(init, kimg=2)
    assert (settings.hidden, settings.refine_iterations, settings.kimg) == (1024, 1, 2)
    assert (settings.lr, settings.real_fraction) == (EncoderTrainSettings.lr, EncoderTrainSettings.real_fraction)


def test_xflip_mirrors_about_half_of_the_real_images_reproducibly():
    from stylealign_core.inversion.encoder_train import _draw
    G = _generator()
    E = Encoder.for_generator(G, SHA, **SMALL)
    reals = torch.randn([6, 3, 16, 16], generator=torch.Generator().manual_seed(0))
    settings = EncoderTrainSettings(batch=64, real_fraction=1.0, xflip=True, **SMALL)
    images, _ = _draw(G, E, reals, settings, step=3, device="cpu")
    assert torch.equal(images, _draw(G, E, reals, settings, step=3, device="cpu")[0])   # the step's own stream
    plain, _ = _draw(G, E, reals, replace(settings, xflip=False), step=3, device="cpu")
    mirrored = [not torch.equal(a, b) for a, b in zip(images, plain)]
    assert all(torch.equal(a, b.flip(-1)) for a, b, m in zip(images, plain, mirrored) if m)
    assert 16 < sum(mirrored) < 48, sum(mirrored)   # the same picks, about half of them mirrored


def test_samples_near_reals_are_style_mixes_of_the_encoders_codes_of_two_real_images():
    from stylealign_core.inversion.encoder_train import _draw
    G = _generator()
    E = Encoder.for_generator(G, SHA, **SMALL)
    torch.nn.init.normal_(E.head.weight, std=0.05)           # codes that differ from image to image
    reals = torch.randn([5, 3, 16, 16], generator=torch.Generator().manual_seed(1))
    settings = EncoderTrainSettings(batch=12, real_fraction=0.0, sample_source="reals", **SMALL)
    images, codes = _draw(G, E, reals, settings, step=2, device="cpu")
    assert torch.equal(codes, _draw(G, E, reals, settings, step=2, device="cpu")[1])    # the step's own stream
    with torch.no_grad():
        of_reals = E(reals)                                                  # [5, num_ws, w_dim]
        torch.testing.assert_close(images, synthesize_codes(G, codes, "w+"))   # the code renders the image
    for code in codes:           # a prefix of layers from one real image's codes, the rest from another's
        source = [int((code[k] - of_reals[:, k]).abs().amax(-1).argmin()) for k in range(G.num_ws)]
        torch.testing.assert_close(code, of_reals[source, torch.arange(G.num_ws)])
        cut = next((k for k in range(1, G.num_ws) if source[k] != source[0]), G.num_ws)
        assert len(set(source[cut:])) <= 1, source
    mixed = sum(len(set(int((c[k] - of_reals[:, k]).abs().amax(-1).argmin()) for k in range(G.num_ws))) > 1
                for c in codes)
    assert mixed > 0                                 # some rows mix two images
    W = Encoder.for_generator(G, SHA, space="w", **SMALL)
    _, w_codes = _draw(G, W, reals, replace(settings, space="w"), step=2, device="cpu")
    assert w_codes.shape == (12, G.w_dim)
    with pytest.raises(InversionError, match="mixes the codes of real images"):
        train_encoder(G, SHA, None, replace(settings, perceptual_weight=0.0), None, "unused")
    with pytest.raises(InversionError, match="sample_source must be one of"):
        replace(settings, sample_source="posterior")


def _distance(G, E, x, iterations=None) -> float:
    with torch.no_grad():
        renders = synthesize_codes(G, encoder_codes(E, G, x, "w+", iterations), "w+")
        return float(tiny_metric()(renders.clamp(-1, 1), x).mean())


def test_feedback_refiner_starts_neutral_trains_alone_and_improves(trained, tmp_path):
    G, out, _ = trained
    E, _ = load_encoder(out)
    x = _generated(G)
    with pytest.raises(InversionError, match="needs|encoder trained before"):   # a refiner needs its encoder
        train_encoder(G, SHA, tiny_metric(), EncoderTrainSettings(kimg=0.016, refine_iterations=2, **SMALL), None,
                      tmp_path / "alone")
    with pytest.raises(InversionError, match="has no refiner"):
        E.refine(x, x, E(x))
    settings = EncoderTrainSettings(kimg=60 * 16 / 1000, batch=16, lr=3e-3, stats_samples=500, snapshot_kimg=1.0,
                                    refine_iterations=2, **SMALL)
    train_encoder(G, SHA, tiny_metric(), settings, None, tmp_path / "r0", init=E)   # checkpoint round trip below
    R, ckpt = load_encoder(tmp_path / "r0")
    assert R.refine_iterations == 2 and ckpt.metadata["recipe"]["refine_iterations"] == 2
    for key, value in E.state_dict().items():        # the first codes are the init encoder's, untouched
        assert torch.equal(R.state_dict()[key], value), key
    assert _distance(G, R, x, iterations=0) == pytest.approx(_distance(G, E, x))
    one, two = _distance(G, R, x, iterations=1), _distance(G, R, x)
    assert max(one, two) < 0.95 * _distance(G, E, x), (_distance(G, E, x), one, two)   # the refiner helps
    neutral = EncoderTrainSettings(kimg=16 / 1000, batch=16, lr=1e-12, stats_samples=500, refine_iterations=3,
                                   **SMALL)
    train_encoder(G, SHA, tiny_metric(), neutral, None, tmp_path / "n", init=E)
    N = load_encoder(tmp_path / "n")[0]
    assert _distance(G, N, x) == pytest.approx(_distance(G, E, x), rel=1e-4)
    assert torch.allclose(N.refiner.blocks[0].down.weight, E.blocks[0].down.weight)     # the encoder's trunk,
    assert not N.refiner.from_rgb.weight[:, 3:].any()                                 # not yet reading the render
    with pytest.raises(InversionError, match="refine iterations"):
        train_encoder(G, SHA, tiny_metric(), replace(settings, refine_iterations=1), None, tmp_path / "r0",
                      resume=True)


def test_trained_encoder_beats_null_and_null_fails_the_floor(trained):
    G, out, _ = trained
    E, _ = load_encoder(out)
    null = Encoder.for_generator(G, SHA, **SMALL)
    x, seeds = _generated(G), list(range(8))
    projector = ProjectorSettings(space="w+", steps=40, stats_samples=500)
    ours = evaluate_encoder(G, E, x, seeds, tiny_metric(), projector, refine_steps=10)
    base = evaluate_encoder(G, null, x, seeds, tiny_metric(), projector, refine_steps=10,
                            projector_distance=ours["projector"])  # the same projector run
    assert ours["encoder"] < 0.6 * base["encoder"], (ours, base)
    assert ours["refined"] < ours["encoder"]                       # refine steps improve on the encoder alone
    floor = quality_floor(base["encoder"], base["refined"], base["projector"], base["refine_steps"])
    assert not floor.passed and "encoder" in floor.message


def test_quality_floor_contract():
    assert quality_floor(1.5, 1.1, 1.0, 50).passed
    assert not quality_floor(1.51, 1.0, 1.0, 50).passed             # encoder alone too far
    assert not quality_floor(1.2, 1.11, 1.0, 50).passed             # refined not within 10%
    assert not quality_floor(1.0, 1.0, 1.0, 51).passed              # more refine steps than allowed
    assert "1.11" in quality_floor(1.2, 1.11, 1.0, 50).message


def _options(tmp_path, E, refine=0, sha=SHA, cache="cache"):
    settings = ProjectorSettings(space="w+", steps=1000, stats_samples=500)
    return InvertOptions(settings=settings, batch=4, cache=LatentsCache(tmp_path / cache), encoder=E,
                         encoder_sha256=sha, encoder_uri="enc.json", refine=refine)


def test_invert_encode_table_refine_and_cache(trained, tmp_path, monkeypatch):
    G, out, _ = trained
    E, ckpt = load_encoder(out)
    data = _write(tmp_path / "data", _generated(G, 5, seed=7))
    enc = invert_dataset(G, SHA, data, tmp_path / "a", tiny_metric(), _options(tmp_path, E, sha=ckpt.sha256))
    table = read_latents(tmp_path / "a" / "latents.parquet")
    assert table.ids == [f"g{i}" for i in range(5)] and table.latents.shape == (5, G.num_ws, G.w_dim)
    assert table.columns["method"] == ["encode"] * 5 and table.columns["steps"] == [0] * 5
    assert (tmp_path / "a" / "contact_sheet.png").is_file()
    assert len(list((tmp_path / "a" / "reconstructions").iterdir())) == 5
    info = json.loads((tmp_path / "a" / "invert.json").read_text())
    assert info["method"] == "encode" and info["encoder_sha256"] == ckpt.sha256
    with torch.no_grad():
        torch.testing.assert_close(table.latents, E(torch.stack([_load(p) for p in sorted(data.iterdir())])))
    refined = invert_dataset(G, SHA, data, tmp_path / "b", tiny_metric(), _options(tmp_path, E, 15, ckpt.sha256))
    assert refined.computed == 5 and refined.table.columns["method"] == ["encode+refine"] * 5
    assert np.mean(refined.table.columns["distance"]) < np.mean(enc.table.columns["distance"])

    def no_work(*args, **kwargs):
        raise AssertionError("a cached image was inverted again")
    monkeypatch.setattr(run_module, "project", no_work)
    again = invert_dataset(G, SHA, data, tmp_path / "c", tiny_metric(), _options(tmp_path, E, 15, ckpt.sha256))
    assert again.cached == 5
    monkeypatch.undo()  # another encoder (sha256) is another cache key
    other = invert_dataset(G, SHA, data, tmp_path / "d", tiny_metric(), _options(tmp_path, E, 15, "ef" * 32))
    assert other.computed == 5


def _load(path):
    return torch.from_numpy(np.asarray(Image.open(path), np.float32)).permute(2, 0, 1) / 127.5 - 1


def test_encoder_for_another_generator_is_refused(trained, tmp_path):
    G, out, _ = trained
    E, _ = load_encoder(out)
    with pytest.raises(InversionError, match=f"trained for generator sha256 {SHA}.*has sha256 {'12' * 32}.*"
                                             "stylealign encoder train"):
        check_encoder(E, G, "12" * 32, "enc.json", "other.json")
    data = _write(tmp_path / "data", _generated(G, 2))
    with pytest.raises(InversionError, match="trained for generator"):
        invert_dataset(G, "12" * 32, data, tmp_path / "o", tiny_metric(), _options(tmp_path, E))
    with pytest.raises(InversionError, match="cannot give 'w' codes"):
        invert_dataset(G, SHA, data, tmp_path / "o", tiny_metric(),
                       InvertOptions(settings=ProjectorSettings(space="w", stats_samples=500), encoder=E))


def test_cli_encoder_train_and_invert_encode(tmp_path, capsys):
    require_stlpips()
    G = _generator()
    network = save_checkpoint(tmp_path / "G", {"G_ema": G})
    data = _write(tmp_path / "data", _generated(G, 3))
    enc = tmp_path / "enc"
    assert main(["encoder", "train", "--network", str(network), "--data", str(data), "--split", "all", "--out",
                 str(enc), "--kimg", "0.008", "--batch", "4", "--channels", "8", "--channel-max", "16",
                 "--hidden", "64", "--sample-source", "reals",
                 "--metric", "stlpips-alex", "--no-progress"]) == 0
    assert "2 steps" in capsys.readouterr().out
    assert load_checkpoint(str(enc) + ".json").metadata["recipe"]["sample_source"] == "reals"
    other = save_checkpoint(tmp_path / "G2", {"G_ema": Generator(**TINY)})
    assert main(["encoder", "train", "--network", str(other), "--init", str(enc) + ".json", "--out",
                 str(tmp_path / "enc2"), "--kimg", "0.004", "--batch", "4", "--perceptual-weight", "0",
                 "--no-progress"]) == 0        # the architecture comes from --init
    assert load_checkpoint(tmp_path / "enc2.json").metadata["recipe"]["hidden"] == 64
    assert main(["encoder", "train", "--network", str(other), "--sample-source", "reals", "--out",
                 str(tmp_path / "enc3"), "--perceptual-weight", "0", "--no-progress"]) == 2
    assert "--sample-source prior" in capsys.readouterr().err and not (tmp_path / "enc3.json").exists()
    init_from = load_checkpoint(tmp_path / "enc2.json").metadata["init_from"]
    assert init_from["generator_sha256"] == load_checkpoint(network).sha256
    assert init_from["sha256"] == load_checkpoint(str(enc) + ".json").sha256
    common = ["invert", "--data", str(data), "--network", str(network), "--metric", "stlpips-alex",
              "--no-cache", "--no-progress", "--out", str(tmp_path / "out")]
    assert main(common + ["--method", "encode", "--encoder", str(enc) + ".json", "--refine", "2"]) == 0
    assert "by encode+refine" in capsys.readouterr().out
    assert read_latents(tmp_path / "out" / "latents.parquet").columns["method"] == ["encode+refine"] * 3
    assert main(["invert", "--data", str(data), "--network", str(other), "--method", "encode", "--encoder",
                 str(enc), "--metric", "stlpips-alex", "--no-progress", "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert "was trained for generator sha256" in err and str(other) in err and "encoder train" in err
    assert main(common + ["--method", "encode"]) == 2
    assert "--method encode needs --encoder" in capsys.readouterr().err
