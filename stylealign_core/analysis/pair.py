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
    from ..checkpoints import load_generator
    parent = load_generator(parent_path, device=device).float().eval().requires_grad_(False)
    child = load_generator(child_path, device=device).float().eval().requires_grad_(False)
    check_aligned(parent, child)
    return parent, child
