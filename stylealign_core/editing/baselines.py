"""Baselines a translation must beat, each an image per scored item (``[N, C, R, R]`` in [-1, 1]):

* ``input``: the source image itself (translation that changes nothing);
* ``random_sample``: a random target-domain sample at the translation's truncation (seed ``seed_start + i``
  for item i, through :mod:`stylealign_core.latents`);
* ``nearest_train``: the target training image nearest to the input (retrieval instead of generation);
* ``mean_image``: the target generator's image of its ``w_avg`` (the same image for every item).
"""
from __future__ import annotations

import torch

from ..latents import z_from_seeds
from .scoring import PerceptualDistance, distance_name
from .translate import render

RANDOM_SEED_START = 1_000_000  # far from the seeds people browse (0-99), fixed so baselines repeat


def random_samples(G, count: int, truncation_psi: float, seed_start: int = RANDOM_SEED_START,
                   batch: int = 16) -> torch.Tensor:
    """``count`` samples of ``G`` from seeds ``seed_start ..``, truncated towards G's ``w_avg``."""
    z = z_from_seeds(range(seed_start, seed_start + count), G.z_dim)
    return render(G, z, "z", truncation_psi, batch=batch)


@torch.no_grad()
def mean_image(G, count: int = 1) -> torch.Tensor:
    """``G``'s image of its own ``w_avg``, repeated ``count`` times."""
    w_avg = G.mapping.w_avg.detach().unsqueeze(0)
    return G.synthesize(w_avg, space="w").cpu().expand(count, -1, -1, -1).clone()


@torch.no_grad()
def nearest_images(queries: torch.Tensor, pool: torch.Tensor, distance: PerceptualDistance | None = None,
                   prefilter: int = 32, batch: int = 64) -> tuple[torch.Tensor, str]:
    """Index into ``pool`` of each query's nearest image, and how "nearest" was decided.

    Without a distance: least pixel MSE. With one: the least ``distance`` among the ``prefilter``
    pixel-nearest pool images (``prefilter`` <= 0 or >= len(pool): the whole pool, exact but slow)."""
    flat_q = queries.float().flatten(1)
    flat_p = pool.float().flatten(1)
    pixel = torch.cdist(flat_q, flat_p).square()  # [Q, P]
    if distance is None:
        return pixel.argmin(1), "least pixel MSE over the whole pool"
    k = len(pool) if prefilter <= 0 or prefilter >= len(pool) else prefilter
    candidates = pixel.topk(k, dim=1, largest=False).indices  # [Q, k]
    pairs_q = torch.arange(len(queries)).repeat_interleave(k)
    pairs_p = candidates.reshape(-1)
    dists = torch.cat([distance(queries[pairs_q[i:i + batch]], pool[pairs_p[i:i + batch]]).float().cpu().reshape(-1)
                       for i in range(0, len(pairs_q), batch)]).reshape(len(queries), k)
    best = candidates.gather(1, dists.argmin(1, keepdim=True))[:, 0]
    how = "whole pool" if k == len(pool) else f"{k} pixel-nearest pool images"
    return best, f"least {distance_name(distance)} distance among the {how}"
