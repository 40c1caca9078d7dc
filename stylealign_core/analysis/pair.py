"""A parent and its child as an aligned pair: same architecture, tensor for tensor.

Every alignment statistic compares the two networks name by name, so a pair whose architectures differ
is refused up front with the first difference named (a setting, a missing tensor or a shape) by the one
check of :mod:`stylealign_core.aligned`.
"""
from __future__ import annotations

import os

from ..aligned import check_aligned


def load_pair(parent_path: str | os.PathLike, child_path: str | os.PathLike, device="cpu"):
    """(parent G, child G) from two checkpoints (G_ema preferred), checked to be an aligned pair,
    in eval mode, float32 (a checkpoint stored at half precision is widened)."""
    return load_pair_and_sha256(parent_path, child_path, device)[:2]


def load_pair_and_sha256(parent_path: str | os.PathLike, child_path: str | os.PathLike, device="cpu"):
    """:func:`load_pair`, and ``{"parent": sha256, "child": sha256}`` of the checkpoints' weights files (what
    the latents cache keys a generator by)."""
    from ..checkpoints import load_generator_and_sha
    nets, shas = {}, {}
    for which, path in (("parent", parent_path), ("child", child_path)):
        G, shas[which] = load_generator_and_sha(path, device=device)
        nets[which] = G.float().eval().requires_grad_(False)
    check_aligned(nets["parent"], nets["child"])
    return nets["parent"], nets["child"], shas
