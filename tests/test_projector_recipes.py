"""Projector recipes: the official one is ProjectorSettings' defaults, "fast" is named once (RECIPES) and reaches
the CLI (`stylealign invert --recipe`), the pipeline's `invert.recipe` and bench/invert.py; explicit values win."""
import json
import typing

import pytest
import torch

from stylealign.cli import main
from stylealign_core.checkpoints import load_checkpoint, save_checkpoint
from stylealign_core.generator import Generator
from stylealign_core.inversion import (RECIPES, Encoder, InversionError, ProjectorSettings, project, recipe_settings,
                                       save_encoder)
from stylealign_core.inversion.spaces import space_stats, synthesize_codes
from stylealign_core.params_edit import InvertParams

from bench_helpers import load_bench
from test_inversion_projector import _scale_output, tiny_metric
from test_inversion_run import _write_images
from services import require_stlpips

FAST = {"steps": 100, "lr": 0.2, "lr_rampup": 0.01, "latent_noise": 0.0, "pixel_weight": 0.5, "noise": "const"}


def test_official_is_the_default_and_fast_is_what_it_says():
    assert recipe_settings("official") == ProjectorSettings() == recipe_settings()
    fast = recipe_settings("fast")
    assert {k: getattr(fast, k) for k in FAST} == FAST
    assert fast.noise_reg_weight == ProjectorSettings().noise_reg_weight  # the rest: the official values


def test_explicit_values_override_a_recipe_and_none_keeps_it():
    settings = recipe_settings("fast", lr=0.05, steps=None, space="w", stop_distance=0.1)
    assert (settings.lr, settings.steps, settings.space, settings.stop_distance) == (0.05, 100, "w", 0.1)
    assert settings.pixel_weight == 0.5


def test_an_unknown_recipe_is_refused_naming_the_choices():
    with pytest.raises(InversionError, match=r"unknown projector recipe 'quick'") as caught:
        recipe_settings("quick")
    assert "fast" in caught.value.hint and "official" in caught.value.hint


def test_params_recipe_names_are_the_recipes_and_nulls_take_the_recipe():
    assert set(typing.get_args(InvertParams.model_fields["recipe"].annotation)) == set(RECIPES)
    fast = InvertParams(recipe="fast", space="w", steps=None, lr=None, noise=None).projector_settings()
    assert ProjectorSettings(**fast) == recipe_settings("fast", space="w")
    official = InvertParams(space="w", steps=100).projector_settings()
    assert ProjectorSettings(**official) == ProjectorSettings(space="w", steps=100)
    pinned = InvertParams(recipe="fast", lr=0.1, noise="optimize").projector_settings()
    assert (pinned["lr"], pinned["noise"], pinned["pixel_weight"]) == (0.1, "optimize", 0.5)


def test_fast_gets_closer_than_official_in_the_same_steps(tiny_g_kwargs):
    """The reason the recipe exists, on a tiny generator: images of known codes, 40 steps each, W+."""
    torch.manual_seed(0)
    G = Generator(**tiny_g_kwargs).eval()
    with torch.no_grad():
        w = G.z_to_w(torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(7)))
        _scale_output(G, 0.9 / float(G.synthesize(w, "w").abs().max()))
        targets = G.synthesize(w, "w")
    stats = space_stats(G, "w+", samples=1000)
    distances = {}
    for name in ("official", "fast"):
        settings = recipe_settings(name, space="w+", steps=40, stats_samples=1000)
        result = project(G, targets, seeds=[1, 2, 3], metric=tiny_metric(), settings=settings, stats=stats)
        distances[name] = float(result.distance.mean())
    with torch.no_grad():
        start = float(tiny_metric()(synthesize_codes(G, stats.avg.expand(3, *stats.avg.shape), "w+"), targets).mean())
    assert distances["fast"] < distances["official"] < start


def test_cli_recipe_fast_is_recorded_and_a_flag_overrides_it(tiny_g_kwargs, tmp_path):
    require_stlpips()
    torch.manual_seed(0)
    network = save_checkpoint(tmp_path / "G", {"G_ema": Generator(**tiny_g_kwargs).eval()})
    data = _write_images(tmp_path / "data", count=2)
    common = ["invert", "--data", str(data), "--network", str(network), "--metric", "stlpips-alex",
              "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--recipe", "fast", "--steps", "2"]
    assert main(common + ["--out", str(tmp_path / "fast")]) == 0
    recorded = json.loads((tmp_path / "fast" / "invert.json").read_text())["settings"]
    assert {k: recorded[k] for k in FAST} == {**FAST, "steps": 2}
    assert main(common + ["--lr", "0.05", "--out", str(tmp_path / "slow")]) == 0
    recorded = json.loads((tmp_path / "slow" / "invert.json").read_text())["settings"]
    assert (recorded["lr"], recorded["pixel_weight"]) == (0.05, 0.5)


def test_bench_invert_reports_both_recipes_with_a_check_metric(tiny_g_kwargs, tmp_path, capsys):
    """bench/invert.py end to end on a tiny generator: the ratio, the recipe and the unoptimised check metric."""
    require_stlpips()
    torch.manual_seed(0)
    network = save_checkpoint(tmp_path / "G", {"G_ema": Generator(**tiny_g_kwargs).eval()})
    data = _write_images(tmp_path / "data", count=3)
    G, sha256 = load_checkpoint(network).generator, load_checkpoint(network).sha256
    encoder = save_encoder(tmp_path / "enc", Encoder.for_generator(G, sha256, channels=4, channel_max=8, hidden=8,
                                                                   refine_iterations=1))
    bench, out = load_bench("invert"), tmp_path / "bench.json"
    assert bench.main(["--network", str(network), "--data", str(data), "--split", "all", "--images", "3",
                       "--official-images", "1", "--official-steps", "3", "--steps", "4", "--batch", "2",
                       "--metric", "stlpips-alex", "--threads", "1", "--json", str(out),
                       "--encoder", str(encoder), "--refine", "2"]) == 0
    figures = json.loads(out.read_text())
    assert figures["check_metric"] == "stlpips-vgg" and figures["ours"]["recipe"] == "fast"
    assert figures["ours"]["settings"]["pixel_weight"] == 0.5 and figures["ours"]["settings"]["steps"] == 4
    assert figures["official"]["images"] == 1 and figures["images"] == 3
    assert set(figures["ours"]["on_official_images"]) == {"mean_distance", "mean_mse", "mean_check_distance"}
    for row in ("official", "ours"):
        assert all(figures[row][k] >= 0 for k in ("mean_distance", "mean_mse", "mean_check_distance"))
    assert figures["ratio_ours_over_official"] == pytest.approx(
        figures["ours"]["images_per_s"] / figures["official"]["images_per_s"])
    for row, steps in (("encoder", 0), ("encoder_refine", 2)):     # the 500x target is judged on quality too
        assert figures[row]["refine_iterations"] == 1 and figures[row]["refine_steps"] == steps
        assert figures[row]["equal_quality"] == all(figures[row]["on_official_images"][k] <= figures["official"][k]
                                                    for k in ("mean_distance", "mean_mse", "mean_check_distance"))
    printed = capsys.readouterr().out
    assert "ratio ours / official" in printed and "encoder (1 feedback iterations, 0 projector steps)" in printed
