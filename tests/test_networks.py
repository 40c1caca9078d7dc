"""Network contract: official parameter counts and names, latent-space identities, precision paths."""
import os
import sys

import pytest
import torch

from stylealign_core import Discriminator, Generator
from stylealign_core.precision import autocast

# ANCHORS.md section 2: (resolution, channel_base, channel_max) -> (G params, D params)
OFFICIAL_COUNTS = {
    (32, 32768, 512): (21_523_475, 21_507_073),
    (64, 16384, 512): (23_819_544, 23_407_361),
    (32, 4096, 256): (6_814_355, 4_608_897),
    (64, 4096, 256): (7_056_600, 4_727_617),
}


@pytest.mark.parametrize("cfg", list(OFFICIAL_COUNTS))
def test_parameter_counts_match_official(cfg):
    res, base, cmax = cfg
    with torch.device("meta"):
        G = Generator(z_dim=512, w_dim=512, img_resolution=res, img_channels=3, c_dim=0, mapping_layers=8,
                      channel_base=base, channel_max=cmax)
        D = Discriminator(img_resolution=res, img_channels=3, c_dim=0, channel_base=base, channel_max=cmax)
    counts = (sum(p.numel() for p in G.parameters()), sum(p.numel() for p in D.parameters()))
    assert counts == OFFICIAL_COUNTS[cfg]
    assert G.num_ws == 2 * (res.bit_length() - 1) - 2


def test_official_parameter_names(tiny_g_kwargs, tiny_d_kwargs):
    G, D = Generator(**tiny_g_kwargs), Discriminator(**tiny_d_kwargs)
    g = set(G.state_dict())
    for key in ["mapping.fc0.weight", "mapping.fc1.bias", "mapping.w_avg", "synthesis.b4.const",
                "synthesis.b4.conv1.affine.weight", "synthesis.b8.conv0.noise_const",
                "synthesis.b8.conv0.noise_strength", "synthesis.b16.torgb.affine.bias",
                "synthesis.b16.conv1.resample_filter", "synthesis.b16.resample_filter"]:
        assert key in g, key
    d = set(D.state_dict())
    for key in ["b16.fromrgb.weight", "b16.conv0.bias", "b8.conv1.weight", "b8.skip.weight",
                "b4.conv.weight", "b4.fc.weight", "b4.out.bias"]:
        assert key in d, key
    assert "b8.skip.bias" not in d


def test_latent_space_identities(tiny_g_kwargs):
    G = Generator(**tiny_g_kwargs).eval()
    z = torch.randn(3, G.z_dim)
    with torch.no_grad():
        w = G.z_to_w(z)
        wplus = G.w_to_wplus(w)
        s = G.wplus_to_s(wplus)
        img_w = G.synthesize(w, space="w")
        img_wp = G.synthesize(wplus, space="w+")
        img_s = G.synthesize(s, space="s")
        img_z = G.synthesize(z, space="z")
    assert w.shape == (3, G.w_dim) and wplus.shape == (3, G.num_ws, G.w_dim)
    assert s.shape == (3, G.style_layout.dim)
    assert torch.equal(img_s, img_wp), "S(W+) must synthesize exactly what W+ does"
    assert torch.equal(img_w, img_wp), "W must equal W+ with the code repeated"
    assert torch.equal(img_z, img_w)
    # G(z) with const noise is the same path
    assert torch.equal(G(z, noise_mode="const"), img_z)


def test_style_layout_addresses_layer_and_channel(tiny_g_kwargs):
    G = Generator(**tiny_g_kwargs).eval()
    layout = G.style_layout
    names = [l.name for l in layout.layers]
    assert names[:3] == ["b4.conv1", "b4.torgb", "b8.conv0"] and names[-1] == "b16.torgb"
    idx = layout.index("b8.conv1", 5)
    assert layout.locate(idx) == ("b8.conv1", 5)
    with pytest.raises(KeyError, match="no style layer"):
        layout.index("b99.conv0", 0)
    # Changing one S coordinate changes the image; the affine output of that layer is what S holds.
    z = torch.randn(2, G.z_dim)
    with torch.no_grad():
        s = G.to_s(z, "z")
        s2 = s.clone()
        s2[:, idx] += 5.0
        a, b = G.synthesize(s, "s"), G.synthesize(s2, "s")
        direct = G.synthesis.b8.conv1.affine(G.z_to_w(z))
    assert not torch.equal(a, b)
    torch.testing.assert_close(layout.split(s)[names.index("b8.conv1")], direct)


def test_truncation_and_cutoff(tiny_g_kwargs):
    G = Generator(**tiny_g_kwargs).eval()
    G.mapping.w_avg.normal_()
    z = torch.randn(2, G.z_dim)
    with torch.no_grad():
        full = G.mapping(z)
        zero = G.mapping(z, truncation_psi=0.0)
        cut = G.mapping(z, truncation_psi=0.0, truncation_cutoff=2)
    assert torch.allclose(zero, G.mapping.w_avg.expand_as(zero))
    assert torch.allclose(cut[:, :2], zero[:, :2]) and torch.equal(cut[:, 2:], full[:, 2:])


def test_w_avg_tracks_only_when_asked(tiny_g_kwargs):
    G = Generator(**tiny_g_kwargs)
    z = torch.randn(8, G.z_dim)
    G.mapping(z)
    assert torch.count_nonzero(G.mapping.w_avg) == 0
    G.mapping(z, update_w_avg=True)
    assert torch.count_nonzero(G.mapping.w_avg) > 0


