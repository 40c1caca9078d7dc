"""`stylealign translate` and `stylealign morph` end to end on tiny checkpoints."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from editing_helpers import paired_dataset, tiny_pair
from stylealign.cli import main
from stylealign_core.checkpoints import save_checkpoint
from stylealign_core.generator import Generator
from stylealign_core.latents import z_from_seeds


@pytest.fixture
def checkpoints(tmp_path, tiny_g_kwargs):
    parent, child = tiny_pair(tiny_g_kwargs)
    save_checkpoint(tmp_path / "parent", {"G_ema": parent})
    save_checkpoint(tmp_path / "child", {"G_ema": child})
    return str(tmp_path / "parent.json"), str(tmp_path / "child.json"), parent, child


def test_translate_seeds_writes_images_sheet_and_table(tmp_path, checkpoints, capsys):
    parent_ckpt, child_ckpt, parent, child = checkpoints
    out = tmp_path / "tr"
    args = ["translate", "--parent", parent_ckpt, "--child", child_ckpt, "--seeds", "0-2", "--out", str(out),
            "--no-progress"]
    assert main(args) == 0
    items = pd.read_parquet(out / "translations.parquet")
    assert items["id"].tolist() == ["seed0", "seed1", "seed2"]
    expected = child.synthesize(z_from_seeds([1], child.z_dim), space="z", truncation_psi=0.5)
    got = torch.from_numpy(np.array(Image.open(out / items["translation"][1]))).float()
    want = ((expected[0].clamp(-1, 1) + 1) * 127.5).round().permute(1, 2, 0)
    assert (got - want).abs().max() <= 1
    with Image.open(out / "contact_sheet.png") as sheet:
        assert sheet.size == (6 * 18 + 2, 18 + 2)  # 3 items of source | translation in a row, 2 px padding
    run = json.loads((out / "run.json").read_text())
    assert run["direction"] == "parent -> child" and run["truncation_psi"] == 0.5 and run["space"] == "z"
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err


def test_unaligned_checkpoints_are_refused(tmp_path, checkpoints, tiny_g_kwargs, capsys):
    parent_ckpt = checkpoints[0]
    save_checkpoint(tmp_path / "other", {"G_ema": Generator(**{**tiny_g_kwargs, "channel_max": 16})})
    code = main(["morph", "--parent", parent_ckpt, "--child", str(tmp_path / "other.json"), "--seeds", "1,2",
                 "--out", str(tmp_path / "m"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "not an aligned pair (channel_max: parent 32, child 16)" in err
    assert not (tmp_path / "m").exists()


def test_morph_writes_gif_strip_and_record(tmp_path, checkpoints):
    parent_ckpt, child_ckpt, _, _ = checkpoints
    out = tmp_path / "morph"
    assert main(["morph", "--parent", parent_ckpt, "--child", child_ckpt, "--seeds", "4,9", "--frames", "6",
                 "--scale", "2", "--strip-frames", "3", "--weight-order", "coarse-to-fine", "--out", str(out),
                 "--no-progress"]) == 0
    with Image.open(out / "morph.gif") as gif:
        assert gif.n_frames == 6 and gif.size == (32, 32)
    with Image.open(out / "strip.png") as strip:
        assert strip.size == (3 * 18 + 2, 20)
    run = json.loads((out / "run.json").read_text())
    assert run["a"] == "seed4" and run["b"] == "seed9" and run["windows"]["4"] == [0.0, 1 / 3]
    assert (out / "morph.mp4").exists() == (run["mp4"] == "morph.mp4")


def _write_latents(path, ids, space, latents, sha):
    """A real latents table (the inversion package's format) holding ``latents`` for ``ids``."""
    from stylealign_core.inversion import LatentsTable, write_latents
    write_latents(path, LatentsTable(list(ids), space, latents.detach().float(), sha, "test"))


def test_translate_latents_table_scored_against_ground_truth(tmp_path, checkpoints, capsys):
    from stylealign_core.checkpoints import load_checkpoint
    parent_ckpt, child_ckpt, parent, _ = checkpoints
    groups = {"A": ["A", "A-1"], "B": ["B"], "C": ["C"], "D": ["D"]}
    test_ids = {"A": "test", "A-1": "test", "B": "test"}
    truth = paired_dataset(tmp_path / "truth", 1, groups, test_ids)
    inputs = paired_dataset(tmp_path / "inputs", 2, groups, test_ids)
    w = parent.w_to_wplus(parent.z_to_w(z_from_seeds(range(3), parent.z_dim)))
    sha = load_checkpoint(parent_ckpt, networks=()).sha256
    _write_latents(tmp_path / "lat.parquet", ["A", "A-1", "B"], "w+", w, sha)
    out = tmp_path / "scored"
    assert main(["translate", "--parent", parent_ckpt, "--child", child_ckpt, "--latents",
                 str(tmp_path / "lat.parquet"), "--truth", str(truth), "--inputs", str(inputs), "--metric", "none",
                 "--boot", "50", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "3 items, 2 base_id groups" in printed and "nearest_train" in printed
    scores = pd.read_parquet(out / "scores.parquet")
    assert len(scores) == 15 and set(scores.loc[scores["method"] == "nearest_train", "nearest_id"]) <= {"C", "D"}
    summary = json.loads((out / "summary.json").read_text())
    assert {r["method"] for r in summary} == {"translation", "input", "random_sample", "nearest_train", "mean_image"}
    run = json.loads((out / "run.json").read_text())
    assert run["truncation_psi"] == 1.0 and run["scoring"]["inputs"] == str(inputs)
    with Image.open(out / "contact_sheet.png") as sheet:
        assert sheet.size[0] == 3 * 4 * 18 + 2  # 3 items of input | source | translation | truth
    # a table inverted in another generator is refused for this source
    _write_latents(tmp_path / "lat2.parquet", ["A"], "w+", w[:1], "0" * 64)
    assert main(["translate", "--parent", parent_ckpt, "--child", child_ckpt, "--latents",
                 str(tmp_path / "lat2.parquet"), "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "was inverted in the generator with sha256 0000" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [(["--seeds", "0-1", "--truth", "data"], "use --latents"),
                                            (["--seeds", "0-1", "--inputs", "data"], "add --truth"),
                                            (["--seeds", "0-1", "--blend", "1"], "add --swap-res"),
                                            (["--seeds", "0-1", "--swap-res", "12"], "not a synthesis resolution")])
def test_translate_refuses_settings_that_do_not_fit(tmp_path, checkpoints, capsys, extra, message):
    parent_ckpt, child_ckpt, _, _ = checkpoints
    assert main(["translate", "--parent", parent_ckpt, "--child", child_ckpt, "--out", str(tmp_path / "o"),
                 "--no-progress", *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_morph_between_codes_of_two_tables(tmp_path, checkpoints):
    from stylealign_core.checkpoints import load_checkpoint
    parent_ckpt, child_ckpt, parent, child = checkpoints
    shas = {p: load_checkpoint(p, networks=()).sha256 for p in (parent_ckpt, child_ckpt)}
    w_parent = parent.z_to_w(z_from_seeds([1], parent.z_dim))
    w_child = child.z_to_w(z_from_seeds([2], child.z_dim))
    for name, w, sha in (("a", w_parent, shas[parent_ckpt]), ("b", w_child, shas[child_ckpt])):
        _write_latents(tmp_path / f"{name}.parquet", ["x", "y"], "w", torch.cat([w, w]), sha)
    out = tmp_path / "m"
    assert main(["morph", "--parent", parent_ckpt, "--child", child_ckpt, "--latents", str(tmp_path / "a.parquet"),
                 "--latents-b", str(tmp_path / "b.parquet"), "--ids", "x,y", "--frames", "3", "--scale", "1",
                 "--out", str(out), "--no-progress"]) == 0
    with Image.open(out / "morph.gif") as gif:
        assert gif.n_frames == 3
        gif.seek(2)
        last = torch.from_numpy(np.array(gif.convert("RGB"))).float()
    want = ((child.synthesize(w_child, space="w")[0].clamp(-1, 1) + 1) * 127.5).permute(1, 2, 0)
    assert (last - want).abs().mean() < 8  # GIF palette quantisation: close, not exact
    # the child's table used for the parent's end is refused (inverted in another generator)
    assert main(["morph", "--parent", parent_ckpt, "--child", child_ckpt, "--latents", str(tmp_path / "b.parquet"),
                 "--ids", "x,y", "--out", str(tmp_path / "m2"), "--no-progress"]) == 2
