"""Resolving a parent into a model directory: init, conversion, the up-to-date check, atomic replacement."""
import json
import os

import pytest
import torch

from stylealign_core import Discriminator, Generator
from stylealign_core.checkpoints import CheckpointError, load_checkpoint, save_checkpoint, sha256_file
from stylealign_core.training.parent import LINEAGE_NAME, resolve_parent, resolved_checkpoint

INIT = {"seed": 3, "resolution": 16,
        "network": {"z_dim": 32, "w_dim": 32, "mapping_layers": 2, "channel_base": 256, "channel_max": 32}}


def test_an_init_parent_is_written_once_and_kept_while_the_request_is_the_same(tmp_path):
    out = tmp_path / "parent-resolved"
    first = resolve_parent("init", None, None, out, init=INIT)
    assert first.rebuilt and sorted(os.listdir(out)) == [LINEAGE_NAME, "network.json", "network.safetensors"]
    assert os.listdir(tmp_path) == ["parent-resolved"]  # no staging directory left
    lineage = json.loads((out / LINEAGE_NAME).read_text())
    assert lineage == first.lineage and lineage["source"] == {"uri": "init", "format": "init", "sha256": None}
    assert lineage["resolved"]["sha256"] == sha256_file(out / "network.safetensors")
    ckpt = load_checkpoint(resolved_checkpoint(out))
    assert sorted(ckpt.networks) == ["D", "G", "G_ema"] and ckpt.generator.config["img_resolution"] == 16
    assert ckpt.generator.config["z_dim"] == 32 and ckpt.metadata == {"kind": "parent", "init": INIT}

    again = resolve_parent("init", None, None, out, init=INIT)
    assert not again.rebuilt and again.lineage == first.lineage
    other = resolve_parent("init", None, None, out, init=dict(INIT, seed=4))  # another request: replaced
    assert other.rebuilt and other.lineage["resolved"]["sha256"] != first.lineage["resolved"]["sha256"]
    assert resolve_parent("init", None, None, out, init=dict(INIT, seed=3)).lineage["resolved"]["sha256"] == \
        first.lineage["resolved"]["sha256"]  # the same seed gives the same bytes


def test_a_checkpoint_is_converted_with_g_ema_from_g_and_its_ancestors(tmp_path, tiny_g_kwargs, tiny_d_kwargs):
    G, D = Generator(**tiny_g_kwargs), Discriminator(**tiny_d_kwargs)
    grandparent = {"uri": "models/root.json", "sha256": "ab" * 32}
    src = save_checkpoint(tmp_path / "src", {"G": G, "D": D}, metadata={"kind": "child", "parent": grandparent})
    out = tmp_path / "resolved"
    result = resolve_parent("src.json", str(src), None, out)
    assert result.rebuilt and result.lineage["ancestors"] == [grandparent]
    assert result.lineage["source"]["format"] == "stylealign"
    assert result.lineage["request"]["source"] == {"sha256": sha256_file(tmp_path / "src.safetensors")}
    nets = load_checkpoint(resolved_checkpoint(out)).networks
    for key, value in G.state_dict().items():
        torch.testing.assert_close(nets["G_ema"].state_dict()[key], value, rtol=0, atol=0)

    with torch.no_grad():  # the source file changes: the resolved parent follows
        G.mapping.fc0.weight.add_(1)
    save_checkpoint(tmp_path / "src", {"G": G, "D": D})
    assert resolve_parent("src.json", str(src), None, out).rebuilt


def test_a_checkpoint_without_d_is_refused_and_the_old_parent_stays(tmp_path, tiny_g_kwargs):
    out = tmp_path / "resolved"
    before = resolve_parent("init", None, None, out, init=INIT).lineage
    only_g = save_checkpoint(tmp_path / "g", {"G_ema": Generator(**tiny_g_kwargs)})
    with pytest.raises(CheckpointError, match="fine-tuning needs the parent's D network"):
        resolve_parent("g.json", str(only_g), None, out)
    with pytest.raises(CheckpointError, match="parent.uri 'nothing.json': manifest not found"):
        resolve_parent("nothing.json", str(tmp_path / "nothing.json"), None, out)
    assert json.loads((out / LINEAGE_NAME).read_text()) == before
    assert sorted(os.listdir(tmp_path)) == ["g.json", "g.safetensors", "resolved"]
