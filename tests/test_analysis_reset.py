"""Component reset: the child with one component put back to the parent's, inputs never modified."""
import pytest
import torch

from stylealign_core.analysis import RESET_GROUPS, reset_component, reset_generators
from stylealign_core.analysis.errors import AnalysisError

from analysis_helpers import images, perturbed_child, tiny_parent


def _state_copy(G):
    return {k: v.clone() for k, v in G.state_dict().items()}


def _same_state(G, state):
    return all(torch.equal(v, state[k]) for k, v in G.state_dict().items())


def test_resetting_synthesis_of_a_conv_only_child_gives_back_the_parent_exactly(tiny_g_kwargs):
    parent = tiny_parent(tiny_g_kwargs)
    child = perturbed_child(parent, {"conv"})
    parent_state, child_state = _state_copy(parent), _state_copy(child)
    resets = reset_generators(parent, child)
    assert list(resets) == list(RESET_GROUPS)
    assert _same_state(parent, parent_state) and _same_state(child, child_state)  # inputs untouched
    parent_images, child_images = images(parent), images(child)
    assert not torch.equal(parent_images, child_images)
    assert torch.equal(images(resets["synthesis"]), parent_images)
    for group in ("mapping", "affine", "torgb"):  # resetting what did not change leaves the child as it was
        assert torch.equal(images(resets[group]), child_images), group


def test_resetting_the_mapping_of_a_mapping_only_child_gives_back_the_parent(tiny_g_kwargs):
    parent = tiny_parent(tiny_g_kwargs)
    child = perturbed_child(parent, {"mapping"})
    child.mapping.w_avg.add_(1.0)  # the mapping's statistics belong to the mapping too
    reset = reset_component(parent, child, "mapping")
    assert torch.equal(reset.mapping.w_avg, parent.mapping.w_avg)
    assert torch.equal(images(reset), images(parent))
    assert not torch.equal(images(reset_component(parent, child, "synthesis")), images(parent))


def _group_by_name_rules(name):
    if name.startswith("mapping."):
        return "mapping"
    if ".affine." in name:
        return "affine"
    return "torgb" if ".torgb." in name else "synthesis"  # convs, biases, noise strengths, const


def test_each_reset_puts_back_exactly_its_own_tensors(tiny_g_kwargs):
    parent = tiny_parent(tiny_g_kwargs)
    child = perturbed_child(parent, {"mapping", "affine", "conv", "torgb", "noise", "const"})
    parent_params, child_params = dict(parent.named_parameters()), dict(child.named_parameters())
    for group, reset in reset_generators(parent, child).items():
        from_parent = {k for k, v in reset.named_parameters()
                       if torch.equal(v, parent_params[k]) and not torch.equal(v, child_params[k])}
        kept = {k for k, v in reset.named_parameters() if torch.equal(v, child_params[k])}
        expected = {k for k in parent_params if _group_by_name_rules(k) == group}
        assert from_parent == expected, group
        assert kept == set(parent_params) - expected, group


def test_resetting_noise_alone_undoes_inflated_noise_strengths(tiny_g_kwargs):
    parent = tiny_parent(tiny_g_kwargs)
    child = perturbed_child(parent, {"noise"}, scale=5.0)
    assert not torch.equal(images(child), images(parent))
    assert torch.equal(images(reset_component(parent, child, "noise")), images(parent))
    assert torch.equal(images(reset_component(parent, child, "synthesis")), images(parent))  # noise is part of it


def test_unknown_group_is_refused():
    with pytest.raises(AnalysisError, match="unknown reset group 'style'; choose from mapping"):
        reset_component(None, None, "style")
