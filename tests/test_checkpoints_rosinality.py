"""Importer of rosinality stylegan2-pytorch .pt checkpoints: its modulated-conv math against ours, round trips,
refusals, and (where a checkout is named by $STYLEGAN2_ROSINALITY) the genuine model."""
import argparse
import math
import os
import sys

import pytest
import torch
import torch.nn.functional as F

from stylealign_core import Discriminator, Generator, ops
from stylealign_core.checkpoints import CheckpointError, load_checkpoint
from stylealign_core.checkpoints.rosinality import discriminator_to_rosinality, generator_to_rosinality

from test_checkpoints import images, randomize
from test_checkpoints_import import _Evil

ROSINALITY = os.environ.get("STYLEGAN2_ROSINALITY")


# rosinality fixes 512 channels up to 32 px; the mapping is shape-driven, so small channels test it as well
ROS_G = dict(z_dim=32, w_dim=32, img_resolution=16, img_channels=3, mapping_layers=2, channel_base=256,
             channel_max=32)


def ros_math_modconv(x, weight5, mod_w, mod_b, w, up=False):
    """rosinality's ModulatedConv2d (fused path), written from its documented math: weight [1,O,I,k,k]
    scaled by 1/sqrt(fan_in) and the style, demodulated, then conv (or transposed conv + [1,3,3,1] blur)."""
    batch, in_ch = x.shape[:2]
    out_ch, k = weight5.shape[1], weight5.shape[-1]
    style = F.linear(w, mod_w / math.sqrt(mod_w.shape[1]), mod_b).view(batch, 1, in_ch, 1, 1)
    wt = weight5 / math.sqrt(in_ch * k * k) * style
    wt = wt * torch.rsqrt(wt.pow(2).sum([2, 3, 4]) + 1e-8).view(batch, out_ch, 1, 1, 1)
    xg = x.reshape(1, batch * in_ch, *x.shape[2:])
    if not up:
        out = F.conv2d(xg, wt.view(batch * out_ch, in_ch, k, k), padding=k // 2, groups=batch)
        return out.view(batch, out_ch, *out.shape[2:])
    wt = wt.transpose(1, 2).reshape(batch * in_ch, out_ch, k, k)
    out = F.conv_transpose2d(xg, wt, stride=2, groups=batch)
    out = out.view(batch, out_ch, *out.shape[2:])
    return ops.upfirdn2d(out, ops.setup_filter([1, 3, 3, 1]), padding=(1, 1, 1, 1), gain=4)


@pytest.mark.parametrize("up", [False, True])
def test_rosinality_modconv_math_matches_ours(up):
    G = randomize(Generator(**ROS_G))
    layer = G.synthesis.b8.conv0 if up else G.synthesis.b8.conv1
    sd, _ = generator_to_rosinality(G.state_dict(), G.config)
    src = "convs.0" if up else "convs.1"
    x, w = torch.randn(2, layer.in_channels, 4 if up else 8, 4 if up else 8), torch.randn(2, G.w_dim)
    with torch.no_grad():
        ref = ros_math_modconv(x, sd[f"{src}.conv.weight"], sd[f"{src}.conv.modulation.weight"],
                               sd[f"{src}.conv.modulation.bias"], w, up=up)
        ours = ops.modulated_conv2d(x, layer.weight, layer.affine(w), up=2 if up else 1,
                                    resample_filter=layer.resample_filter)
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", ["converted", "training"])
def test_rosinality_round_trip(tmp_path, kind, tiny_d_kwargs):
    G = randomize(Generator(**ROS_G))
    D = randomize(Discriminator(**tiny_d_kwargs))
    g_sd, latent_avg = generator_to_rosinality(G.state_dict(), G.config)
    assert g_sd["conv1.conv.weight"].shape == (1, 32, 32, 3, 3) and g_sd["noises.noise_0"].shape == (1, 1, 4, 4)
    path = tmp_path / f"{kind}.pt"
    if kind == "converted":
        torch.save({"g_ema": g_sd, "latent_avg": latent_avg}, path)
    else:
        args = argparse.Namespace(size=16, n_mlp=2, latent=32, channel_multiplier=2, arch="stylegan2", lr=0.002)
        d_sd = discriminator_to_rosinality(D.state_dict(), D.config)
        torch.save({"g": g_sd, "d": d_sd, "g_ema": g_sd, "args": args, "ada_aug_p": 0.2,
                    "g_optim": {"state": {}, "param_groups": [{"lr": 0.002}]}}, path)
    ckpt = load_checkpoint(path)
    assert ckpt.format == "rosinality-pt"
    G2 = ckpt.networks["G_ema"]
    assert G2.config == G.config
    theirs, mine = G2.state_dict(), G.state_dict()
    same = [k for k in mine if torch.equal(theirs[k], mine[k])]
    if kind == "converted":
        assert len(same) == len(mine)
        assert torch.equal(images(G2), images(G))
    else:  # no latent_avg in a training checkpoint: w_avg is estimated, everything else is exact
        assert set(mine) - set(same) == {"mapping.w_avg"}
        assert any("estimated" in n for n in ckpt.notes)
        assert torch.equal(images(G2, psi=1.0), images(G, psi=1.0))
        assert all(torch.equal(ckpt.networks["D"].state_dict()[k], v) for k, v in D.state_dict().items())
        assert ckpt.metadata["rosinality_args"]["channel_multiplier"] == 2
        assert float(ckpt.extra["augment_pipe.p"]) == pytest.approx(0.2)


def test_rosinality_refusals(tmp_path):
    G = randomize(Generator(**ROS_G))
    g_sd, latent_avg = generator_to_rosinality(G.state_dict(), G.config)
    marker = tmp_path / "pwned"
    torch.save({"g_ema": g_sd, "evil": _Evil(os.system, (f"touch {marker}",))}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match=r"evil\.pt: refused by torch\.load\(weights_only=True\)"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()
    bad = dict(g_sd)
    bad["convs.0.conv.blur.kernel"] = torch.ones(4, 4)
    torch.save({"g_ema": bad}, tmp_path / "blur.pt")
    with pytest.raises(CheckpointError, match="not the standard \\[1,3,3,1\\] blur kernel"):
        load_checkpoint(tmp_path / "blur.pt")
    bad = dict(g_sd, **{"convs.0.dwt.weight": torch.zeros(1)})
    torch.save({"g_ema": bad}, tmp_path / "swagan.pt")
    with pytest.raises(CheckpointError, match=r"unexpected tensors \['convs\.0\.dwt\.weight'\]"):
        load_checkpoint(tmp_path / "swagan.pt")
    del g_sd["style.1.bias"]
    torch.save({"g_ema": g_sd}, tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="missing tensor style.1.bias"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no g, d or g_ema state dict"):
        load_checkpoint(tmp_path / "other.pt")




@pytest.mark.skipif(not ROSINALITY,
                    reason="needs a rosinality stylegan2-pytorch checkout named by $STYLEGAN2_ROSINALITY")
def test_genuine_rosinality_model(tmp_path, monkeypatch):
    import torch.utils.cpp_extension as cpp_extension
    monkeypatch.syspath_prepend(ROSINALITY)
    # its op package compiles CUDA kernels at import time; on CPU its own pure-PyTorch paths are used
    monkeypatch.setattr(cpp_extension, "load", lambda *a, **k: None)
    try:
        import model as ros  # noqa: E402 (the reference checkout)
        _check_against_rosinality(ros, tmp_path)
    finally:  # do not leave the checkout's top-level "model"/"op" modules behind for other tests
        for name in [m for m in sys.modules if m in ("model", "op") or m.startswith("op.")]:
            sys.modules.pop(name)


def _check_against_rosinality(ros, tmp_path):
    g, d = ros.Generator(16, 32, 2, channel_multiplier=1).eval(), ros.Discriminator(16, channel_multiplier=1).eval()
    for p in list(g.parameters()) + list(d.parameters()):
        p.data.normal_()
    latent_avg = torch.randn(32)
    torch.save({"g_ema": g.state_dict(), "d": d.state_dict(), "latent_avg": latent_avg}, tmp_path / "ros.pt")
    ckpt = load_checkpoint(tmp_path / "ros.pt")
    z, x = torch.randn(4, 32), torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        ref, _ = g([z], truncation=0.7, truncation_latent=latent_avg[None], randomize_noise=False)
        img = ckpt.networks["G_ema"](z, truncation_psi=0.7, noise_mode="const")
        assert ((img - ref).norm() / ref.norm()).item() < 1e-5
        torch.testing.assert_close(ckpt.networks["D"](x), d(x), rtol=1e-4, atol=1e-4)
