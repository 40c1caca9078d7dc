"""The batched projector: known answers on a tiny generator, batch == singles, early stop, schedules."""
import math

import pytest
import torch

from stylealign_core.generator import Generator
from stylealign_core.inversion import ProjectorSettings, project
from stylealign_core.inversion.noise import init_noise_maps, image_generators, noise_regulariser, renormalise_
from stylealign_core.inversion.perceptual import Backbone, LinearFeatureDistance
from stylealign_core.inversion.projector import latent_noise_scale, learning_rate
from stylealign_core.inversion.spaces import code_shape, space_stats, synthesize_codes


def tiny_metric() -> LinearFeatureDistance:
    """A small LPIPS-form distance with a random backbone: test-only (the real ones are in perceptual.py)."""
    torch.manual_seed(1)
    layers = [torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, stride=2, padding=1),
              torch.nn.ReLU()]
    heads = [torch.rand(8), torch.rand(8)]
    return LinearFeatureDistance(Backbone(layers, [1, 3]), heads, (0, 0, 0), (1, 1, 1), name="test-random", min_size=1)


@torch.no_grad()
def _scale_output(G, factor: float) -> None:
    """Scale the image G renders (ToRGB weights and biases: the skip sum is linear in them)."""
    for name, param in G.named_parameters():
        if ".torgb." in name and not name.endswith("affine.weight") and not name.endswith("affine.bias"):
            param.mul_(factor)


@pytest.fixture
def tiny_G(tiny_g_kwargs):
    torch.manual_seed(0)
    return Generator(**tiny_g_kwargs).eval()


def test_code_shapes_and_stats(tiny_G):
    assert code_shape(tiny_G, "w+") == (tiny_G.num_ws, tiny_G.w_dim)
    assert code_shape(tiny_G, "s") == (tiny_G.style_layout.dim,)
    for space in ("z", "w", "w+", "s"):
        stats = space_stats(tiny_G, space, samples=500)
        assert tuple(stats.avg.shape) == code_shape(tiny_G, space) and stats.std > 0
    # the spread is the root of the summed per-coordinate variance: for z ~ N(0, I) about sqrt(z_dim)
    assert space_stats(tiny_G, "z", samples=2000).std == pytest.approx(math.sqrt(tiny_G.z_dim), rel=0.05)


def test_projecting_a_generated_image_recovers_it(tiny_G):
    """Images made from known w: the projection's distance and pixel error are far below the start's (w_avg)."""
    metric = tiny_metric()
    with torch.no_grad():
        w = tiny_G.z_to_w(torch.randn(2, tiny_G.z_dim, generator=torch.Generator().manual_seed(5)))
        _scale_output(tiny_G, 0.9 / float(tiny_G.synthesize(w, "w").abs().max()))  # targets inside [-1, 1]
        targets = tiny_G.synthesize(w, "w")
        stats = space_stats(tiny_G, "w", samples=1000)
        start = synthesize_codes(tiny_G, stats.avg.expand(2, -1), "w")
        start_distance = metric(start, targets)
        start_mse = (start - targets).square().mean(dim=(1, 2, 3))
    settings = ProjectorSettings(space="w", steps=150, noise="const", pixel_weight=1.0, stats_samples=1000)
    result = project(tiny_G, targets, seeds=[1, 2], metric=metric, settings=settings, stats=stats)
    assert result.metric == "test-random"
    assert torch.all(result.distance < 0.4 * start_distance), (result.distance, start_distance)
    assert torch.all(result.mse < 0.4 * start_mse), (result.mse, start_mse)
    assert (result.latents - w).norm(dim=1).mean() < (stats.avg - w).norm(dim=1).mean()
    assert result.history[-1] < result.history[0]


def test_batch_equals_single_image_runs(tiny_G):
    """Per-image noise maps and latent noise: a batch of 2 gives the codes of 2 one-image runs."""
    metric = tiny_metric()
    targets = torch.rand(2, 3, 16, 16) * 2 - 1
    seeds = [7, 8]
    settings = ProjectorSettings(space="w+", steps=6, stats_samples=500)
    stats = space_stats(tiny_G, "w+", 500)
    batch = project(tiny_G, targets, seeds, metric, settings, stats=stats)
    singles = torch.cat([project(tiny_G, targets[i:i + 1], seeds[i:i + 1], metric, settings, stats=stats).latents
                         for i in range(2)])
    start = stats.avg
    moved = (batch.latents - start).abs().max()
    assert moved > 1e-2  # the codes did move
    torch.testing.assert_close(batch.latents, singles, atol=1e-4 * float(moved) + 1e-5, rtol=1e-4)
    # another seed gives another trajectory: the per-image randomness is really used
    other = project(tiny_G, targets[:1], [1234], metric, settings, stats=stats).latents
    assert (other - singles[:1]).abs().max() > 1e-4


def test_early_stop_per_image(tiny_G):
    metric = tiny_metric()
    targets = torch.rand(2, 3, 16, 16) * 2 - 1
    stats = space_stats(tiny_G, "w", 500)
    settings = ProjectorSettings(space="w", steps=10, stats_samples=500, stop_distance=1e9)
    result = project(tiny_G, targets, [1, 2], metric, settings, stats=stats)
    assert result.steps.tolist() == [0, 0]  # both met the distance before the first update
    torch.testing.assert_close(result.latents, stats.avg.expand(2, -1))
    # an unreachable distance: every image runs all its steps
    unreachable = project(tiny_G, targets, [1, 2], metric, ProjectorSettings(space="w", steps=3, stats_samples=500,
                                                                            stop_distance=-1.0), stats=stats)
    assert unreachable.steps.tolist() == [3, 3]
    assert all(p.requires_grad for p in tiny_G.parameters())  # the caller's generator is left as it was


