"""How the golden tests compare our tensors with the official ones, and how they build our networks from a
golden file. The tolerances live here, once, and are quoted in the tests' docstrings.

The golden files were made with float32 on one CPU thread; another machine, torch build or thread count
sums in another order, which moves float32 results by ~1e-7 relative per operation. The bounds leave
one to two orders of magnitude above that; a real difference (a wrong gain, filter, padding, clamp,
normalisation or loss term) moves results by 1e-3 or more.
"""
from __future__ import annotations

import torch

from stylealign_core import Discriminator, Generator

from .cases import with_prefix

IMAGE_REL_ERR = 1e-5                 # ||ours - official|| / ||official|| for images and W+
LOGITS_RTOL, LOGITS_ATOL = 1e-5, 1e-5  # atol is relative to max |official logit|
GRAD_RTOL, GRAD_ATOL = 1e-4, 1e-5      # atol is relative to the largest |official gradient| of the network


def rel_err(ours: torch.Tensor, official: torch.Tensor) -> float:
    assert ours.shape == official.shape, f"shape {list(ours.shape)} != official {list(official.shape)}"
    return ((ours.float() - official).norm() / official.norm()).item()


def assert_image_close(ours: torch.Tensor, official: torch.Tensor, what: str) -> None:
    err = rel_err(ours, official)
    assert err < IMAGE_REL_ERR, f"{what}: relative L2 error {err:.3g} >= {IMAGE_REL_ERR}"


def assert_logits_close(ours: torch.Tensor, official: torch.Tensor, what: str) -> None:
    scale = official.abs().max().item()
    torch.testing.assert_close(ours.float(), official, rtol=LOGITS_RTOL, atol=LOGITS_ATOL * scale,
                               msg=lambda m: f"{what}: {m}")


def assert_grads_close(ours: dict, official: dict, what: str) -> None:
    """Every parameter's gradient, with one absolute floor for the network (its largest official one)."""
    assert ours.keys() == official.keys(), f"{what}: parameters differ: {sorted(ours.keys() ^ official.keys())}"
    scale = max(v.abs().max().item() for v in official.values())
    assert scale > 0, f"{what}: the official gradients are all zero (a useless golden case)"
    for name, want in official.items():
        torch.testing.assert_close(ours[name], want, rtol=GRAD_RTOL, atol=GRAD_ATOL * scale,
                                   msg=lambda m, name=name: f"{what}, gradient of {name}: {m}")


def param_grads(net: torch.nn.Module) -> dict:
    """Every parameter's gradient (zeros where none flowed), by state-dict name."""
    return {k: (p.grad if p.grad is not None else torch.zeros_like(p)).detach().clone()
            for k, p in net.named_parameters()}


def our_networks(case: dict, tensors: dict) -> tuple[Generator, Discriminator]:
    """Our G and D built from a case's configs, holding the official weights (strict: every official name
    and shape must exist in ours and nothing else)."""
    G, D = Generator(**case["G"]), Discriminator(**case["D"])
    G.load_state_dict(with_prefix(tensors, "G."), strict=True)
    D.load_state_dict(with_prefix(tensors, "D."), strict=True)
    return G, D
