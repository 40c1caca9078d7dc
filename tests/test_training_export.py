"""`stylealign export`: a run's snapshot -> model directory (half-precision weights, samples, card)."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from stylealign.cli import main
from stylealign_core.checkpoints import load_checkpoint
from stylealign_core.training.loop import train
from stylealign_core.training.snapshots import list_snapshots

from test_training import blobs, cfg


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("export") / "run"
    train(cfg(), blobs(), run, progress=False,
          metadata={"kind": "parent", "recipe": {"data_name": "blobs-16", "num_images": 24, "commit": "abc"}})
    return run


def test_export_writes_model_directory(run_dir, tmp_path, capsys):
    out = tmp_path / "models" / "parent" / "tiny"
    assert main(["export", "--run", str(run_dir), "--out", str(out), "--samples", "6"]) == 0
    assert "exported" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["MODEL_CARD.md", "network.json", "network.safetensors",
                                                      "reals.png", "samples-trunc0.7.png", "samples.png",
                                                      "training-curves.png"]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "temporary directory left behind"
    snap = list_snapshots(run_dir)[-1]
    source = load_checkpoint(snap / "network.json")
    exported = load_checkpoint(out / "network.json")
    assert json.loads((out / "network.json").read_text())["tensors"]["stored_dtype"] == "float16"
    assert exported.metadata["kimg"] == pytest.approx(0.032) and exported.metadata["kind"] == "parent"
    assert exported.metadata["exported_from"]["sha256"] == source.sha256
    for name in ("G", "D", "G_ema"):
        for key, value in exported.networks[name].state_dict().items():
            assert torch.equal(value, source.networks[name].state_dict()[key].half().float()), (name, key)
    full, trunc = (np.asarray(Image.open(out / name)) for name in ("samples.png", "samples-trunc0.7.png"))
    assert full.shape == trunc.shape == (16, 6 * 16, 3)  # up to 8 per row
    assert not np.array_equal(full, trunc)  # pulled towards w_avg
    card = (out / "MODEL_CARD.md").read_text()
    assert "| kimg (images shown to D / 1000) | 0.032 |" in card and "`training-curves.png`" in card
    assert exported.sha256 in card and "stylealign train --data data/blobs-16" in card and "--cbase 128" in card


def test_export_refuses_to_overwrite_without_force(run_dir, tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["export", "--run", str(run_dir), "--out", str(out), "--samples", "2"]) == 0
    before = (out / "network.safetensors").read_bytes()
    assert main(["export", "--run", str(run_dir), "--out", str(out), "--samples", "2"]) == 2
    assert "--force" in capsys.readouterr().err
    first = list_snapshots(run_dir)[0]
    assert main(["export", "--run", str(run_dir), "--out", str(out), "--snapshot", str(first), "--samples", "2",
                 "--force", "--dtype", "float32"]) == 0
    assert (out / "network.safetensors").read_bytes() != before
    assert load_checkpoint(out / "network.json", networks=()).metadata["kimg"] == pytest.approx(0.016)


def test_export_of_a_run_without_snapshots_names_the_run(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["export", "--run", str(tmp_path / "empty"), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "no complete snapshot" in err and str(tmp_path / "empty") in err
    assert not (tmp_path / "m").exists()


def test_exported_parent_can_be_finetuned(run_dir, tmp_path):
    out = tmp_path / "parent"
    assert main(["export", "--run", str(run_dir), "--out", str(out), "--samples", "2"]) == 0
    parent = load_checkpoint(out / "network.json")
    result = train(cfg(total_kimg=0.008), blobs(seed=3), tmp_path / "child", parent=parent, progress=False)
    assert result["steps"] == 2
    assert any(not torch.equal(v, parent.networks["G"].state_dict()[k]) for k, v in result["G"].state_dict().items())


def _reparse(cmd: str):
    """The TrainConfig that `stylealign` builds from the first line of a reproduce command."""
    import shlex

    from stylealign.cli import build_parser
    from stylealign.train_cli import _config

    return _config(build_parser().parse_args(shlex.split(cmd.splitlines()[0])[1:]))


def test_reproduce_command_round_trips_through_the_cli():
    from stylealign_core.training.config import TrainConfig
    from stylealign_core.training.export import _reproduce_commands

    train = TrainConfig.from_dict({"ada_kimg": 100, "lr_g": 0.002, "lr_d": 0.002, "xflip": True, "batch": 16,
                                   "precision": "bf16", "snapshot_kimg": 4, "seed": 3, "r1_gamma": 0.05,
                                   "network": {"channel_base": 2048, "z_dim": 256, "mbstd_group_size": 2}})
    cmd = _reproduce_commands({"train": train.to_dict(), "data_name": "emoji-google-64"}, 200, "parent", "models/p")
    assert "--cbase 2048" in cmd and "--ada-kimg 100" in cmd and "--lr 0.002" in cmd and "--mirror" in cmd
    assert "--target" not in cmd and "--aug" not in cmd and "--cmax" not in cmd  # defaults stay implicit
    assert cmd.splitlines()[-1] == "stylealign export --run runs/parent --out models/p"
    again = _reparse(cmd)
    assert again.to_dict() == dict(train.to_dict(), total_kimg=200.0)


def test_child_reproduce_command_is_a_finetune_with_its_freezing():
    from stylealign_core.training.config import TrainConfig
    from stylealign_core.training.export import _reproduce_commands

    train = TrainConfig.from_dict({"batch": 8, "network": {"channel_base": 2048},  # the parent's, not a flag
                                   "finetune": {"freeze": ["mapping", "affine"],
                                                "freeze_resolutions": [4, 8], "freeze_d": 2},
                                   "ema_rampup": 0.0})
    cmd = _reproduce_commands({"train": train.to_dict(), "data_name": "emoji-twitter-64"}, 20, "child", "models/c",
                              parent={"uri": "models/parent/p/network.json", "sha256": "00"})
    assert cmd.startswith("stylealign finetune --parent models/parent/p/network.json ")
    assert "--freeze mapping,affine" in cmd and "--freeze-res 4,8" in cmd and "--freezed 2" in cmd
    assert "--ema-rampup 0 " in cmd  # the default child's setting: no EMA ramp-up
    assert "--cbase" not in cmd
    args = _reparse(cmd)
    assert args.to_dict() == dict(train.to_dict(), total_kimg=20.0, network=TrainConfig().to_dict()["network"])


def test_every_config_flag_exists_on_the_cli():
    from stylealign.cli import build_parser
    from stylealign_core.training.config import CLI_FLAGS

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices
    for verb in ("train", "finetune"):
        options = {o for action in sub[verb]._actions for o in action.option_strings}
        skip = "network." if verb == "finetune" else "finetune."  # a child has its parent's architecture
        expected = {f for k, f in CLI_FLAGS.items() if not k.startswith(skip)}
        assert expected <= options, (verb, sorted(expected - options))


def test_bad_freeze_res_names_the_key():
    from stylealign_core.training.config import ConfigError

    with pytest.raises(ConfigError, match="freeze_resolutions.*4,8"):
        _reparse("stylealign finetune --parent p --data d --out o --freeze-res four")
