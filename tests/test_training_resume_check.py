"""Resuming a run with another parent, data set or settings is an error naming what changed, for every
entry point (API, CLI, pipeline task); a matching resume continues."""
import json

import pytest

from stylealign.cli import main as cli_main
from stylealign_core.checkpoints import load_checkpoint
from stylealign_core.training.api import finetune_child, train_parent
from stylealign_core.training.config import TrainConfig
from stylealign_core.training.resume import ResumeMismatch, resume_mismatches
from stylealign_core.training.snapshots import list_snapshots
from test_training import blob_dataset, cfg

TINY_FLAGS = ["--kimg", "0.008", "--batch", "4", "--snapshot-kimg", "0.004", "--grid", "2", "--no-progress"]


def make_dataset(path, seed):
    return blob_dataset(path, seed, 8)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two parents (other seeds) and a child of parent A with snapshots at 4 and 8 images."""
    root = tmp_path_factory.mktemp("resume-check")
    data_p, data_c = make_dataset(root / "data-p", 0), make_dataset(root / "data-c", 1)
    parent_a = train_parent(cfg(total_kimg=0.004), data_p, root / "parent-a", progress=False)["checkpoint"]
    parent_b = train_parent(cfg(total_kimg=0.004, seed=1), data_p, root / "parent-b", progress=False)["checkpoint"]
    finetune_child(cfg(total_kimg=0.008, snapshot_kimg=0.004), parent_a, data_c, root / "child", progress=False)
    return dict(root=root, data_p=data_p, data_c=data_c, parent_a=parent_a, parent_b=parent_b, child=root / "child")


def test_api_resume_with_another_parent_fails_naming_it_and_the_fix(runs):
    before = [s.name for s in list_snapshots(runs["child"])]
    with pytest.raises(ResumeMismatch, match=r"parent: sha256 .* -> .*parent-b") as err:
        finetune_child(cfg(total_kimg=0.012, snapshot_kimg=0.004), runs["parent_b"], runs["data_c"], runs["child"],
                       resume="latest", progress=False)
    assert "another directory" in str(err.value) and "--resume" in str(err.value)
    assert [s.name for s in list_snapshots(runs["child"])] == before  # nothing trained, nothing written
    with pytest.raises(ResumeMismatch, match=r"data: data-c \(8 images\) -> data-p \(8 images\)"):
        finetune_child(cfg(total_kimg=0.012, snapshot_kimg=0.004), runs["parent_a"], runs["data_p"], runs["child"],
                       resume="latest", progress=False)
    with pytest.raises(ResumeMismatch, match=r"kind: child -> parent"):
        train_parent(cfg(total_kimg=0.012, snapshot_kimg=0.004), runs["data_c"], runs["child"], resume="latest",
                     progress=False)
    with pytest.raises(ResumeMismatch, match=r"train\.seed: 0 -> 3"):
        finetune_child(cfg(total_kimg=0.012, snapshot_kimg=0.004, seed=3), runs["parent_a"], runs["data_c"],
                       runs["child"], resume="latest", progress=False)


def test_cli_resume_with_another_parent_exits_2_naming_it(runs, capsys):
    argv = ["finetune", "--parent", runs["parent_b"] + ".json", "--data", str(runs["data_c"]), "--out",
            str(runs["child"]), "--resume", "latest", *TINY_FLAGS]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("stylealign: error: ") and "parent: sha256" in err and "parent-b" in err


def test_matching_resume_continues_and_allowed_changes_pass(runs, tmp_path):
    import shutil
    run = tmp_path / "child"
    shutil.copytree(runs["child"], run)
    # a longer run, another learning rate and precision: the same run, continued
    result = finetune_child(cfg(total_kimg=0.012, snapshot_kimg=0.004, lr_g=0.002), runs["parent_a"], runs["data_c"],
                            run, resume="latest", progress=False)
    assert result["kimg"] == pytest.approx(0.012) and result["steps"] == 3


def test_pipeline_task_uses_the_core_check_with_its_stricter_policy(runs):
    from tasks.finetune import _check_resumable
    with pytest.raises(ResumeMismatch, match=r"parent: sha256.*finetune.resume: null"):
        _check_resumable(runs["child"], cfg(total_kimg=0.012), "0" * 64, str(runs["data_c"]))
    with pytest.raises(ResumeMismatch, match=r"train\.lr_g: 0\.0025 -> 0\.002"):  # the core allows it, the pipeline not
        _check_resumable(runs["child"], cfg(total_kimg=0.012, lr_g=0.002), _sha(runs["parent_a"]), str(runs["data_c"]))
    _check_resumable(runs["child"], cfg(total_kimg=0.5), _sha(runs["parent_a"]), str(runs["data_c"]))


def test_pipeline_train_child_refuses_another_parent_and_continues_with_its_own(runs, tmp_path, caplog):
    import json
    import logging
    import shutil

    from tasks.finetune import train_child
    run = tmp_path / "child"
    shutil.copytree(runs["child"], run)
    train = json.loads(json.dumps(cfg(total_kimg=0.012, snapshot_kimg=0.004).to_dict()))
    with pytest.raises(ResumeMismatch, match="parent: sha256"):
        train_child.fn(train, runs["parent_b"], _sha(runs["parent_b"]), str(runs["data_c"]), str(run), "latest", 1)
    pipeline_log = logging.getLogger("stylealign.pipeline")  # the tasks' logger outside a flow run
    pipeline_log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger=pipeline_log.name):
            summary = train_child.fn(train, runs["parent_a"], _sha(runs["parent_a"]), str(runs["data_c"]),
                                     str(run), "latest", 1)
    finally:
        pipeline_log.removeHandler(caplog.handler)
    assert summary["kimg"] == pytest.approx(0.012) and summary["steps"] == 3
    # progress in the stage's log, one line per tick (no terminal for a progress bar under dvc/Prefect)
    assert "finetune: 0.012/0.012 kimg (100%)" in caplog.text and "min left; loss_G" in caplog.text


def _sha(checkpoint):
    from stylealign_core.checkpoints import load_checkpoint
    return load_checkpoint(checkpoint, networks=()).sha256


def test_resume_mismatches_reads_auto_values_and_moved_data_as_unchanged():
    recorded = {"r1_gamma": 0.0128, "ema_kimg": 0.125, "batch": 4}
    meta = {"recipe": {"data": "/old/place/emoji", "data_name": "emoji", "num_images": 10}}
    moved = {"recipe": {"data": "/new/place/emoji", "data_name": "emoji", "num_images": 10}}
    assert resume_mismatches(recorded, meta, {"r1_gamma": "auto", "ema_kimg": None, "batch": 4}, moved) == []
    assert resume_mismatches(recorded, meta, {"batch": 8}, moved) == ["train.batch: 4 -> 8"]


def test_a_child_records_its_parents_architecture_not_the_defaults(runs, tmp_path):
    """The child's recipe (config.json, checkpoints) holds the network it really has, its parent's, even when
    its settings carry the default architecture (`stylealign finetune` has no architecture flags)."""
    defaults = cfg(total_kimg=0.004).replace(network=TrainConfig().network.model_dump())
    finetune_child(defaults, runs["parent_a"], runs["data_c"], tmp_path / "child", progress=False)
    recorded = json.loads((tmp_path / "child" / "config.json").read_text())["train"]["network"]
    parent_g = load_checkpoint(runs["parent_a"], networks=["G"]).networks["G"].config
    keys = ("z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max")
    assert {k: recorded[k] for k in keys} == {k: parent_g[k] for k in keys}
    assert recorded["z_dim"] != TrainConfig().network.z_dim  # the tiny parent is not the default architecture
