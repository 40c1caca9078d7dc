"""Data set inversion: tables, reconstructions, cache, shards and merge, bad input, killed runs, the CLI."""

import numpy as np
import pytest
import torch
from PIL import Image

from stylealign.cli import main
from stylealign_core.checkpoints import save_checkpoint
from stylealign_core.generator import Generator
from stylealign_core.inversion import (InversionError, InvertOptions, LatentsCache, ProjectorSettings, invert_dataset,
                                       merge_shards, read_latents)
from stylealign_core.inversion import run as run_module
from stylealign_core.inversion.images import ResizedImageWarning

from test_inversion_projector import tiny_metric
from services import require_stlpips

SHA = "12" * 32


@pytest.fixture
def tiny_G(tiny_g_kwargs):
    torch.manual_seed(0)
    return Generator(**tiny_g_kwargs).eval()


def _write_images(folder, count=4, size=16, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"im{i}.png")
    return folder


def _options(tmp_path, cache="cache", **kw):
    settings = ProjectorSettings(space="w", steps=kw.pop("steps", 2), stats_samples=200)
    return InvertOptions(settings=settings, batch=kw.pop("batch", 2), cache=LatentsCache(tmp_path / cache), **kw)


def test_invert_folder_writes_table_reconstructions_and_sheet(tiny_G, tmp_path):
    data = _write_images(tmp_path / "data", count=3)
    result = invert_dataset(tiny_G, SHA, data, tmp_path / "out", tiny_metric(), _options(tmp_path))
    table = read_latents(tmp_path / "out" / "latents.parquet")
    assert table.ids == ["im0", "im1", "im2"] and table.space == "w"
    assert table.latents.shape == (3, tiny_G.w_dim) and table.metric == "test-random"
    assert table.generator_sha256 == SHA
    assert table.columns["steps"] == [2] * 3 and table.columns["method"] == ["project"] * 3
    assert result.computed == 3 and result.cached == 0
    assert sorted(p.name for p in (tmp_path / "out" / "reconstructions").iterdir()) == [f"im{i}.png" for i in range(3)]
    sheet = Image.open(tmp_path / "out" / "contact_sheet.png")
    assert sheet.size[0] > sheet.size[1]  # 3 pairs side by side: input | reconstruction


def test_rerun_is_served_by_the_cache(tiny_G, tmp_path, monkeypatch):
    data = _write_images(tmp_path / "data", count=2)
    first = invert_dataset(tiny_G, SHA, data, tmp_path / "a", tiny_metric(), _options(tmp_path))

    def no_projection(*args, **kwargs):
        raise AssertionError("a cached image was optimised again")
    monkeypatch.setattr(run_module, "project", no_projection)
    again = invert_dataset(tiny_G, SHA, data, tmp_path / "b", tiny_metric(), _options(tmp_path))
    assert again.computed == 0 and again.cached == 2
    torch.testing.assert_close(again.table.latents, first.table.latents)
    # another generator (sha) or other settings are other cache keys
    monkeypatch.undo()
    other = invert_dataset(tiny_G, "ff" * 32, data, tmp_path / "c", tiny_metric(), _options(tmp_path))
    assert other.computed == 2


def test_shards_merge_to_the_whole_run(tiny_G, tmp_path):
    data = _write_images(tmp_path / "data", count=3)
    whole = invert_dataset(tiny_G, SHA, data, tmp_path / "whole", tiny_metric(), _options(tmp_path, "cache-a"))
    out = tmp_path / "sharded"
    for i in (1, 0):  # finishing order does not matter
        part = invert_dataset(tiny_G, SHA, data, out, tiny_metric(), _options(tmp_path, "cache-b", shard=(i, 2)))
        assert part.table_path.name == f"shard-{i:05d}-of-00002.parquet"
    assert not (out / "latents.parquet").exists()
    merged, path = merge_shards(out)
    assert merged.ids == whole.table.ids
    torch.testing.assert_close(merged.latents, whole.table.latents, atol=1e-4, rtol=1e-4)
    assert read_latents(path).ids == whole.table.ids


def test_merge_refuses_missing_shards(tiny_G, tmp_path):
    data = _write_images(tmp_path / "data", count=3)
    invert_dataset(tiny_G, SHA, data, tmp_path / "out", tiny_metric(), _options(tmp_path, shard=(0, 3)))
    with pytest.raises(InversionError, match=r"shard\(s\) 1, 2 of 3"):
        merge_shards(tmp_path / "out")
    with pytest.raises(InversionError, match="no shard tables"):
        merge_shards(tmp_path / "empty")


def test_killed_run_leaves_no_table_and_resumes(tiny_G, tmp_path, monkeypatch):
    data = _write_images(tmp_path / "data", count=4)
    real_project, calls = run_module.project, []

    def dies_on_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_project(*args, **kwargs)
    monkeypatch.setattr(run_module, "project", dies_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        invert_dataset(tiny_G, SHA, data, tmp_path / "out", tiny_metric(), _options(tmp_path))
    assert not (tmp_path / "out" / "latents.parquet").exists()
    monkeypatch.undo()
    resumed = invert_dataset(tiny_G, SHA, data, tmp_path / "out", tiny_metric(), _options(tmp_path))
    assert (resumed.computed, resumed.cached) == (2, 2)  # the first batch came from the cache


def test_bad_input_resized_skipped_refused_empty(tiny_G, tmp_path):
    data = _write_images(tmp_path / "data", count=2)
    Image.fromarray(np.full((20, 24, 3), 200, np.uint8)).save(data / "big.png")
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.warns(ResizedImageWarning, match="big.png"):
        result = invert_dataset(tiny_G, SHA, data, tmp_path / "out", tiny_metric(), _options(tmp_path, steps=1))
    assert result.table.ids == ["big", "im0", "im1"]
    assert [name for name, _ in result.skipped] == ["broken.png"]
    with pytest.raises(InversionError, match="broken.png.*--strict"):
        invert_dataset(tiny_G, SHA, data, tmp_path / "strict", tiny_metric(), _options(tmp_path, strict=True))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InversionError, match="no images to invert"):
        invert_dataset(tiny_G, SHA, tmp_path / "empty", tmp_path / "o2", tiny_metric(), _options(tmp_path))


def test_cli_invert_shard_and_merge(tiny_G, tmp_path, capsys):
    require_stlpips()
    data = _write_images(tmp_path / "data", count=2)
    network = save_checkpoint(tmp_path / "G", {"G_ema": tiny_G})
    common = ["invert", "--data", str(data), "--network", str(network), "--space", "w+", "--steps", "2",
              "--metric", "stlpips-alex", "--cache-dir", str(tmp_path / "cache"), "--no-progress",
              "--out", str(tmp_path / "out")]
    for i in range(2):
        assert main(common + ["--shard", f"{i}/2"]) == 0
    assert main(["invert", "--merge", "--out", str(tmp_path / "out")]) == 0
    table = read_latents(tmp_path / "out" / "latents.parquet")
    assert table.space == "w+" and table.latents.shape == (2, tiny_G.num_ws, tiny_G.w_dim)
    assert table.metric == "stlpips-alex" and len(table.generator_sha256) == 64
    assert main(common) == 0  # the whole run: every image from the cache
    assert "(0 optimised, 2 from cache" in capsys.readouterr().out
    assert main(["invert", "--merge", "--out", str(tmp_path / "nothing")]) == 2
    assert "no shard tables" in capsys.readouterr().err
