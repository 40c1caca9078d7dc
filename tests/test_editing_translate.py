"""Translation parent -> child (and back), aligned-pair checks and Toonify-style layer swapping."""
import copy

import pytest
import torch

from editing_helpers import tiny_pair
from stylealign_core.editing import (AlignedPair, UnalignedPair, WeightMix, check_aligned, layer_swap,
                                     source_images, swap_weights, translate)
from stylealign_core.editing.errors import EditError
from stylealign_core.generator import Generator
from stylealign_core.latents import z_from_seeds


def test_translation_with_child_equal_to_parent_reproduces_the_parent_image(tiny_g_kwargs):
    parent, child = tiny_pair(tiny_g_kwargs)
    z = z_from_seeds(range(5), parent.z_dim)
    same = AlignedPair(parent, copy.deepcopy(parent))
    expected = parent.synthesize(z, space="z", truncation_psi=0.5)
    assert torch.equal(translate(same, z, "z", 0.5, batch=4), source_images(same, z, "z", 0.5, batch=4))
    assert torch.allclose(translate(same, z, "z", 0.5, batch=4), expected, atol=1e-5)
    # a real child gives another image from the same code
    assert (translate(AlignedPair(parent, child), z, "z", 0.5) - expected).abs().max() > 1e-2


def test_z_translation_equals_child_mapping_then_w_translation(tiny_g_kwargs):
    parent, child = tiny_pair(tiny_g_kwargs)
    pair = AlignedPair(parent, child)
    z = z_from_seeds(range(6), parent.z_dim)
    via_z = translate(pair, z, "z", truncation_psi=0.5)
    w = child.z_to_w(z)  # the child's own mapping, untruncated
    via_w = translate(pair, w, "w", truncation_psi=0.5)  # truncation towards the CHILD's w_avg
    assert torch.allclose(via_z, via_w, atol=1e-5)
    via_wplus = translate(pair, child.w_to_wplus(w), "w+", truncation_psi=0.5)
    assert torch.allclose(via_z, via_wplus, atol=1e-5)
    # truncation towards the parent's w_avg would be a different image (the two w_avg differ)
    towards_parent = child.synthesize(parent.mapping.w_avg.lerp(w, 0.5), space="w")
    assert (towards_parent - via_z).abs().max() > 1e-3


def test_reverse_renders_child_codes_with_the_parent(tiny_g_kwargs):
    parent, child = tiny_pair(tiny_g_kwargs)
    pair = AlignedPair(parent, child)
    s = child.wplus_to_s(child.w_to_wplus(child.z_to_w(z_from_seeds([3, 4], child.z_dim))))
    back = translate(pair, s, "s", truncation_psi=1.0, reverse=True)
    assert torch.allclose(back, parent.synthesize(s, space="s"), atol=1e-5)
    assert torch.allclose(source_images(pair, s, "s", 1.0, reverse=True), child.synthesize(s, space="s"), atol=1e-5)
    with pytest.raises(EditError, match="truncation"):
        translate(pair, s, "s", truncation_psi=0.5)


def test_translation_batches_do_not_change_an_image(tiny_g_kwargs):
    parent, child = tiny_pair(tiny_g_kwargs)
    pair = AlignedPair(parent, child)
    z = z_from_seeds(range(7), parent.z_dim)
    whole = translate(pair, z, "z", 0.5, batch=4)
    assert whole.shape == (7, 3, 16, 16)
    assert torch.equal(whole[4:], translate(pair, z[4:], "z", 0.5, batch=4))


def test_bad_codes_are_refused_with_the_expected_shape(tiny_g_kwargs):
    parent, child = tiny_pair(tiny_g_kwargs)
    with pytest.raises(EditError, match=r"w\+ codes for this generator have shape \[N, 6, 32\]"):
        translate(AlignedPair(parent, child), torch.zeros(2, 32), "w+")


