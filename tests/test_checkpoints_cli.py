"""`stylealign convert | info | generate` through stylealign.cli.main."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from stylealign.cli import main
from stylealign.checkpoint_cli import parse_seeds
from stylealign_core import Discriminator, Generator
from stylealign_core.checkpoints import CheckpointError, checkpoint_paths, load_checkpoint, save_checkpoint

from test_checkpoints import randomize
from test_checkpoints_import import official_modules, write_official_pickle  # noqa: F401 (fixture)


@pytest.fixture
def official_pkl(tmp_path, official_modules, tiny_g_kwargs, tiny_d_kwargs):  # noqa: F811
    G, D = randomize(Generator(**tiny_g_kwargs)), randomize(Discriminator(**tiny_d_kwargs))
    return write_official_pickle(tmp_path / "snap.pkl", G, D), G


def test_convert_then_info(tmp_path, official_pkl, capsys):
    pkl, G = official_pkl
    assert main(["convert", str(pkl), str(tmp_path / "out" / "parent"), "--meta", "kimg=200",
                 "--meta", 'recipe={"name": "test"}']) == 0
    out = capsys.readouterr().out
    assert "converted" in out and "stylegan2-ada-pkl" in out and "parent.json" in out
    assert "G_ema: Generator 16x16x3" in out and "augment_pipe.p = 0.35" in out
    ckpt = load_checkpoint(tmp_path / "out" / "parent.json")
    assert ckpt.metadata["kimg"] == 200 and ckpt.metadata["recipe"] == {"name": "test"}
    assert ckpt.metadata["converted_from"]["format"] == "stylegan2-ada-pkl"
    assert ckpt.metadata["converted_from"]["sha256"] == load_checkpoint(pkl, networks=()).sha256
    assert all(torch.equal(ckpt.networks["G_ema"].state_dict()[k], v) for k, v in G.state_dict().items())

    assert main(["info", str(tmp_path / "out" / "parent.json")]) == 0
    out = capsys.readouterr().out
    assert "format:     stylealign" in out and f"{sum(p.numel() for p in G.parameters()):,} params" in out
    assert main(["info", str(pkl), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "stylegan2-ada-pkl" and doc["networks"]["D"]["class"] == "Discriminator"
    assert doc["networks"]["G_ema"]["config"] == G.config and doc["extra"]["augment_pipe.p"] == pytest.approx(0.35)

    assert main(["convert", str(pkl), str(tmp_path / "g_only"), "--networks", "G_ema"]) == 0
    assert list(load_checkpoint(tmp_path / "g_only").networks) == ["G_ema"]


def test_convert_half_precision_storage(tmp_path, tiny_g_kwargs, tiny_d_kwargs, capsys):
    G, D = randomize(Generator(**tiny_g_kwargs)), randomize(Discriminator(**tiny_d_kwargs))
    full = save_checkpoint(tmp_path / "full", {"G": G, "D": D, "G_ema": G}, metadata={"kimg": 7})
    assert main(["convert", str(full), str(tmp_path / "half"), "--dtype", "float16"]) == 0
    capsys.readouterr()
    manifest = json.loads((tmp_path / "half.json").read_text())
    assert manifest["tensors"]["stored_dtype"] == "float16"
    assert (tmp_path / "half.safetensors").stat().st_size < 0.55 * (tmp_path / "full.safetensors").stat().st_size
    half = load_checkpoint(tmp_path / "half")
    assert half.metadata["kimg"] == 7 and half.metadata["converted_from"]["sha256"] == load_checkpoint(full).sha256
    for name, ref in (("G_ema", G), ("D", D)):
        for key, value in half.networks[name].state_dict().items():
            want = ref.state_dict()[key]
            assert value.dtype == torch.float32  # loaded back as float32 networks
            assert torch.equal(value, want.half().float())  # exactly the float16 rounding of the original
    z = torch.randn(4, G.z_dim)
    with torch.no_grad():
        a, b = G(z, None, noise_mode="const"), half.networks["G_ema"](z, None, noise_mode="const")
    assert (a - b).abs().max() < 0.02 * a.abs().max()
    with pytest.raises(SystemExit):  # argparse refuses other dtypes
        main(["convert", str(full), str(tmp_path / "x"), "--dtype", "float8"])
    with pytest.raises(CheckpointError, match="storage dtype 'int8'"):
        save_checkpoint(tmp_path / "y", {"G": G}, dtype="int8")
    assert not (tmp_path / "y.safetensors").exists()


def test_generate_grid(tmp_path, tiny_g_kwargs, capsys):
    G = randomize(Generator(**tiny_g_kwargs))
    ck = save_checkpoint(tmp_path / "ck", {"G_ema": G})
    out = tmp_path / "grid.png"
    assert main(["generate", "--network", str(ck), "--seeds", "0-5", "--trunc", "0.7", "--out", str(out),
                 "--ncols", "3"]) == 0
    assert "wrote" in capsys.readouterr().out
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 * 16, 3 * 16, 3)
    # image for seed 4 = official convention z = RandomState(seed).randn(z_dim), rendered in a batch of
    # --batch (16) images as generate does (kernels may round differently at other batch sizes)
    z = torch.from_numpy(np.stack([np.random.RandomState(seed).randn(G.z_dim) for seed in range(16)])).float()
    with torch.no_grad():
        img = G(z, truncation_psi=0.7, noise_mode="const")
    expected = ((img[4].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.array_equal(grid[16:32, 16:32], expected)
    for space in ("w", "w+", "s"):  # every latent path renders the same images
        out2 = tmp_path / f"grid_{space.replace('+', 'p')}.png"
        assert main(["generate", "--network", str(ck), "--seeds", "0-5", "--trunc", "0.7", "--space", space,
                     "--out", str(out2), "--ncols", "3"]) == 0
        assert np.abs(np.asarray(Image.open(out2)).astype(int) - grid.astype(int)).max() <= 1


def test_errors_are_one_line_and_exit_2(tmp_path, tiny_g_kwargs, capsys):
    ck = save_checkpoint(tmp_path / "ck", {"G_ema": randomize(Generator(**tiny_g_kwargs))})
    _, tensors = checkpoint_paths(ck)
    tensors.write_bytes(tensors.read_bytes()[:100])
    for argv in (["info", str(ck)], ["convert", str(ck), str(tmp_path / "x")],
                 ["generate", "--network", str(ck), "--out", str(tmp_path / "g.png")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "ck.safetensors" in err and "sha256" in err
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "g.png").exists()
    assert main(["info", str(tmp_path / "nothing.pkl")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_parse_seeds_and_help(capsys):
    assert parse_seeds("0-3,7,10-11") == [0, 1, 2, 3, 7, 10, 11]
    for bad in ("a", "5-2", "-1", ""):
        with pytest.raises(Exception, match="bad seed list"):
            parse_seeds(bad)
    for cmd in ("convert", "info", "generate"):
        with pytest.raises(SystemExit) as exit_info:
            main([cmd, "--help"])
        assert exit_info.value.code == 0
        assert "stylealign" in capsys.readouterr().out
