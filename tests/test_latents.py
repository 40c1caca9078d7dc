"""One latent convention: seed -> z (official RandomState(seed).randn), codes in Z/W/W+/S, StyleLayout,
and the same seed giving the same image through the API, `stylealign generate`, export and the
parent-vs-child grid."""
import numpy as np
import pytest
import torch
from PIL import Image

import stylealign_core
from stylealign.cli import main
from stylealign_core import Discriminator, Generator, generator
from stylealign_core.checkpoints import DIR_CHECKPOINT_NAME, load_generator, save_checkpoint
from stylealign_core.grid import images_to_uint8
from stylealign_core.latents import (StyleLayer, StyleLayout, check_seed, class_labels, grid_seeds,
                                     latents_from_seeds, parse_seeds, synthesize_seeds, z_from_seed, z_from_seeds)
from stylealign_core.reports import parent_vs_child_grid
from stylealign_core.training.export import export_model
from stylealign_core.training.snapshots import save_state, write_snapshot

from test_checkpoints import randomize


def test_z_of_a_seed_is_the_official_randomstate_draw_whatever_its_neighbours():
    official = np.random.RandomState(7).randn(1, 24)[0]  # what NVlabs' generate.py feeds its G
    assert torch.equal(z_from_seed(7, 24), torch.from_numpy(official).float())
    z = z_from_seeds([3, 7, 2 ** 32 - 1], 24)
    assert z.dtype == torch.float32 and z.shape == (3, 24)
    assert torch.equal(z[1], z_from_seeds([7], 24)[0]) and not torch.equal(z[0], z[1])
    for bad in (-1, 2 ** 32, 1.5, "3", True):
        with pytest.raises(ValueError, match=r"seeds are integers in \[0, 2\^32\)"):
            check_seed(bad)
    with pytest.raises(ValueError, match="no seeds given"):
        z_from_seeds([], 8)


def test_seed_lists_and_grid_seeds():
    assert parse_seeds("0-3,7,10-11") == [0, 1, 2, 3, 7, 10, 11]
    assert parse_seeds(" 5 , 2 ") == [5, 2]  # order kept
    for bad in ("a", "5-2", "-1", "", "4294967296"):
        with pytest.raises(ValueError, match="bad seed list"):
            parse_seeds(bad)
    assert grid_seeds(4) == [0, 1, 2, 3] and grid_seeds(3, first=10) == [10, 11, 12]
    with pytest.raises(ValueError, match="at least one image"):
        grid_seeds(0)
    with pytest.raises(ValueError, match="out of range"):
        grid_seeds(2, first=2 ** 32 - 1)


def test_style_layout_lives_in_latents_and_old_names_still_work(tiny_g_kwargs):
    G = Generator(**tiny_g_kwargs)
    assert generator.StyleLayout is stylealign_core.StyleLayout is StyleLayout and generator.StyleLayer is StyleLayer
    layout = G.style_layout
    assert isinstance(layout, StyleLayout) and layout.dim == G.wplus_to_s(torch.zeros(1, G.num_ws, G.w_dim)).shape[1]
    assert layout.locate(layout.index("b16.conv1", 3)) == ("b16.conv1", 3)
    with pytest.raises(KeyError, match="no style layer 'b99.conv0'"):
        layout.index("b99.conv0", 0)


def test_codes_in_every_space_follow_from_the_seeds(tiny_g_kwargs):
    G = randomize(Generator(**tiny_g_kwargs))
    seeds = [4, 0, 9]
    z = latents_from_seeds(G, seeds, space="z", truncation_psi=0.5)
    assert torch.equal(z, z_from_seeds(seeds, G.z_dim))  # z is never truncated
    w = latents_from_seeds(G, seeds, space="w", truncation_psi=0.5)
    with torch.no_grad():
        w_full = G.mapping(z, None)[:, 0]
        assert torch.allclose(w, G.mapping.w_avg.lerp(w_full, 0.5), atol=1e-6)
        wplus = latents_from_seeds(G, seeds, space="w+", truncation_psi=0.5)
        assert wplus.shape == (3, G.num_ws, G.w_dim) and torch.equal(wplus[:, -1], w)
        s = latents_from_seeds(G, seeds, space="s", truncation_psi=0.5, batch=2)
        assert torch.allclose(s, G.wplus_to_s(wplus), atol=1e-6)
    with pytest.raises(ValueError, match="latent space must be one of"):
        latents_from_seeds(G, seeds, space="q")
    with pytest.raises(ValueError, match="batch must be >= 1"):
        latents_from_seeds(G, seeds, batch=0)