def test_early_stop_keeps_other_rows_unchanged(tiny_G):
    """Image 0 stops at once (its target is its own start image); image 1 continues exactly as alone."""
    metric = tiny_metric()
    stats = space_stats(tiny_G, "w", 500)
    with torch.no_grad():
        easy = synthesize_codes(tiny_G, stats.avg.unsqueeze(0), "w").clamp(-1, 1)  # targets are in [-1, 1]
    hard = torch.rand(1, 3, 16, 16) * 2 - 1
    settings = ProjectorSettings(space="w", steps=5, stats_samples=500, stop_distance=1e-6, latent_noise=0.0)
    both = project(tiny_G, torch.cat([easy, hard]), [3, 4], metric, settings, stats=stats)
    alone = project(tiny_G, hard, [4], metric, settings, stats=stats)
    assert both.steps.tolist() == [0, 5]
    torch.testing.assert_close(both.latents[1:], alone.latents, atol=1e-5, rtol=1e-4)


def test_reported_figures_are_those_of_the_clamped_image(tiny_G):
    """A generator whose raw output leaves [-1, 1]: distance, mse and images are those of the clamped render."""
    _scale_output(tiny_G, 50.0)
    metric, stats = tiny_metric(), space_stats(tiny_G, "w", 500)
    targets = torch.rand(2, 3, 16, 16) * 2 - 1
    settings = ProjectorSettings(space="w", steps=2, stats_samples=500, noise="const")
    result = project(tiny_G, targets, [1, 2], metric, settings, stats=stats)
    with torch.no_grad():
        raw = synthesize_codes(tiny_G, result.latents, "w")
    assert raw.abs().max() > 1.5  # the premise: the raw render is out of range
    shown = raw.clamp(-1, 1)
    assert result.images.abs().max() <= 1.0
    torch.testing.assert_close(result.distance, metric(shown, targets), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(result.mse, (shown - targets).square().mean(dim=(1, 2, 3)), atol=1e-6, rtol=1e-5)
    assert not torch.allclose(result.mse, (raw - targets).square().mean(dim=(1, 2, 3)))


def test_early_stop_sees_the_reported_distance(tiny_G):
    """A stopped image's reported (clamped, const-noise) distance is at most stop_distance. The target is the
    raw render of the start code of a generator scaled out of [-1, 1]: the step's own distance is 0 at once,
    the distance of the image shown is not, so stopping on the step's distance would stop it at step 0."""
    _scale_output(tiny_G, 50.0)
    metric, stats = tiny_metric(), space_stats(tiny_G, "w", 500)
    with torch.no_grad():
        raw = synthesize_codes(tiny_G, stats.avg.expand(2, -1), "w")
    assert float(metric(raw.clamp(-1, 1), raw).min()) > 1e-3  # the premise: clamping moves the image
    stop = 1e-4
    settings = ProjectorSettings(space="w", steps=6, stats_samples=500, noise="const", latent_noise=0.0,
                                 stop_distance=stop, stop_every=3)
    result = project(tiny_G, raw, [1, 2], metric, settings, stats=stats)
    stopped = result.steps < settings.steps
    assert bool(torch.all(result.distance[stopped] <= stop))
    assert result.steps.tolist() == [6, 6]
    # a distance every image meets is seen at the first check (step 0)
    easy = ProjectorSettings(space="w", steps=6, stats_samples=500, noise="const", latent_noise=0.0,
                             stop_distance=1e9, stop_every=3)
    assert project(tiny_G, raw, [1, 2], metric, easy, stats=stats).steps.tolist() == [0, 0]
    assert "stop_every" not in ProjectorSettings().as_dict()  # the cache key of runs without a stop is unchanged
    with pytest.raises(Exception, match="stop_every"):
        ProjectorSettings(stop_every=0)


def test_schedules_follow_the_official_recipe():
    s = ProjectorSettings()
    assert learning_rate(s, 0.0) == 0.0
    assert learning_rate(s, 0.025) == pytest.approx(0.05)     # half-way up the 5% ramp
    assert learning_rate(s, 0.5) == pytest.approx(0.1)
    assert learning_rate(s, 0.875) == pytest.approx(0.05)     # half-way down the 25% cosine ramp
    assert latent_noise_scale(s, 0.0, 2.0) == pytest.approx(0.1)
    assert latent_noise_scale(s, 0.375, 2.0) == pytest.approx(0.1 * 0.25)
    assert latent_noise_scale(s, 0.8, 2.0) == 0.0


def test_noise_maps_are_per_image_and_regularised(tiny_G):
    maps_a = init_noise_maps(tiny_G, image_generators([1, 2]), "cpu")
    maps_b = init_noise_maps(tiny_G, image_generators([2]), "cpu")
    for name in maps_a:  # image 2's maps do not depend on its batch mate
        torch.testing.assert_close(maps_a[name][1:], maps_b[name])
        assert maps_a[name].mean(dim=(1, 2, 3)).abs().max() < 1e-5
        assert torch.allclose(maps_a[name].std(dim=(1, 2, 3), unbiased=False), torch.ones(2), atol=1e-4)
    white = {"x": torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))}
    smooth = {"x": torch.nn.functional.interpolate(torch.randn(2, 1, 4, 4), size=16, mode="bilinear")}
    renormalise_(smooth)
    assert torch.all(noise_regulariser(smooth) > 10 * noise_regulariser(white))
