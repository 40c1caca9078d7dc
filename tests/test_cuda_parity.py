"""The CUDA path of training computes what the CPU path computes (the parent issue, item 3).

One G and one D forward+backward of the default parent's architecture (64 px, channel_base 2048,
channel_max 256, 2 mapping layers, z = w = 256; the committed export's weights when present) on
identical inputs: z, real images and every noise map are drawn on the CPU and copied to the GPU. fp32 with
TF32 off on both sides. The RNGs of the two devices differ, so losses over training steps cannot match;
gradients of one step must (relative error <= 1e-4 per parameter).

Skipped where torch sees no CUDA device (every CI and developer machine here); run on a GPU with
``python -m pytest -q tests/test_cuda_parity.py`` (``scripts/gpu/parent_leg.sh`` runs it first).
"""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from stylealign_core import Discriminator, Generator
from stylealign_core.checkpoints import load_checkpoint

EXPORT = Path(__file__).resolve().parents[1] / "models" / "parent" / "emoji-noto-64" / "network.json"
PARENT_ARCH = dict(z_dim=256, w_dim=256, img_resolution=64, img_channels=3, mapping_layers=2,
                   channel_base=2048, channel_max=256)
BATCH, R1_GAMMA, TOLERANCE = 8, 0.0512, 1e-4


def _parent_networks():
    """G and D of the default parent: the committed export when it exists, else a seeded init."""
    if EXPORT.exists():
        ckpt = load_checkpoint(EXPORT)
        return ckpt.networks.get("G", ckpt.networks["G_ema"]), ckpt.networks["D"]
    torch.manual_seed(0)
    return Generator(**PARENT_ARCH), Discriminator(img_resolution=64, img_channels=3,
                                                   channel_base=2048, channel_max=256)


def _inputs(G):
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(BATCH, G.z_dim, generator=gen)
    real = torch.rand(BATCH, 3, 64, 64, generator=gen) * 2 - 1
    noise = {}
    for layer in G.synthesis.style_layout.layers:
        module = dict(G.synthesis.named_modules()).get(_module_name(layer.name))
        if getattr(module, "use_noise", False):
            noise[layer.name] = torch.randn(BATCH, 1, module.resolution, module.resolution, generator=gen)
    return z, real, noise


def _module_name(layer_name: str) -> str:
    block, conv = layer_name.split(".")
    return f"{block}.{conv}"


def _grads(G, D, z, real, noise, device) -> dict[str, torch.Tensor]:
    """Gradients of G's adversarial loss (w.r.t. G) and D's logistic loss + R1 (w.r.t. D)."""
    G, D = copy.deepcopy(G).to(device).train(), copy.deepcopy(D).to(device).train()
    z, real = z.to(device), real.to(device)
    noise = {k: v.to(device) for k, v in noise.items()}
    ws = G.mapping(z, None)
    fake = G.synthesis(ws, noise=noise)
    F.softplus(-D(fake, None)).mean().backward()
    g_grads = {f"G.{n}": p.grad.detach().cpu().clone() for n, p in G.named_parameters() if p.grad is not None}
    D.zero_grad(set_to_none=True)
    real = real.detach().requires_grad_(True)
    logits_real = D(real, None)
    (r1_grad,) = torch.autograd.grad(logits_real.sum(), real, create_graph=True)
    r1 = r1_grad.square().sum([1, 2, 3]).mean() * (R1_GAMMA / 2)
    logits_fake = D(fake.detach(), None)
    (F.softplus(logits_fake).mean() + F.softplus(-logits_real).mean() + r1).backward()
    d_grads = {f"D.{n}": p.grad.detach().cpu().clone() for n, p in D.named_parameters() if p.grad is not None}
    return g_grads | d_grads


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: run this on a GPU machine")
def test_one_step_gradients_match_cpu():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    G, D = _parent_networks()
    G, D = G.float(), D.float()
    z, real, noise = _inputs(G)
    assert noise, "the generator has noise inputs; none were drawn"
    cpu = _grads(G, D, z, real, noise, "cpu")
    gpu = _grads(G, D, z, real, noise, "cuda")
    assert cpu.keys() == gpu.keys() and len(cpu) > 50
    worst = {}
    for name, g_cpu in cpu.items():
        scale = g_cpu.norm().item()
        if scale == 0:
            continue
        worst[name] = (gpu[name] - g_cpu).norm().item() / scale
    name, err = max(worst.items(), key=lambda kv: kv[1])
    print(f"worst relative gradient error {err:.3g} ({name}) over {len(worst)} parameters")
    assert err <= TOLERANCE, f"{name}: CUDA gradient differs from the CPU's by {err:.3g} (relative)"
