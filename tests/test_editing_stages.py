"""The core pieces of the pipeline's editing stages (flows/edit.py): morph pairs and the flat translate metrics.

The stages themselves run end to end in tests/test_pipeline.py (the smoke DAG)."""
import json

import pandas as pd
import pytest
import torch
from PIL import Image

from editing_helpers import tiny_pair
from stylealign_core.editing import AlignedPair, Codes, EditError
from stylealign_core.editing.evaluate import headline_metrics
from stylealign_core.editing.jobs import pick_pairs, run_morph_pairs

KEYS = {"lpips", "baseline_input_lpips", "baseline_random_lpips", "baseline_nearest_lpips", "baseline_mean_lpips",
        "mask_iou", "n_items", "metric"}


def test_params_default_metric_is_the_inversion_default():
    from stylealign_core.inversion import DEFAULT_METRIC
    from stylealign_core.params_edit import DEFAULT_METRIC as PARAMS_DEFAULT
    assert PARAMS_DEFAULT == DEFAULT_METRIC


def test_pick_pairs_same_and_next():
    ids = ["a", "b", "c"]
    assert pick_pairs(ids, ["c", "a"], 5, "same") == [("a", "a"), ("c", "c")]  # b has no partner: passed over
    assert pick_pairs(ids, ids, 2, "next") == [("a", "b"), ("b", "c")]
    assert pick_pairs(ids, ids, 3, "next")[-1] == ("c", "a")
    with pytest.raises(EditError, match="no morph pair"):
        pick_pairs(ids, ["x"], 2, "same")


def test_morph_pairs_write_one_run_per_pair_and_the_index(tmp_path, tiny_g_kwargs):
    parent, child = tiny_pair(tiny_g_kwargs)
    pair = AlignedPair(parent, child)
    torch.manual_seed(1)
    a = Codes(["1F600", "1F44B-1F3FB"], "w", torch.randn(2, parent.w_dim), "parent table")
    b = Codes(["1F600", "1F44B-1F3FB"], "w", torch.randn(2, child.w_dim), "child table")
    entries = run_morph_pairs(pair, a, b, [("1F600", "1F44B-1F3FB")], tmp_path / "morph", frames=3, scale=1,
                              strip_frames=2)
    assert json.loads((tmp_path / "morph" / "pairs.json").read_text()) == entries
    (entry,) = entries
    assert entry["a"] == "1F600" and entry["dir"] == "1F600-1F44B-1F3FB"
    with Image.open(tmp_path / "morph" / entry["gif"]) as gif:
        assert gif.n_frames == 3
    assert (tmp_path / "morph" / entry["strip"]).is_file()
    assert entry["mp4"] is None or (tmp_path / "morph" / entry["mp4"]).is_file()
    with pytest.raises(EditError, match="not in child table"):
        run_morph_pairs(pair, a, b, [("1F600", "nope")], tmp_path / "morph2", frames=2)
    assert not (tmp_path / "morph2").exists()  # published in one step: nothing half-written


def _summary(methods, metrics):
    return pd.DataFrame([{"method": m, "metric": k, "mean": 0.1 * i + 0.01 * j}
                         for i, m in enumerate(methods) for j, k in enumerate(metrics)])


def test_headline_metrics_name_the_perceptual_metric():
    methods = ["translation", "input", "random_sample", "nearest_train", "mean_image"]
    out = headline_metrics(_summary(methods, ["perceptual", "mse", "l1", "mask_iou"]),
                           {"perceptual_metric": "stlpips-vgg", "n_items": 7})
    assert set(out) == KEYS and out["metric"] == "stlpips-vgg" and out["n_items"] == 7
    assert out["lpips"] == pytest.approx(0.0) and out["baseline_mean_lpips"] == pytest.approx(0.4)
    assert out["mask_iou"] == pytest.approx(0.03)


def test_headline_metrics_are_null_without_a_perceptual_distance():
    methods = ["translation", "input", "random_sample", "nearest_train", "mean_image"]
    out = headline_metrics(_summary(methods, ["mse", "l1", "mask_iou"]), {"perceptual_metric": "none", "n_items": 3})
    assert set(out) == KEYS and out["metric"] is None
    assert [out[k] for k in sorted(KEYS) if "lpips" in k] == [None] * 5
    assert out["mask_iou"] == pytest.approx(0.02)
