"""Relative weight change per tensor, layer and component; the component map; the aligned-pair check."""
import copy
import math

import pytest
import torch

from stylealign_core.analysis import (ANALYSIS_COMPONENTS, check_aligned, component_changes, component_map,
                                      layer_changes, lr_multiplier_of, tensor_changes, weight_change_headline)
from stylealign_core.components import COMPONENTS, component_of
from stylealign_core.errors import InputMismatch
from stylealign_core.generator import Generator

from analysis_helpers import perturbed_child, tiny_parent


def test_component_map_covers_every_parameter_exactly_once_and_refines_the_freeze_components(tiny_g_kwargs):
    G = Generator(**tiny_g_kwargs)
    names = [n for n, _ in G.named_parameters()]
    mapping = component_map(G)
    assert list(mapping) == names and len(set(names)) == len(names)
    assert set(mapping.values()) == set(ANALYSIS_COMPONENTS)
    for name, component in mapping.items():  # refines the freeze components: noise and const are part of conv
        assert component_of(name) == (component if component in COMPONENTS else "conv")
    assert mapping["synthesis.b4.const"] == "const"
    assert mapping["synthesis.b8.conv0.noise_strength"] == "noise"
    assert mapping["synthesis.b8.conv0.affine.weight"] == "affine"
    assert mapping["synthesis.b8.torgb.affine.bias"] == "affine"
    assert mapping["synthesis.b8.torgb.weight"] == "torgb"
    assert mapping["synthesis.b8.conv1.weight"] == "conv"
    assert mapping["mapping.fc1.bias"] == "mapping"
    buffers = component_map(G, buffers=True)
    assert buffers["mapping.w_avg"] == "mapping" and buffers["synthesis.b8.conv0.noise_const"] == "noise"


def test_lr_multiplier_is_the_mapping_networks_and_one_elsewhere(tiny_g_kwargs):
    G = Generator(**tiny_g_kwargs)
    assert lr_multiplier_of(G, "mapping.fc0.weight") == pytest.approx(0.01)
    assert lr_multiplier_of(G, "mapping.fc1.bias") == pytest.approx(0.01)
    assert lr_multiplier_of(G, "synthesis.b8.conv0.affine.weight") == 1.0
    assert lr_multiplier_of(G, "synthesis.b8.conv0.weight") == 1.0


def test_identical_pair_has_zero_change_everywhere(tiny_g_kwargs):
    parent = tiny_parent(tiny_g_kwargs)
    tensors = tensor_changes(parent, copy.deepcopy(parent))
    assert (tensors["diff_norm"] == 0).all() and (tensors["relative_change"] == 0).all()
    assert len(tensors) == len(list(parent.parameters()))
    components = component_changes(tensors)
    assert list(components["component"]) == list(ANALYSIS_COMPONENTS)
    assert (components["relative_change"] == 0).all()


def test_synthesis_conv_only_child_changes_only_the_convs(tiny_g_kwargs):
    parent = tiny_parent(tiny_g_kwargs)
    child = perturbed_child(parent, {"conv"})
    tensors = tensor_changes(parent, child)
    changed = set(tensors.loc[tensors["diff_norm"] > 0, "component"])
    assert changed == {"conv"}
    layers = layer_changes(tensors)
    conv_layers = layers[layers["component"] == "conv"]
    assert (conv_layers["relative_change"] > 0.05).all()  # every conv layer moved (weights and biases)
    assert set(conv_layers["layer"]) == {"b4.conv1", "b8.conv0", "b8.conv1", "b16.conv0", "b16.conv1"}
    components = component_changes(tensors).set_index("component")
    assert components.at["conv", "share_of_relative_change"] == pytest.approx(1.0)
    assert components.at["conv", "share_of_squared_change"] == pytest.approx(1.0)
    headline = weight_change_headline(components.reset_index())
    assert headline["conv_share_vs_mapping_affine"] == pytest.approx(1.0)
    assert headline["conv_over_mapping"] is None  # the mapping did not move: no finite ratio


def test_per_lr_change_divides_by_the_mapping_multiplier(tiny_g_kwargs):
    parent = tiny_parent(tiny_g_kwargs)
    child = perturbed_child(parent, {"mapping", "affine"})
    tensors = tensor_changes(parent, child).set_index("name")
    row = tensors.loc["mapping.fc0.weight"]
    assert row["relative_change"] > 0
    assert row["relative_change_per_lr"] == pytest.approx(row["relative_change"] / 0.01)
    affine = tensors.loc["synthesis.b8.conv0.affine.weight"]
    assert affine["relative_change_per_lr"] == pytest.approx(affine["relative_change"])
    components = component_changes(tensors.reset_index()).set_index("component")
    assert components.at["mapping", "relative_change_per_lr"] == pytest.approx(
        components.at["mapping", "relative_change"] / 0.01)
    # the aggregate is the norm of all the component's tensors together, not a mean of ratios
    mapping_rows = tensors[tensors["component"] == "mapping"]
    expected = math.sqrt((mapping_rows["diff_norm"] ** 2).sum()) / math.sqrt((mapping_rows["parent_norm"] ** 2).sum())
    assert components.at["mapping", "relative_change"] == pytest.approx(expected)


def test_unaligned_pair_is_refused_naming_the_mismatch(tiny_g_kwargs):
    parent = Generator(**tiny_g_kwargs)
    other = Generator(**{**tiny_g_kwargs, "channel_max": 16})
    with pytest.raises(InputMismatch, match=r"not an aligned pair \(channel_max: parent 32, child 16\)"):
        check_aligned(parent, other)
    with pytest.raises(InputMismatch, match="mapping_layers"):
        tensor_changes(parent, Generator(**{**tiny_g_kwargs, "mapping_layers": 3}))
    child = Generator(**tiny_g_kwargs)
    child.synthesis.b8.conv0.weight = torch.nn.Parameter(torch.zeros(1))  # same settings, different tensor
    with pytest.raises(InputMismatch, match=r"tensor synthesis\.b8\.conv0\.weight: parent \[.*\], child \[1\]"):
        check_aligned(parent, child)


def test_a_tensor_that_was_zero_in_the_parent_changes_infinitely_and_the_headline_stays_json(tiny_g_kwargs):
    import json
    parent = Generator(**tiny_g_kwargs)  # fresh: noise strengths are 0
    child = copy.deepcopy(parent)
    with torch.no_grad():
        child.synthesis.b8.conv0.noise_strength.fill_(0.5)
    tensors = tensor_changes(parent, child).set_index("name")
    assert tensors.at["synthesis.b8.conv0.noise_strength", "relative_change"] == math.inf
    headline = weight_change_headline(component_changes(tensors.reset_index()))
    assert headline["relative_change"]["noise"] is None and headline["relative_change"]["conv"] == 0.0
    json.dumps(headline, allow_nan=False)
