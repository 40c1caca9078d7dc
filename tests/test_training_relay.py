"""Parent relay: resuming from a G_ema+D float16 export, the resumed_from chain, legs in the log and the
curves, and the resolved precision in config.json and the log."""
import json

import pandas as pd
import pytest
import torch

from stylealign_core.checkpoints import load_checkpoint, save_checkpoint
from stylealign_core.precision import resolve
from stylealign_core.reports.training_curves import leg_starts, plot_training_log
from stylealign_core.training.export import export_model
from stylealign_core.training.loop import train
from stylealign_core.training.rundir import RunDir
from stylealign_core.training.snapshots import list_snapshots
from test_training import blobs, cfg, state


@pytest.fixture(scope="module")
def first_leg(tmp_path_factory):
    """A 16-image run from scratch, exported (float16), as a relay's first seed."""
    root = tmp_path_factory.mktemp("relay")
    train(cfg(total_kimg=0.016), blobs(), root / "a", progress=False)
    return export_model(root / "a", root / "model-a", num_samples=4), root


def test_resume_from_g_ema_and_d_only_takes_g_from_g_ema(first_leg, tmp_path):
    model, _ = first_leg
    full = load_checkpoint(model)
    shipped = save_checkpoint(tmp_path / "shipped", {"G_ema": full.networks["G_ema"], "D": full.networks["D"]},
                              metadata=full.metadata, dtype="float16")
    result = train(cfg(total_kimg=0.016), blobs(), tmp_path / "run", resume=str(shipped), progress=False)
    want = state(load_checkpoint(shipped).networks["G_ema"])
    for name in ("G", "G_ema"):
        got = state(result[name])
        assert all(torch.equal(want[k], got[k]) for k in want), name
    more = train(cfg(total_kimg=0.020), blobs(), tmp_path / "more", resume=str(shipped), progress=False)
    assert more["kimg"] == pytest.approx(0.020)


def test_resumed_from_is_a_chain_back_to_the_first_seed(first_leg, tmp_path):
    model_a, _ = first_leg
    a = load_checkpoint(model_a, networks=())
    train(cfg(total_kimg=0.020), blobs(), tmp_path / "b", resume=str(model_a), progress=False)
    model_b = export_model(tmp_path / "b", tmp_path / "model-b", num_samples=4)
    b = load_checkpoint(model_b, networks=())
    result = train(cfg(total_kimg=0.024), blobs(), tmp_path / "c", resume=str(model_b), progress=False)
    want = [{"uri": str(model_b), "sha256": b.sha256, "kimg": 0.020}, {"uri": str(model_a), "sha256": a.sha256,
                                                                          "kimg": 0.016}]
    assert [{k: e[k] for k in ("uri", "sha256", "kimg")} for e in result["resumed_from"]] == want
    last = load_checkpoint(list_snapshots(tmp_path / "c")[-1] / "network.json", networks=())
    assert [e["sha256"] for e in last.metadata["resumed_from"]] == [b.sha256, a.sha256]


def test_an_old_single_dict_resumed_from_reads_as_a_one_element_chain(first_leg, tmp_path):
    model, _ = first_leg
    full = load_checkpoint(model)
    old = {"uri": "https://example.org/seed.pkl", "sha256": "ab" * 32, "format": "stylegan2-ada-pkl", "kimg": 0.0}
    ckpt = save_checkpoint(tmp_path / "old", full.networks, metadata=dict(full.metadata, resumed_from=old),
                           extra_tensors=full.extra)
    result = train(cfg(total_kimg=0.016), blobs(), tmp_path / "run", resume=str(ckpt), progress=False)
    assert len(result["resumed_from"]) == 2 and result["resumed_from"][1] == old
    assert result["resumed_from"][0]["uri"] == str(ckpt)


def test_legs_are_logged_and_drawn_and_precision_is_the_resolved_one(tmp_path):
    run = RunDir(tmp_path / "run")
    train(cfg(total_kimg=0.016, precision="auto"), blobs(), run.root, progress=False)
    train(cfg(total_kimg=0.032, precision="auto"), blobs(), run.root, resume="latest", progress=False)
    log = pd.read_parquet(run.log)
    assert log["leg"].tolist() == [0, 1] and log["leg_start_kimg"].tolist() == [0.0, 0.016]
    expected = resolve("cpu", "auto")
    assert expected != "auto" and set(log["precision"]) == {expected}
    assert json.loads(run.config.read_text())["train"]["precision"] == expected
    assert leg_starts(log) == [0.016]
    with_legs = plot_training_log(log, tmp_path / "legs.png").read_bytes()
    without = plot_training_log(log.drop(columns=["leg", "leg_start_kimg"]), tmp_path / "none.png").read_bytes()
    assert with_legs != without
    assert leg_starts(log.drop(columns=["leg_start_kimg"])) == []


def test_export_of_g_ema_and_d_resumes_and_its_card_shows_the_lineage(first_leg, tmp_path):
    """What the shipped parent is: export --networks G_ema,D (float16); the next leg resumes from it."""
    model_a, root = first_leg
    train(cfg(total_kimg=0.020), blobs(), tmp_path / "b", resume=str(model_a), progress=False)
    shipped = export_model(tmp_path / "b", tmp_path / "shipped", num_samples=4, networks=("G_ema", "D"))
    ckpt = load_checkpoint(shipped)
    assert sorted(ckpt.networks) == ["D", "G_ema"]
    card = (shipped / "MODEL_CARD.md").read_text()
    assert "Lineage" in card and str(model_a) in card and "kimg 0.016" in card
    result = train(cfg(total_kimg=0.024), blobs(), tmp_path / "c", resume=str(shipped), progress=False)
    assert result["kimg"] == pytest.approx(0.024)
    assert [e["kimg"] for e in result["resumed_from"]] == [0.020, 0.016]
    with pytest.raises(ValueError, match="include G_ema"):
        export_model(tmp_path / "b", tmp_path / "bad", networks=("G", "D"))


def test_a_child_fine_tunes_from_a_g_ema_and_d_export(first_leg, tmp_path):
    """The shipped parent holds G_ema and D only: fine-tuning (API and the pipeline's parent resolution)
    starts the child's G and G_ema from the parent's G_ema."""
    from stylealign_core.training.api import finetune_child
    from stylealign_core.training.parent import resolve_parent, resolved_checkpoint
    model_a, _ = first_leg
    shipped = export_model(model_a.parent / "a", tmp_path / "shipped", num_samples=4, networks=("G_ema", "D"))
    parent = load_checkpoint(shipped)
    from test_training_resume_check import make_dataset
    data = make_dataset(tmp_path / "data", 1)
    result = finetune_child(cfg(total_kimg=0.004), str(shipped), data, tmp_path / "child", progress=False)
    assert result["kimg"] == pytest.approx(0.004)
    resolve_parent(str(shipped / "network.json"), str(shipped / "network.json"), None, tmp_path / "resolved")
    got = load_checkpoint(resolved_checkpoint(tmp_path / "resolved"))
    assert sorted(got.networks) == ["D", "G", "G_ema"]
    want = state(parent.networks["G_ema"])
    assert all(torch.equal(want[k], state(got.networks["G"])[k]) for k in want)
