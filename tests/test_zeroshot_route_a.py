"""The zero-shot route a (stylealign_core.analysis.zeroshot.translate_route): child images inverted into the child,
the codes rendered by the parent; the latents cache shared with the invert stage. Real tiny generators, the real
projector and a real perceptual distance (stlpips-alex, shipped in the stlpips-pytorch wheel), on one thread."""
from __future__ import annotations

import importlib.util

import pytest
import torch

from stylealign_core.analysis.zeroshot import ZeroShotError, task_data
from stylealign_core.analysis.zeroshot.translate_route import route_a
from stylealign_core.editing.translate import render
from stylealign_core.grid import images_to_uint8
from stylealign_core.inversion import InvertOptions, LatentsCache, ProjectorSettings, invert_dataset, invert_images
from stylealign_core.params_edit import InvertParams

from analysis_helpers import perturbed_child, tiny_parent
from services import unavailable
from test_zeroshot_helpers import one_thread, write_emoji_like  # noqa: F401 - one_thread is an autouse fixture



@pytest.fixture(autouse=True)
def stlpips_weights():
    """The perceptual weights ship in stlpips-pytorch: skipped without it outside CI, a failure under CI=true."""
    if importlib.util.find_spec("stlpips_pytorch") is None:
        unavailable("stlpips-pytorch (the perceptual weights) is not installed "
                    "(pip install -c constraints.txt 'stylealign[all]')")


SHA = "ab" * 32
INVERT = InvertParams(space="w+", steps=40, batch=8, stats_samples=500, metric="stlpips-alex")


@pytest.fixture
def pair(tiny_g_kwargs):
    torch.manual_seed(0)
    parent = tiny_parent(tiny_g_kwargs)
    return parent, perturbed_child(parent, {"conv", "torgb"}, scale=0.5)


def _uint8(images: torch.Tensor) -> torch.Tensor:
    """Generator output [N, 3, R, R] in [-1, 1] as the uint8 images a data set stores."""
    return torch.from_numpy(images_to_uint8(images)).permute(0, 3, 1, 2).contiguous()


def _child_images(child, seeds=(3, 4, 5)) -> torch.Tensor:
    from stylealign_core.latents import synthesize_seeds
    return _uint8(synthesize_seeds(child, list(seeds), batch=len(seeds)))


def test_to_parent_renders_the_child_inverted_code_with_the_parent(pair, tmp_path):
    parent, child = pair
    images = _child_images(child)
    to_parent = route_a(parent, child, SHA, INVERT, cache=LatentsCache(tmp_path / "cache"))
    out = to_parent(images)
    assert out.shape == images.shape and out.dtype == torch.float32
    info = to_parent.info()
    assert (info["images"], info["optimised"], info["from_cache"]) == (3, 3, 0)
    assert info["metric"] == "stlpips-alex" and info["settings"]["steps"] == 40 and info["settings"]["space"] == "w+"
    # the codes the projector found for these images in the child (from the cache: the same keys) ...
    inputs = to_parent._inputs(images)
    table, computed = invert_images(child, SHA, inputs, to_parent.metric, to_parent.options)
    assert computed == 0
    # ... rendered by the parent, truncation 1, constant noise, clamped to [-1, 1]: exactly route a's output, and
    # not the child's rendering
    torch.testing.assert_close(out, render(parent, table.latents, "w+", 1.0, noise_mode="const").clamp(-1, 1))
    assert (out - render(child, table.latents, "w+", 1.0, noise_mode="const").clamp(-1, 1)).abs().mean() > 0.01


def test_with_parent_as_child_it_reconstructs_the_input(pair, tmp_path):
    """Images the generator can make, inverted and rendered by the same generator: closer to the input than the
    best constant image (the per-channel mean). With 40 steps and optimised noise maps (dropped by the
    constant-noise render) it is not (0.56 vs 0.43 here); 100 steps with the generator's own noise: 0.27."""
    parent, _ = pair
    images = _child_images(parent, seeds=(1, 2, 3, 4))
    settings = INVERT.model_copy(update={"steps": 100, "noise": "const"})
    out = route_a(parent, parent, SHA, settings, cache=LatentsCache(tmp_path / "cache"))(images)
    target = images.float() / 127.5 - 1
    mse = ((out - target) ** 2).mean().item()
    constant = ((target.mean(dim=(0, 2, 3), keepdim=True) - target) ** 2).mean().item()
    assert mse < 0.8 * constant, (mse, constant)


def test_a_second_route_a_is_served_by_the_cache(pair, tmp_path):
    parent, child = pair
    images = _child_images(child)
    cache = LatentsCache(tmp_path / "cache")
    first = route_a(parent, child, SHA, INVERT, cache=cache)
    out = first(images)
    first(images[:2])  # images it has already inverted: kept in memory, not inverted again
    assert (first.info()["images"], first.info()["optimised"]) == (3, 3)
    again = route_a(parent, child, SHA, INVERT.model_copy(update={"batch": 2}), cache=cache)  # batch: not in the key
    torch.testing.assert_close(again(images), out)
    assert (again.info()["optimised"], again.info()["from_cache"]) == (0, 3)
    other = route_a(parent, child, "cd" * 32, INVERT.model_copy(update={"steps": 2}), cache=cache)
    other(images[:1])
    assert other.info()["optimised"] == 1  # another generator or other settings: other keys


def test_images_the_invert_stage_inverted_are_not_optimised_again(pair, tmp_path):
    """The invert stage's options (tasks/invert.py: ProjectorSettings of InvertParams.projector_settings(), the
    section's seed and metric) on the child test split, then route a on the zero-shot task's test images."""
    parent, child = pair
    data = write_emoji_like(tmp_path / "child-data", style=1)
    cache = LatentsCache(tmp_path / "cache")
    to_parent = route_a(parent, child, SHA, INVERT, cache=cache)
    options = InvertOptions(settings=ProjectorSettings(**INVERT.projector_settings()), batch=INVERT.batch,
                            seed=INVERT.seed, split="test", cache=cache)
    stage = invert_dataset(child, SHA, data, tmp_path / "invert-child", to_parent.metric, options)
    test = task_data(data, "skin_tone", "test")
    to_parent(test.images)
    assert stage.computed == len(stage.table) >= len(test.ids)
    assert (to_parent.info()["optimised"], to_parent.info()["from_cache"]) == (0, len(test.ids))


def test_bad_input_names_the_fix(pair, tmp_path):
    parent, child = pair
    to_parent = route_a(parent, child, SHA, INVERT, cache=LatentsCache(tmp_path / "cache"))
    with pytest.raises(ZeroShotError, match=r"uint8 RGB images \[B, 3, R, R\]"):
        to_parent(torch.zeros(2, 3, 16, 16))
