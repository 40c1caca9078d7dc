"""Seed -> z: the project's one convention, the official stylegan2-ada-pytorch one.

z for seed ``s`` is ``numpy.random.RandomState(s).randn(z_dim)`` cast to float32, exactly what NVlabs'
``generate.py`` feeds its generators. Every entry point (the API, ``stylealign generate``, the exported
``samples.png``, the parent-vs-child comparison, and the training loop's fixed grid via ``grid_seeds``)
turns seeds into z here, so "the same z in parent and child" and "seed 7 of this model" mean the same
thing everywhere.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

SEED_LIMIT = 2 ** 32  # numpy RandomState accepts seeds in [0, 2^32)


def check_seed(seed) -> int:
    """``seed`` as an int, or a ValueError naming the valid range."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed {seed!r} is not an integer: seeds are integers in [0, 2^32)")
    if not 0 <= int(seed) < SEED_LIMIT:
        raise ValueError(f"seed {seed} is out of range: seeds are integers in [0, 2^32)")
    return int(seed)


def z_from_seed(seed: int, z_dim: int) -> torch.Tensor:
    """z [z_dim] (float32) of one seed: ``RandomState(seed).randn(z_dim)``."""
    return torch.from_numpy(np.random.RandomState(check_seed(seed)).randn(z_dim)).float()


def z_from_seeds(seeds: Iterable[int], z_dim: int, device: str | torch.device | None = None) -> torch.Tensor:
    """z [len(seeds), z_dim] (float32), row i from ``seeds[i]`` alone (independent of the other seeds)."""
    seeds = list(seeds)
    if not seeds:
        raise ValueError("no seeds given: pass at least one seed (e.g. 0-15)")
    z = torch.stack([z_from_seed(seed, z_dim) for seed in seeds])
    return z if device is None else z.to(device)


def grid_seeds(count: int, first: int = 0) -> list[int]:
    """The seeds of a fixed sample grid: ``first .. first + count - 1``.

    Training grids (``samples/fakes*.png``), exported ``samples.png`` (seeds 0-63) and the parent-vs-child
    sheet all start at seed 0 by default, so the same cell shows the same z in every model of a lineage.
    """
    if count < 1:
        raise ValueError(f"a sample grid needs at least one image, got count={count}")
    check_seed(first)
    check_seed(first + count - 1)
    return list(range(first, first + count))


def parse_seeds(text: str) -> list[int]:
    """'0-15', '1,5,7', '0-3,10' -> list of seeds (ranges inclusive, order kept). ValueError when malformed."""
    seeds: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            if "-" in part[1:]:
                lo, hi = (int(v) for v in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise ValueError(f"bad seed list {text!r}: use e.g. 0-15 or 1,5,7") from None
    if not seeds or any(s < 0 or s >= SEED_LIMIT for s in seeds):
        raise ValueError(f"bad seed list {text!r}: seeds are integers in [0, 2^32)")
    return seeds