@pytest.mark.parametrize("change, named", [({"channel_base": 512}, "channel_base"),
                                           ({"mapping_layers": 3}, "mapping_layers"),
                                           ({"img_resolution": 32}, "img_resolution")])
def test_unaligned_pair_is_refused_naming_the_mismatch(tiny_g_kwargs, change, named):
    parent = Generator(**tiny_g_kwargs)
    other = Generator(**{**tiny_g_kwargs, **change})
    with pytest.raises(UnalignedPair, match=f"not an aligned pair \\({named}: parent"):
        AlignedPair(parent, other)
    check_aligned(parent, Generator(**tiny_g_kwargs))  # same architecture: accepted


def _resolutions(G):
    return list(G.synthesis.block_resolutions)


def test_layer_swap_at_the_top_resolution_is_the_pure_model(tiny_g_kwargs):
    parent, child = tiny_pair(tiny_g_kwargs)
    z = z_from_seeds(range(3), parent.z_dim)
    top = _resolutions(parent)[-1]
    hybrid = layer_swap(parent, child, top, mapping_from="low").generator
    assert torch.equal(hybrid.synthesize(z, space="z"), parent.synthesize(z, space="z"))
    other = layer_swap(child, parent, top, mapping_from="low").generator  # roles swapped: the other model
    assert torch.equal(other.synthesize(z, space="z"), child.synthesize(z, space="z"))


def test_layer_swap_at_the_lowest_resolution_takes_only_that_block(tiny_g_kwargs):
    parent, child = tiny_pair(tiny_g_kwargs)
    w = parent.z_to_w(z_from_seeds(range(3), parent.z_dim))
    expected = copy.deepcopy(child)  # built by hand: the child with the parent's 4x4 block
    expected.synthesis.b4.load_state_dict(parent.synthesis.b4.state_dict())
    hybrid = layer_swap(parent, child, 4, mapping_from="high").generator
    assert torch.equal(hybrid.synthesize(w, space="w"), expected.synthesize(w, space="w"))
    assert (hybrid.synthesize(w, space="w") - child.synthesize(w, space="w")).abs().max() > 1e-3


def test_swap_translation_uses_the_target_mapping_and_source_blocks(tiny_g_kwargs):
    parent, child = tiny_pair(tiny_g_kwargs)
    pair = AlignedPair(parent, child)
    w = parent.z_to_w(z_from_seeds(range(2), parent.z_dim))
    top = _resolutions(parent)[-1]
    assert torch.equal(translate(pair, w, "w", 1.0, swap_res=top, batch=2), parent.synthesize(w, space="w"))
    with pytest.raises(EditError, match="not a synthesis resolution"):
        translate(pair, w, "w", 1.0, swap_res=12)


def test_blend_width_ramps_between_the_models():
    hard = swap_weights([4, 8, 16, 32], 8)
    assert hard == {4: 0.0, 8: 0.0, 16: 1.0, 32: 1.0}
    soft = swap_weights([4, 8, 16, 32], 8, blend=1.0)
    values = [soft[r] for r in (4, 8, 16, 32)]
    assert all(0 < v < 1 for v in values) and values == sorted(values)
    assert soft[8] == pytest.approx(1 - soft[16])


def test_weight_mixing_never_changes_the_input_models(tiny_g_kwargs):
    parent, child = tiny_pair(tiny_g_kwargs)
    before = [{k: v.clone() for k, v in g.state_dict().items()} for g in (parent, child)]
    mix = WeightMix(parent, child)
    mix.set_weights({4: 0.3, 8: 1.0, 16: 0.7})
    mix.set_weights({4: 1.0, 8: 0.0, 16: 0.5})
    for g, saved in zip((parent, child), before):
        assert all(torch.equal(v, saved[k]) for k, v in g.state_dict().items())
    mine = mix.generator.synthesis.b16.conv1.weight
    assert torch.allclose(mine, torch.lerp(parent.synthesis.b16.conv1.weight, child.synthesis.b16.conv1.weight, 0.5))
