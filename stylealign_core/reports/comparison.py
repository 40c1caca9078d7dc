"""Parent-vs-child comparison sheet: the same seeds (hence the same z) through both generators.

Row 1 is the parent, row 2 the child, one column per seed; z comes from :mod:`stylealign_core.latents`,
so column ``i`` shows seed ``seeds[i]`` exactly as ``stylealign generate --seeds`` and the exported
``samples.png`` of either model render it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import torch

from ..errors import InputMismatch
from ..grid import save_image_grid
from ..latents import synthesize_seeds

# What two generators must share for "the same z" to mean anything (and for the rows to tile).
_ALIGNED_FIELDS = ("z_dim", "c_dim", "img_resolution", "img_channels")


def check_aligned(parent, child) -> None:
    """ValueError naming the fields where the two generators differ (a child is its parent's shape)."""
    diffs = [f"{key} {getattr(parent, key)} vs {getattr(child, key)}" for key in _ALIGNED_FIELDS
             if getattr(parent, key) != getattr(child, key)]
    if diffs:
        raise InputMismatch(f"parent and child generators differ ({', '.join(diffs)}): a comparison needs a child "
                         "fine-tuned from this parent")


def parent_vs_child_grid(parent, child, out: str | os.PathLike, seeds: Sequence[int],
                         truncation_psi: float = 1.0, class_idx: int | None = None) -> Path:
    """Write the sheet (parent row, child row, ``len(seeds)`` columns) atomically; returns its path."""
    check_aligned(parent, child)
    seeds = list(seeds)
    rows = [synthesize_seeds(G, seeds, truncation_psi=truncation_psi, class_idx=class_idx)
            for G in (parent, child)]
    return save_image_grid(torch.cat(rows), out, ncols=len(seeds))
