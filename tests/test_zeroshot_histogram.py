"""`stylealign zeroshot histogram` (stylealign_core.analysis.zeroshot.sample_categories): the category histogram of
generator samples under the category model, against the real train split. A real tiny generator checkpoint, a
real tiny category model trained on a tiny 16 px emoji-like data set (the 32 px samples are resized to 16)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from stylealign.cli import main
from stylealign_core.analysis.zeroshot import (HistogramSettings, TrainSettings, ZeroShotError, category_histogram,
                                               load_model, train_task, tv_distance)
from stylealign_core.analysis.zeroshot.sample_categories import histogram_table, sample_probabilities, summary
from stylealign_core.checkpoints import load_generator_and_sha, save_checkpoint

from analysis_helpers import tiny_parent
from conftest import TINY_G
from test_zeroshot_helpers import one_thread, write_emoji_like  # noqa: F401 - one_thread is an autouse fixture


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(generator checkpoint, models dir, data set): built once for the module (training is the slow part)."""
    root = tmp_path_factory.mktemp("histogram")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        G = tiny_parent(dict(TINY_G, img_resolution=32))
        network = save_checkpoint(root / "G", {"G_ema": G}).with_suffix(".json")
        data = write_emoji_like(root / "data", 0)
        train_task(data, "category", root / "models", TrainSettings(epochs=2, batch=16, width=4, resolution=16),
                   progress=False)
    finally:
        torch.set_num_threads(before)
    return network, root / "models", data


def test_counts_real_labels_and_record(setup):
    network, models, data = setup
    settings = HistogramSettings(num=37, seed=3, batch=8)
    table, info = category_histogram(network, models, data, settings, progress=False)
    assert list(table["label"]) == ["A", "B"] and table["samples_count"].sum() == 37
    assert np.isclose(table["samples_share"].sum(), 1.0)
    manifest = pd.read_parquet(data / "manifest.parquet")
    train_counts = manifest[manifest["split"] == "train"]["category"].value_counts()
    assert dict(zip(table["label"], table["real_label_count"])) == train_counts.to_dict()
    assert table["real_predicted_count"].sum() == info["real"]["num_images"] == train_counts.sum()
    assert info["seeds"] == {"first": 3, "last": 39} and info["num_samples"] == 37
    assert info["generator"]["sha256"] == load_generator_and_sha(network)[1]
    assert len(info["classifier"]["sha256"]) == 64 and info["classifier"]["path"].endswith("category.json")
    s = info["summary"]
    assert s["tv_samples_vs_real_predicted"] == pytest.approx(
        0.5 * np.abs(table["samples_share"] - table["real_predicted_share"]).sum())
    assert 0 <= s["confident_share_samples"] <= 1 and 0 <= s["confident_share_real"] <= 1
    again, info2 = category_histogram(network, models, data, settings, progress=False)
    pd.testing.assert_frame_equal(table, again)
    assert info2["summary"] == s


def test_a_sample_is_a_function_of_its_seed(setup):
    """Seeds 8..15 read alone give the same probabilities as rows 8..15 of seeds 0..23 (one seed -> z convention)."""
    network, models, _ = setup
    G = load_generator_and_sha(network)[0].eval()
    model, _ = load_model(models / "category.json")
    whole = sample_probabilities(G, model, HistogramSettings(num=24, seed=0, batch=8), progress=False)
    part = sample_probabilities(G, model, HistogramSettings(num=8, seed=8, batch=8), progress=False)
    assert whole.shape == (24, 2)
    torch.testing.assert_close(part, whole[8:16])
    assert torch.allclose(whole.sum(dim=1), torch.ones(24))


def test_table_summary_and_tv_by_hand():
    probs = torch.tensor([[0.9, 0.1, 0.0], [0.4, 0.3, 0.3], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4]])
    real_probs = torch.tensor([[0.6, 0.4, 0.0], [0.1, 0.2, 0.7]])
    table = histogram_table(["a", "b", "c"], probs, torch.tensor([1, 1]), real_probs)
    assert list(table["samples_count"]) == [2, 1, 1] and list(table["real_label_count"]) == [0, 2, 0]
    assert list(table["real_predicted_share"]) == [0.5, 0.0, 0.5]
    s = summary(table, probs, real_probs, 0.5)
    assert s["tv_samples_vs_real_predicted"] == pytest.approx(0.25)   # (0, .25, .25) halved
    assert s["tv_samples_vs_real_labels"] == pytest.approx(0.75)
    assert s["confident_share_samples"] == 0.5 and s["confident_share_real"] == 1.0
    assert tv_distance(table["real_predicted_share"], table["real_predicted_share"]) == 0.0
    assert tv_distance([1, 0], [0, 1]) == 1.0
    with pytest.raises(ZeroShotError, match="class list"):
        tv_distance([1.0], [0.5, 0.5])
    with pytest.raises(ZeroShotError, match="2\\^32"):
        HistogramSettings(num=10, seed=2 ** 32 - 5)


def test_cli_writes_three_files_and_refuses_an_existing_out(setup, tmp_path, capsys):
    network, models, data = setup
    out = tmp_path / "hist"
    args = ["zeroshot", "histogram", "--network", str(network), "--models", str(models), "--data", str(data),
            "--num", "20", "--batch", "8", "--truncation", "0.7", "--out", str(out), "--no-progress", "--threads", "1"]
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["histogram.json", "histogram.parquet", "histogram.png"]
    record = json.loads((out / "histogram.json").read_text())
    assert record["info"]["truncation_psi"] == 0.7 and [r["label"] for r in record["rows"]] == ["A", "B"]
    assert sum(r["samples_count"] for r in record["rows"]) == 20
    printed = capsys.readouterr().out
    assert json.loads(printed[:printed.rindex("}") + 1]) == record["info"]["summary"]
    assert pd.read_parquet(out / "histogram.parquet")["samples_count"].tolist() == [
        r["samples_count"] for r in record["rows"]]
    assert (out / "histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert main(args + ["--overwrite", "--num", "5"]) == 0
    assert json.loads((out / "histogram.json").read_text())["info"]["num_samples"] == 5


def test_missing_category_model_names_the_path_and_the_fix(setup, tmp_path, capsys):
    network, _, data = setup
    (tmp_path / "empty").mkdir()
    assert main(["zeroshot", "histogram", "--network", str(network), "--models", str(tmp_path / "empty"),
                 "--data", str(data), "--num", "4", "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "empty" / "category.json") in err
    assert "stylealign zeroshot train --task category" in err
    assert not (tmp_path / "o").exists()
