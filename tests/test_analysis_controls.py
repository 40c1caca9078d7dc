"""Shared semantic controls: parent directions applied in the child, scored against random directions."""
import copy

import numpy as np
import pytest
import torch
from PIL import Image

from stylealign_core.analysis.controls import (ControlSettings, channel_direction, control_transfer,
                                               label_direction, pca_directions, save_control_strip, transfer_score)
from stylealign_core.analysis.errors import AnalysisError
from stylealign_core.latents import latents_from_seeds

from analysis_helpers import tiny_parent

SETTINGS = ControlSettings(num_latents=6, steps=(-1.0, -0.5, 0.0, 0.5, 1.0), num_random=3)


def redness(images):
    """A fixed attribute: mean red minus mean blue (a stand-in for an attribute model)."""
    return (images[:, 0] - images[:, 2]).mean(dim=(1, 2))


def test_transfer_score_known_answers():
    steps = SETTINGS.steps
    rising = np.array([[10 + 2 * t for t in steps], [-3 + 0.1 * t for t in steps]])
    assert transfer_score(rising, steps) == pytest.approx(1.0)
    assert transfer_score(-rising, steps) == pytest.approx(-1.0)
    assert transfer_score(np.ones_like(rising), steps) == 0.0  # an attribute that never moves scores 0


def test_pca_directions_are_orthogonal_sorted_and_scaled_to_their_std(tiny_g_kwargs):
    G = tiny_parent(tiny_g_kwargs)
    directions, explained = pca_directions(G, 3, num_samples=300)
    unit = directions / directions.norm(dim=1, keepdim=True)
    assert torch.allclose(unit @ unit.T, torch.eye(3), atol=1e-4)
    assert explained[0] >= explained[1] >= explained[2] > 0 and explained.sum() < 1
    w = latents_from_seeds(G, range(300), space="w")
    assert float((w @ unit[0]).std()) == pytest.approx(float(directions[0].norm()), rel=1e-3)


def test_label_direction_recovers_a_linear_boundary():
    rng = np.random.RandomState(0)
    codes = torch.from_numpy(rng.randn(400, 8)).float()
    truth = torch.tensor([1.0, -2.0, 0, 0, 0.5, 0, 0, 0])
    direction = label_direction(codes, (codes @ truth).numpy() > 0)  # binary labels of a linear boundary
    assert float(direction @ truth / truth.norm()) > 0.95 and float(direction.norm()) == pytest.approx(1.0)
    with pytest.raises(AnalysisError, match="labels that vary"):
        label_direction(codes, np.zeros(400))


def test_a_direction_that_moves_the_attribute_transfers_and_beats_random_ones(tiny_g_kwargs):
    parent = tiny_parent(tiny_g_kwargs)
    w = latents_from_seeds(parent, range(6), space="w").requires_grad_(True)
    redness(parent.synthesize(w, space="w", noise_mode="const")).sum().backward()
    direction = w.grad.mean(dim=0)
    direction = direction / direction.norm() * 0.5
    result = control_transfer(parent, copy.deepcopy(parent), direction, "w", redness, SETTINGS)
    assert result["parent_score"] > 0.8 and result["child_score"] == result["parent_score"]
    assert result["random_abs_mean"] < result["child_score"] and len(result["random_scores"]) == 3
    flipped = control_transfer(parent, parent, -direction, "w", redness, SETTINGS)
    assert flipped["parent_score"] == pytest.approx(-result["parent_score"])  # symmetric steps: the sign flips
    s_dir = channel_direction(parent, "b8.conv0", 3, scale=2.0)
    assert s_dir.norm() == 2.0 and s_dir[parent.style_layout.index("b8.conv0", 3)] == 2.0
    assert -1 <= control_transfer(parent, parent, s_dir, "s", redness, SETTINGS)["parent_score"] <= 1


def test_strip_and_gif_show_parent_and_child_rows(tmp_path, tiny_g_kwargs):
    parent = tiny_parent(tiny_g_kwargs)
    direction = pca_directions(parent, 1, num_samples=50)[0][0]
    steps = (-1.0, 0.0, 1.0, 2.0)
    save_control_strip(parent, parent, direction, "w", [0, 1], steps, tmp_path / "s.png", tmp_path / "s.gif")
    strip = Image.open(tmp_path / "s.png")
    assert strip.size == (4 * 18 + 2, 4 * 18 + 2)  # 4 steps x (2 seeds x parent/child rows), 16 px + pad 2
    arr = np.asarray(strip)
    assert np.array_equal(arr[2:18], arr[20:36])  # identical child: its row repeats the parent's
    gif = Image.open(tmp_path / "s.gif")
    assert gif.n_frames == 2 * len(steps) - 2
