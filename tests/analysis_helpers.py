"""Tiny parent/child pairs for the alignment-analysis tests: a child is the parent with chosen parts perturbed."""
import copy

import torch

from stylealign_core.analysis import analysis_component
from stylealign_core.generator import Generator


def tiny_parent(g_kwargs) -> Generator:
    """A tiny generator with nonzero noise strengths (a trained parent has them; fresh ones are 0)."""
    G = Generator(**g_kwargs).eval().requires_grad_(False)
    for name, p in G.named_parameters():
        if name.endswith("noise_strength"):
            p.fill_(0.1)
    return G


def perturbed_child(parent, components, scale=0.2, seed=1):
    """A copy of ``parent`` whose parameters in ``components`` get relative Gaussian noise of ``scale``."""
    child = copy.deepcopy(parent)
    gen = torch.Generator().manual_seed(seed)
    for name, p in child.named_parameters():
        if analysis_component(name) in components:
            p.add_(scale * p.abs().mean().clamp(min=0.05) * torch.randn(p.shape, generator=gen))  # zero biases move too
    return child


def images(G, seeds=range(4)):
    from stylealign_core.latents import synthesize_seeds
    return synthesize_seeds(G, list(seeds), batch=4)


def emoji_pair(root, g_kwargs) -> tuple[list, dict]:
    """Saved checkpoints [parent, child] of a tiny pair (the child's convs perturbed) and emoji-like data sets
    ``{"parent": ..., "child": ...}`` (labels, skin-tone variants, masks) under ``root``: the zero-shot inputs."""
    from stylealign_core.checkpoints import save_checkpoint

    from test_zeroshot_helpers import write_emoji_like
    torch.manual_seed(0)
    parent = tiny_parent(g_kwargs)
    paths = [save_checkpoint(root / name, {"G_ema": G}).with_suffix(".json")
             for name, G in (("parent", parent), ("child", perturbed_child(parent, {"conv"})))]
    return paths, {"parent": write_emoji_like(root / "noto", style=0), "child": write_emoji_like(root / "tw", style=1)}
