"""Scores against paired ground truth: pixel error, mask IoU, grouped bootstrap, baselines, the whole table."""
import numpy as np
import pandas as pd
import pytest
import torch

from editing_helpers import paired_dataset, tiny_pair
from stylealign_core.editing import (AlignedPair, bootstrap_interval, bootstrap_replicates, foreground_masks,
                                     load_paired_truth, mask_iou, pixel_errors, score_translation, summarize,
                                     translate)
from stylealign_core.editing.baselines import mean_image, nearest_images
from stylealign_core.editing.errors import EditError
from stylealign_core.latents import z_from_seeds


def test_pixel_errors_known_answers():
    black, white = -torch.ones(2, 3, 4, 4), torch.ones(2, 3, 4, 4)
    grey = torch.zeros(2, 3, 4, 4)
    assert pixel_errors(black, white)["mse"].tolist() == [1.0, 1.0]
    assert pixel_errors(grey, white)["l1"].tolist() == [0.5, 0.5]
    assert pixel_errors(grey, white)["mse"].tolist() == [0.25, 0.25]
    with pytest.raises(EditError, match="same"):
        pixel_errors(grey, torch.zeros(2, 3, 8, 8))


def test_mask_iou_known_answers():
    a = torch.zeros(3, 4, 4, dtype=torch.bool)
    b = torch.zeros(3, 4, 4, dtype=torch.bool)
    a[0, :2, :] = True          # 8 pixels
    b[0, 1:3, :] = True         # 8 pixels, 4 shared -> 4 / 12
    a[1], b[1] = True, True     # identical -> 1
    # item 2: both empty -> 1 by convention
    assert mask_iou(a, b) == pytest.approx([1 / 3, 1.0, 1.0])
    b[2, 0, 0] = True           # one side empty -> 0
    assert mask_iou(a, b)[2] == 0.0


def test_masks_from_alpha_or_from_non_white_pixels():
    images = torch.ones(1, 3, 4, 4)        # white
    images[0, :, 1:3, 1:3] = -0.5           # a dark square
    mask, rule = foreground_masks(images)
    assert rule.startswith("non-white") and mask[0].sum() == 4 and mask[0, 1:3, 1:3].all()
    alpha = torch.zeros(1, 1, 4, 4, dtype=torch.uint8)
    alpha[0, 0, 0] = 255                    # a full row, whatever the colours say
    alpha[0, 0, 1, 0] = 100                 # below half: background
    mask, rule = foreground_masks(images, alpha)
    assert rule.startswith("alpha") and mask[0].sum() == 4 and mask[0, 0].all()


def test_bootstrap_resamples_whole_groups():
    values = [0, 0, 0, 0, 0, 1]             # group a: five variants of one base emoji; group b: one emoji
    groups = ["a"] * 5 + ["b"]
    reps = bootstrap_replicates(values, groups, n_boot=400, seed=1)
    # two groups drawn with replacement: aa -> 0, bb -> 1, ab -> 1/6; never a mix of single variants
    assert set(np.round(reps, 6)) == {0.0, round(1 / 6, 6), 1.0}
    ungrouped = bootstrap_replicates(values, [str(i) for i in range(6)], n_boot=400, seed=1)
    assert len(set(np.round(ungrouped, 6))) > 3
    mean, lo, hi = bootstrap_interval(values, groups, n_boot=400)
    assert mean == pytest.approx(1 / 6) and lo == 0.0 and hi == 1.0


def test_summary_has_means_intervals_and_paired_differences():
    table = pd.DataFrame({"id": ["x", "y", "z"] * 2, "group": ["g1", "g1", "g2"] * 2,
                          "method": ["translation"] * 3 + ["mean_image"] * 3,
                          "perceptual": np.nan, "mse": [0.1, 0.1, 0.1, 0.3, 0.2, 0.4],
                          "l1": [0.1] * 6, "mask_iou": [1.0] * 6})
    summary = summarize(table, n_boot=200).set_index(["method", "metric"])
    assert "perceptual" not in summary.index.get_level_values("metric")
    row = summary.loc[("mean_image", "mse")]
    assert row["mean"] == pytest.approx(0.3) and row["diff_vs_translation"] == pytest.approx(0.2)
    assert row["diff_ci_low"] > 0 and row["n_groups"] == 2


def test_nearest_image_by_pixels_and_by_a_distance():
    pool = torch.stack([torch.full((3, 4, 4), v) for v in (-1.0, 0.0, 1.0)])
    queries = torch.stack([torch.full((3, 4, 4), 0.9), torch.full((3, 4, 4), -0.6)])
    index, rule = nearest_images(queries, pool)
    assert index.tolist() == [2, 0] and "pixel" in rule

    def darkest(a, b):  # a "perceptual" distance that prefers darker pool images
        return (b.flatten(1).mean(1) + 1)
    darkest.name = "darkness"
    index, rule = nearest_images(queries, pool, darkest, prefilter=2)
    assert index.tolist() == [1, 0] and "darkness" in rule and "2 pixel-nearest" in rule


def test_score_translation_table_on_a_paired_data_set(tmp_path, tiny_g_kwargs):
    groups = {"A": ["A", "A-1", "A-2"], "B": ["B"], "C": ["C"], "D": ["D"], "E": ["E", "E-1"]}
    truth_dir = paired_dataset(tmp_path / "twemoji", 1, groups, splits={"A": "test", "A-1": "test", "A-2": "test",
                                                                         "B": "test"})
    ids = ["A", "A-1", "A-2", "B"]
    truth = load_paired_truth(truth_dir, ids)
    assert truth.groups == ["A", "A", "A", "B"] and truth.group_column == "base_id"
    assert set(truth.pool_ids) == {"C", "D", "E", "E-1"}        # train split, scored groups left out
    assert truth.alpha.shape == (4, 1, 16, 16)
    parent, child = tiny_pair(tiny_g_kwargs)
    z = z_from_seeds(range(4), parent.z_dim)
    pair = AlignedPair(parent, child)
    outputs = translate(pair, z, "z", 0.5)
    table, summary, info = score_translation(outputs, truth.images, truth, child, 0.5, n_boot=100)
    assert sorted(table["method"].unique()) == ["input", "mean_image", "nearest_train", "random_sample",
                                                "translation"]
    inputs = table[table["method"] == "input"]
    assert (inputs["mse"] == 0).all() and (inputs["mask_iou"] > 0.5).all()  # the truth itself as input
    nearest = table[table["method"] == "nearest_train"]
    assert set(nearest["nearest_id"]) <= {"C", "D", "E", "E-1"}
    mean_rows = table[table["method"] == "mean_image"]
    expected = ((mean_image(child, 4).clamp(-1, 1) - truth.images) / 2).square().flatten(1).mean(1).numpy()
    assert np.allclose(mean_rows["mse"], expected, atol=1e-6)
    assert info["perceptual_metric"] == "none" and info["groups"] == "base_id" and info["n_groups"] == 2
    assert info["truth_mask"].startswith("alpha") and info["output_mask"].startswith("non-white")
    assert set(summary["method"]) == set(table["method"])
    with pytest.raises(EditError, match="not in the data set"):
        load_paired_truth(truth_dir, ["A", "nope"])
