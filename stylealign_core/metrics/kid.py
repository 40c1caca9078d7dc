"""Kernel Inception Distance with the stylegan2-ada-pytorch conventions, made reproducible.

Cubic polynomial kernel ``k(x, y) = (x.y / D + 1)^3``; per subset the unbiased MMD^2 estimate
``[(sum(Kxx + Kyy) - trace) / (m - 1) - 2 sum(Kxy) / m] / m``; KID is the mean over subsets of size
``m = min(num_real, num_gen, max_subset_size)`` and its std the standard deviation over subsets.
The official code draws subsets from numpy's global generator, unseeded; here they come from
``numpy.random.RandomState(seed)`` in the same order (per subset: generated indices, then real
ones, each ``choice(n, m, replace=False)``), so ``np.random.seed(seed)`` before the official
``compute_kid`` gives the same subsets. Kernel sums are float64 (the official ones float32).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KIDResult:
    value: float
    std: float
    num_subsets: int
    subset_size: int
    seed: int | None


def draw_kid_subsets(num_real: int, num_gen: int, num_subsets: int, max_subset_size: int,
                     seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """``(gen_idx, real_idx)``, each ``[num_subsets, m]``, drawn like the official loop."""
    if num_subsets < 1 or max_subset_size < 2:
        raise ValueError(f"KID needs num_subsets >= 1 and max_subset_size >= 2, got "
                         f"{num_subsets} and {max_subset_size}")
    m = min(num_real, num_gen, max_subset_size)
    if m < 2:
        raise ValueError(f"KID needs at least 2 real and 2 generated images, got {num_real} and {num_gen}")
    rng = np.random.RandomState(seed)
    gen_idx = np.empty([num_subsets, m], np.int64)
    real_idx = np.empty([num_subsets, m], np.int64)
    for i in range(num_subsets):
        gen_idx[i] = rng.choice(num_gen, m, replace=False)
        real_idx[i] = rng.choice(num_real, m, replace=False)
    return gen_idx, real_idx


def mmd2_per_subset(real_features: np.ndarray, gen_features: np.ndarray, gen_idx: np.ndarray,
                    real_idx: np.ndarray) -> np.ndarray:
    """The unbiased MMD^2 estimate of every subset (float64)."""
    dim = real_features.shape[1]
    m = gen_idx.shape[1]
    values = np.empty(len(gen_idx), np.float64)
    for i, (g, r) in enumerate(zip(gen_idx, real_idx)):
        x = gen_features[g].astype(np.float64)
        y = real_features[r].astype(np.float64)
        a = (x @ x.T / dim + 1) ** 3 + (y @ y.T / dim + 1) ** 3
        b = (x @ y.T / dim + 1) ** 3
        values[i] = ((a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m) / m
    return values


def compute_kid(real_features: np.ndarray, gen_features: np.ndarray, num_subsets: int = 100,
                max_subset_size: int = 1000, seed: int | None = 0) -> KIDResult:
    """KID (mean and std over subsets) between two feature sets ``[N, 2048]``."""
    if real_features.shape[1:] != gen_features.shape[1:]:
        raise ValueError(f"feature sets differ in width: {real_features.shape} vs {gen_features.shape}")
    gen_idx, real_idx = draw_kid_subsets(len(real_features), len(gen_features), num_subsets,
                                         max_subset_size, seed)
    values = mmd2_per_subset(real_features, gen_features, gen_idx, real_idx)
    return KIDResult(value=float(values.mean()), std=float(values.std()), num_subsets=num_subsets,
                     subset_size=gen_idx.shape[1], seed=seed)
