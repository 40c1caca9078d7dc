"""Weights-only resume (stylegan2-ada-pytorch's ``--resume PKL``): from an exported model or any checkpoint
with G and D, continuing at its recorded kimg with fresh optimizer states."""
import pytest
import torch

from stylealign_core.checkpoints import load_checkpoint, save_checkpoint
from stylealign_core.training.export import export_model
from stylealign_core.training.loop import train
from stylealign_core.training.snapshots import SnapshotError, list_snapshots
from test_training import blobs, cfg, state


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A 16-image run exported at float16 (what `stylealign export` ships), and the run itself."""
    root = tmp_path_factory.mktemp("resume")
    train(cfg(total_kimg=0.016), blobs(), root / "run", progress=False)
    return export_model(root / "run", root / "model", num_samples=4), root / "run"


def test_resume_from_an_exported_model_loads_its_weights_p_and_progress(exported, tmp_path):
    model, run = exported
    ckpt = load_checkpoint(model)
    # total == the model's kimg: nothing to train, so the networks are exactly what was loaded
    result = train(cfg(total_kimg=0.016), blobs(), tmp_path / "same", resume=str(model), progress=False)
    assert result["kimg"] == pytest.approx(0.016) and result["steps"] == 4
    for name in ("G", "D", "G_ema"):
        want, got = state(ckpt.networks[name]), state(result[name])
        assert all(torch.equal(want[k], got[k]) for k in want), name
    assert result["resumed_from"] == [dict(ckpt.lineage(), kimg=0.016)]  # a chain: the model recorded no resume
    # the snapshot that was exported had moved p away from its start; the resumed run starts from it
    p = float(ckpt.extra["augment_pipe.p"])
    more = train(cfg(total_kimg=0.020, augment_p=0.9, ada_kimg=1e9), blobs(), tmp_path / "more",
                 resume=str(model), progress=False)
    assert more["steps"] == 5 and more["kimg"] == pytest.approx(0.020)
    last = load_checkpoint(list_snapshots(tmp_path / "more")[-1] / "network.json", networks=())
    assert last.metadata["resumed_from"][0]["sha256"] == ckpt.sha256
    assert float(last.extra["augment_pipe.p"]) == pytest.approx(p, abs=1e-6)   # ada_kimg 1e9: p frozen
    assert p != pytest.approx(0.9)


def test_exact_resume_after_a_weights_resume_keeps_the_lineage(exported, tmp_path):
    model, _ = exported
    train(cfg(total_kimg=0.020), blobs(), tmp_path / "run", resume=str(model), progress=False)
    result = train(cfg(total_kimg=0.024), blobs(), tmp_path / "run", resume="latest", progress=False)
    assert result["kimg"] == pytest.approx(0.024)
    last = load_checkpoint(list_snapshots(tmp_path / "run")[-1] / "network.json", networks=())
    assert last.metadata["resumed_from"][0]["uri"] == str(model)


def test_resume_from_a_checkpoint_without_d_or_with_other_settings_fails_naming_it(exported, tmp_path):
    model, _ = exported
    ckpt = load_checkpoint(model)
    g_only = save_checkpoint(tmp_path / "g-only", {"G_ema": ckpt.networks["G_ema"]})
    with pytest.raises(ValueError, match=r"g-only.*needs D and G \(or G_ema\).*lacks \['D', 'G'\]"):
        train(cfg(), blobs(), tmp_path / "a", resume=str(g_only), progress=False)
    with pytest.raises(ValueError, match="does not fit this run's network settings"):
        train(cfg(network=dict(channel_max=32)), blobs(), tmp_path / "b", resume=str(model), progress=False)
    with pytest.raises(SnapshotError, match="snapshot-000000999: not a complete training snapshot"):
        train(cfg(), blobs(), tmp_path / "c", resume=str(tmp_path / "c" / "snapshot-000000999"), progress=False)
