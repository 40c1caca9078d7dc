"""Networks describe themselves: registered classes record their constructor arguments and save/load
through the checkpoint format without the checkpoint code knowing them."""
import inspect
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from stylealign_core import Discriminator, Generator
from stylealign_core.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from stylealign_core.registry import describe_network, lookup_network, register_network, registered_networks

SHIPPED_EXPORT = Path(__file__).resolve().parents[1] / "models" / "parent" / "emoji-noto-64" / "network.json"


@register_network
class TinyScorer(torch.nn.Module):
    """A network the checkpoint layer has never heard of: a linear layer, a gain and an integer buffer."""

    def __init__(self, in_features: int, hidden: list | None = None, gain: float = 1.0, **options):
        super().__init__()
        sizes = [in_features] + list(hidden or [])
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes, sizes[1:] + [1]))
        self.gain = gain
        self.options = options
        self.register_buffer("seen", torch.zeros([], dtype=torch.int64))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x * self.gain


def _randomized(module):
    with torch.no_grad():
        for t in module.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn_like(t))
            else:
                t.fill_(7)
    return module.eval()


def test_a_new_registered_network_round_trips_through_the_checkpoint_format(tmp_path):
    net = _randomized(TinyScorer(4, hidden=(8, 3), gain=2.5, temperature=0.5))
    assert net.config == {"in_features": 4, "hidden": [8, 3], "gain": 2.5, "temperature": 0.5}
    path = save_checkpoint(tmp_path / "scorer", {"S": net}, metadata={"kind": "scorer"})
    entry = json.loads(path.read_text())["networks"]["S"]
    assert entry["class"] == "TinyScorer" and entry["module"] == __name__ and entry["config"] == net.config

    loaded = load_checkpoint(path).networks["S"]
    assert type(loaded) is TinyScorer and loaded.config == net.config and loaded.options == {"temperature": 0.5}
    assert loaded.seen.dtype == torch.int64 and int(loaded.seen) == 7
    x = torch.randn(5, 4)
    torch.testing.assert_close(loaded(x), net(x), rtol=0, atol=0)


def test_a_constructor_argument_is_recorded_without_listing_it_anywhere():
    @register_network(name="TinyScorerV2")
    class TinyScorerV2(TinyScorer):
        def __init__(self, in_features: int, hidden: list | None = None, gain: float = 1.0, dropout: float = 0.0):
            super().__init__(in_features, hidden, gain)
            self.dropout = dropout

    net = TinyScorerV2(np.int64(3), dropout=0.25)  # a numpy scalar is recorded as a plain int
    assert net.config == {"in_features": 3, "hidden": None, "gain": 1.0, "dropout": 0.25}
    assert type(net.config["in_features"]) is int
    assert describe_network(net) == ("TinyScorerV2", net.config)
    assert lookup_network("TinyScorerV2") is TinyScorerV2 and registered_networks()["TinyScorer"] is TinyScorer


def test_generator_and_discriminator_record_every_constructor_argument(tmp_path, tiny_g_kwargs, tiny_d_kwargs):
    G = Generator(**tiny_g_kwargs, layer_features=16, use_noise=False)
    D = Discriminator(**tiny_d_kwargs, mbstd_group_size=2)
    for net, cls in ((G, Generator), (D, Discriminator)):
        params = list(inspect.signature(cls.__init__).parameters)[1:]
        assert list(net.config) == params
    assert G.config["layer_features"] == 16 and G.config["use_noise"] is False and D.config["mbstd_group_size"] == 2
    loaded = load_checkpoint(save_checkpoint(tmp_path / "gd", {"G": G, "D": D}))
    assert loaded.networks["G"].config == G.config and loaded.networks["D"].config == D.config
    assert not hasattr(loaded.networks["G"].synthesis.b4.conv1, "noise_const")  # use_noise=False came back


def test_files_without_the_module_field_still_load(tmp_path, tiny_g_kwargs):
    G = Generator(**tiny_g_kwargs)
    path = save_checkpoint(tmp_path / "g", {"G": G})
    doc = json.loads(path.read_text())
    del doc["networks"]["G"]["module"]  # as written before the registry existed
    path.write_text(json.dumps(doc))
    assert load_checkpoint(path).networks["G"].config == G.config


def test_an_existing_export_loads():
    ckpt = load_checkpoint(SHIPPED_EXPORT)  # written before the registry recorded module names
    assert {type(m).__name__ for m in ckpt.networks.values()} == {"Generator", "Discriminator"}
    assert ckpt.generator.config["img_resolution"] == 64


def test_an_unknown_class_in_a_file_names_the_class_and_how_to_register_it(tmp_path):
    path = save_checkpoint(tmp_path / "s", {"S": TinyScorer(2)})
    doc = json.loads(path.read_text())
    sys.modules.pop("json.tool", None)
    doc["networks"]["S"].update({"class": "Segmenter", "module": "json.tool"})
    path.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match=r"unknown network class 'Segmenter' \(defined in json\.tool\).*"
                                              r"registered: .*TinyScorer.*@register_network"):
        load_checkpoint(path)
    assert "json.tool" not in sys.modules  # only stylealign modules are imported on a file's word


def test_unregistered_modules_are_refused_with_the_fix(tmp_path, tiny_g_kwargs):
    class Shifted(Generator):  # a subclass is not its parent: its arguments were never recorded
        pass

    with pytest.raises(TypeError, match="Shifted is not a registered network.*@register_network"):
        Shifted(**tiny_g_kwargs).config
    for module in (Shifted(**tiny_g_kwargs), torch.nn.Linear(2, 2)):
        with pytest.raises(CheckpointError, match="cannot save a .*not a registered network.*@register_network"):
            save_checkpoint(tmp_path / "x", {"N": module})
    assert list(tmp_path.iterdir()) == []


def test_registration_rules_are_checked():
    with pytest.raises(TypeError, match=r"parameter\(s\) sizes cannot be passed by keyword"):
        @register_network
        class Star(torch.nn.Module):
            def __init__(self, *sizes):
                super().__init__()

    with pytest.raises(ValueError, match="'TinyScorer' is already registered for .*TinyScorer"):
        @register_network(name="TinyScorer")
        class Other(torch.nn.Module):
            pass

    with pytest.raises(TypeError, match="defines `config` itself"):
        @register_network
        class OwnConfig(torch.nn.Module):
            config = {}

    with pytest.raises(TypeError, match="not a JSON value"):
        TinyScorer(2, gain=torch.nn.Identity())
