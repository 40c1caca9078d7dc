"""StyleSpace channel and W-direction alignment: effect-map correlation, matched against mismatched."""
import copy

import numpy as np
import pytest
import torch

from stylealign_core.analysis import (EffectSettings, layer_alignment, random_directions, style_channel_alignment,
                                      w_direction_alignment)
from stylealign_core.analysis.effects import correlation_matrix, matched_and_mismatched, pooled
from stylealign_core.analysis.errors import AnalysisError

from analysis_helpers import perturbed_child, tiny_parent

FAST = EffectSettings(num_latents=3, channels_per_layer=3, std_samples=16, batch=16)


def test_correlation_matrix_and_matched_mismatched_known_answers():
    a = torch.tensor([[1.0, 2.0, 3.0], [1.0, 0.0, 1.0], [5.0, 5.0, 5.0]])
    corr = correlation_matrix(a, torch.stack([2 * a[0] + 1, -a[1], a[0]]))
    assert corr[0, 0] == pytest.approx(1.0) and corr[1, 1] == pytest.approx(-1.0) and corr[0, 2] == pytest.approx(1.0)
    assert np.isnan(corr[2]).all()  # a constant map (an edit that changes nothing) has no correlation
    matched, mismatched = matched_and_mismatched(np.array([[1.0, 0.2, 0.4], [0.0, 0.5, 0.6], [0.3, 0.1, 0.9]]))
    assert matched.tolist() == [1.0, 0.5, 0.9]
    assert mismatched[0] == pytest.approx((0.2 + 0.4 + 0.0 + 0.3) / 4)  # row and column of edit 0, j != 0


def test_pooled_effects_forgive_a_one_pixel_shift():
    edge = torch.zeros(1, 1, 1, 8, 8)
    edge[..., 2, 1] = 1.0  # shifted to column 2: the same 4x4 block
    shifted = torch.roll(edge, 1, dims=-1)
    assert correlation_matrix(edge, shifted)[0, 0] < 0.5
    assert correlation_matrix(pooled(edge, 2), pooled(shifted, 2))[0, 0] == pytest.approx(1.0)
    assert pooled(edge, 2).shape == (1, 1, 1, 2, 2) and pooled(edge, 2).sum() * 16 == pytest.approx(1.0)
    assert pooled(edge, 0) is edge


def test_identical_pair_matched_channels_correlate_one_far_above_mismatched(tiny_g_kwargs):
    parent = tiny_parent(tiny_g_kwargs)
    channels = style_channel_alignment(parent, copy.deepcopy(parent), FAST, progress=False)
    layout = parent.style_layout
    assert list(channels["layer"].unique()) == [layer.name for layer in layout.layers]
    assert (channels.groupby("layer").size() == 3).all()
    assert np.allclose(channels["matched_corr"], 1.0, atol=1e-6)
    assert np.allclose(channels["raw_s_corr"], 1.0, atol=1e-6)
    layers = layer_alignment(channels)
    assert (layers["mismatched_mean"] < 0.6).all()
    assert layers["mismatched_mean"].mean() < 0.3
    assert (channels["parent_effect_rms"] > 0).all()
    assert np.allclose(channels["parent_effect_rms"], channels["child_effect_rms"])


def test_a_moved_child_keeps_alignment_above_the_baseline_but_below_one(tiny_g_kwargs):
    parent = tiny_parent(tiny_g_kwargs)
    child = perturbed_child(parent, {"conv", "torgb"}, scale=0.3)
    layers = layer_alignment(style_channel_alignment(parent, child, FAST, progress=False))
    assert (layers["matched_mean"] < 0.9999).all()
    assert (layers["matched_mean"] > layers["mismatched_mean"] + 0.2).all()
    # raw S codes stay identical (mapping and affines were not touched): raw S correlation is no measure
    assert np.allclose(layers["raw_s_corr_mean"], 1.0, atol=1e-6)


def test_w_directions_align_in_an_identical_pair_and_directions_are_unit(tiny_g_kwargs):
    parent = tiny_parent(tiny_g_kwargs)
    directions = random_directions(3, parent.w_dim, seed=4)
    assert torch.allclose(directions.norm(dim=1), torch.ones(3))
    table = w_direction_alignment(parent, copy.deepcopy(parent), directions * 5, settings=FAST, progress=False)
    assert np.allclose(table["matched_corr"], 1.0, atol=1e-6)
    assert (table["mismatched_corr"] < 0.9).all()
    assert np.allclose(table["parent_std"], table["child_std"])
    with pytest.raises(AnalysisError, match=r"shape \[K, 32\]"):
        w_direction_alignment(parent, parent, torch.ones(2, 5), settings=FAST, progress=False)


def test_bad_settings_are_refused():
    with pytest.raises(AnalysisError, match="num_latents and std_samples must be >= 2"):
        EffectSettings(num_latents=1)
    with pytest.raises(AnalysisError, match="step_std > 0"):
        EffectSettings(step_std=0)