def test_class_labels_for_conditional_generators(tiny_g_kwargs):
    G = randomize(Generator(**dict(tiny_g_kwargs, c_dim=3)))
    c = class_labels(G, 2, 4)
    assert c.shape == (4, 3) and c[:, 2].eq(1).all() and c.sum() == 4
    with pytest.raises(ValueError, match=r"pass a class index in \[0, 3\)"):
        synthesize_seeds(G, [0])
    a, b = synthesize_seeds(G, [0, 1], class_idx=0), synthesize_seeds(G, [0, 1], class_idx=1)
    assert not torch.equal(a, b)
    with pytest.raises(ValueError, match="unconditional"):
        class_labels(Generator(**tiny_g_kwargs), 0, 1)


def test_an_image_depends_on_its_seed_not_on_its_batch_neighbours(tiny_g_kwargs):
    G = randomize(Generator(**tiny_g_kwargs))
    sheet = synthesize_seeds(G, range(20))
    for seeds in ([3], [19, 3, 7], list(range(5))):
        assert torch.equal(synthesize_seeds(G, seeds), sheet[seeds])
    with torch.no_grad():  # the official path: G(z) on RandomState z, at the same batch size
        official = G(z_from_seeds(range(16), G.z_dim), None, noise_mode="const")
    assert torch.equal(sheet[:16], official)
    for space in ("w", "w+", "s"):
        assert (synthesize_seeds(G, range(20), space=space) - sheet).abs().max() < 1e-5


def _fake_run(run_dir, G_ema, tiny_g_kwargs, tiny_d_kwargs):
    """A run directory with one complete snapshot, written by the training code's own snapshot writer."""
    nets = {"G": randomize(Generator(**tiny_g_kwargs)), "D": randomize(Discriminator(**tiny_d_kwargs)),
            "G_ema": G_ema}

    def write(tmp):
        save_checkpoint(tmp / DIR_CHECKPOINT_NAME, nets, metadata={"kind": "parent", "kimg": 0.016})
        save_state(tmp / "training_state.pt", {"step": 4, "nimg": 16})

    write_snapshot(run_dir, 16, write)
    return run_dir


def _png(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


def test_same_seed_same_image_through_every_entry_point(tmp_path, tiny_g_kwargs, tiny_d_kwargs):
    res, seeds = tiny_g_kwargs["img_resolution"], [3, 5, 6]
    run = _fake_run(tmp_path / "run", randomize(Generator(**tiny_g_kwargs)), tiny_g_kwargs, tiny_d_kwargs)
    model = export_model(run, tmp_path / "model", num_samples=8)  # samples.png: seeds 0-7
    parent = load_generator(model / "network.json")
    child = randomize(Generator(**tiny_g_kwargs))  # any generator of the parent's shape

    api = images_to_uint8(synthesize_seeds(parent, seeds))                       # 1. the API
    assert main(["generate", "--network", str(model / "network.json"), "--seeds", "3,5-6", "--ncols", "3",
                 "--out", str(tmp_path / "cli.png")]) == 0                         # 2. the CLI
    cli = _png(tmp_path / "cli.png")
    samples = _png(model / "samples.png")                                         # 3. export
    parent_vs_child_grid(parent, child, tmp_path / "cmp.png", seeds)              # 4. the comparison
    sheet = _png(tmp_path / "cmp.png")
    for col, seed in enumerate(seeds):
        cell = np.s_[:, col * res:(col + 1) * res]
        assert np.array_equal(cli[cell], api[col]), seed
        assert np.array_equal(samples[:, seed * res:(seed + 1) * res], api[col]), seed
        assert np.array_equal(sheet[:res][cell], api[col]), seed
    child_row = images_to_uint8(synthesize_seeds(child, seeds))
    assert np.array_equal(sheet[res:], np.concatenate(list(child_row), axis=1))
    assert not np.array_equal(sheet[:res], sheet[res:])


def test_comparison_refuses_generators_of_another_shape(tmp_path, tiny_g_kwargs):
    parent = Generator(**tiny_g_kwargs)
    other = Generator(**dict(tiny_g_kwargs, z_dim=8))
    with pytest.raises(ValueError, match="z_dim 32 vs 8"):
        parent_vs_child_grid(parent, other, tmp_path / "x.png", [0, 1])
    assert not (tmp_path / "x.png").exists()


def test_pipeline_task_draws_seeds_from_its_first_seed(tmp_path, tiny_g_kwargs):
    from tasks.finetune import parent_vs_child_grid as grid_task

    parent, child = randomize(Generator(**tiny_g_kwargs)), randomize(Generator(**tiny_g_kwargs))
    paths = [save_checkpoint(tmp_path / name, {"G_ema": G}) for name, G in (("p", parent), ("c", child))]
    out = grid_task.fn(str(paths[0]), str(paths[1]), str(tmp_path / "grid.png"), columns=3, seed=10,
                       truncation_psi=0.7)
    expect = [synthesize_seeds(G, [10, 11, 12], truncation_psi=0.7) for G in (parent, child)]
    assert np.array_equal(_png(out), np.concatenate([np.concatenate(list(images_to_uint8(rows)), axis=1)
                                                     for rows in expect]))