@pytest.mark.parametrize("mode", ["random", "const", "none"])
def test_noise_modes(tiny_g_kwargs, mode):
    G = Generator(**tiny_g_kwargs).eval()
    for name, p in G.named_parameters():
        if name.endswith("noise_strength"):
            p.data.fill_(1.0)
    z = torch.randn(2, G.z_dim)
    with torch.no_grad():
        a, b = G(z, noise_mode=mode), G(z, noise_mode=mode)
    assert torch.equal(a, b) == (mode != "random")


def test_explicit_noise_maps_are_used(tiny_g_kwargs):
    G = Generator(**tiny_g_kwargs).eval()
    G.synthesis.b8.conv0.noise_strength.data.fill_(1.0)
    s = G.to_s(torch.randn(1, G.z_dim), "z").detach()
    with torch.no_grad():
        a = G.synthesize(s, "s", noise_mode="none")
        b = G.synthesize(s, "s", noise_mode="none", noise={"b8.conv0": torch.ones(1, 1, 8, 8)})
    assert not torch.equal(a, b)


def test_fused_and_unfused_modconv_agree(tiny_g_kwargs):
    G = Generator(**tiny_g_kwargs).eval()
    z = torch.randn(3, G.z_dim)
    with torch.no_grad():
        a = G(z, noise_mode="const", fused=False)
        b = G(z, noise_mode="const", fused=True)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_style_mixing_changes_late_entries(tiny_g_kwargs):
    G = Generator(**tiny_g_kwargs)
    z, z2 = torch.randn(2, G.z_dim), torch.randn(2, G.z_dim)
    ws = G.mapping(z)
    mixed = G.mix_styles(ws, z2, prob=1.0)
    assert torch.equal(mixed[:, 0], ws[:, 0]) and not torch.equal(mixed[:, -1], ws[:, -1])
    assert torch.equal(G.mix_styles(ws, z2, prob=0.0), ws)


def test_conditional_networks(tiny_g_kwargs, tiny_d_kwargs):
    G = Generator(**tiny_g_kwargs, c_dim=4)
    D = Discriminator(**tiny_d_kwargs, c_dim=4)
    z, c = torch.randn(4, G.z_dim), torch.eye(4)
    img = G(z, c)
    assert D(img, c).shape == (4, 1)
    with pytest.raises(ValueError, match="conditional"):
        G(z)


def _rel_err(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


@pytest.mark.parametrize("channels_last", [False, True])
def test_bf16_autocast_and_channels_last_close_to_fp32(tiny_g_kwargs, tiny_d_kwargs, channels_last):
    G, D = Generator(**tiny_g_kwargs).eval(), Discriminator(**tiny_d_kwargs).eval()
    z = torch.randn(4, G.z_dim)
    with torch.no_grad():
        ref_img = G(z, noise_mode="const")
        ref_logits = D(ref_img)
        G.synthesis.channels_last = D.channels_last = channels_last
        with autocast("cpu", "bf16"):
            img = G(z, noise_mode="const")
            logits = D(ref_img)
    assert img.dtype == torch.float32
    assert _rel_err(img, ref_img) < 0.05
    assert _rel_err(logits, ref_logits) < 0.05


def test_d_rejects_batch_not_multiple_of_group(tiny_d_kwargs):
    D = Discriminator(**tiny_d_kwargs)
    with pytest.raises(ValueError, match="multiple of its group size"):
        D(torch.randn(6, 3, 16, 16))


REFERENCE = os.environ.get("STYLEGAN2_ADA_PYTORCH")


@pytest.mark.skipif(not REFERENCE, reason="needs a stylegan2-ada-pytorch checkout named by $STYLEGAN2_ADA_PYTORCH")
@pytest.mark.parametrize("c_dim", [0, 5])
def test_numerics_match_stylegan2_ada_pytorch(c_dim):
    sys.path.insert(0, REFERENCE)
    from training import networks as ref  # noqa: E402 (the reference checkout)

    kw = dict(z_dim=64, w_dim=64, c_dim=c_dim, img_resolution=32, img_channels=3)
    R = ref.Generator(**kw, mapping_kwargs=dict(num_layers=3),
                      synthesis_kwargs=dict(channel_base=1024, channel_max=64)).eval()
    for p in R.parameters():
        p.data.normal_()
    G = Generator(**kw, mapping_layers=3, channel_base=1024, channel_max=64).eval()
    G.load_state_dict(R.state_dict(), strict=True)
    z, c = torch.randn(4, 64), torch.randn(4, c_dim)
    with torch.no_grad():
        a = R(z, c, truncation_psi=0.7, noise_mode="const")
        b = G(z, c if c_dim else None, truncation_psi=0.7, noise_mode="const")
    assert _rel_err(b, a) < 1e-5
    RD = ref.Discriminator(c_dim=c_dim, img_resolution=32, img_channels=3, channel_base=1024, channel_max=64)
    D = Discriminator(c_dim=c_dim, img_resolution=32, img_channels=3, channel_base=1024, channel_max=64)
    D.load_state_dict(RD.state_dict(), strict=True)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(D(x, c if c_dim else None), RD(x, c), rtol=1e-5, atol=1e-6)
