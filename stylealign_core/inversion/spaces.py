"""Where the projector optimises: the start code, the spread of codes and code -> image, per space.

Shapes of one code: z ``[z_dim]``, w ``[w_dim]``, w+ ``[num_ws, w_dim]``, s ``[style_layout.dim]``
(the flat StyleSpace vector in :class:`~stylealign_core.latents.StyleLayout` order).

The spread (``std``) follows the official projector's definition: the root of the mean squared
distance of sampled codes from their mean (a scalar, summed over coordinates), from ``samples`` codes
of a fixed seed. The latent noise of the schedule is scaled by it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..generator import truncate
from ..latents import SPACES
from .errors import InversionError

STATS_SEED = 123
_CHUNK = 1000


def code_shape(G, space: str) -> tuple[int, ...]:
    """Shape of one code of ``G`` in ``space``."""
    check_space(space)
    return {"z": (G.z_dim,), "w": (G.w_dim,), "w+": (G.num_ws, G.w_dim), "s": (G.style_layout.dim,)}[space]


def check_space(space: str) -> str:
    if space not in SPACES:
        raise InversionError(f"unknown latent space {space!r}", f"use one of {', '.join(SPACES)}")
    return space


@dataclass
class SpaceStats:
    """Start code (``avg``, one code) and scalar spread (``std``) of a space."""
    space: str
    avg: torch.Tensor
    std: float


def w_average(G) -> torch.Tensor:
    """The generator's tracked ``w_avg`` (its truncation centre), or a sampled mean when untracked."""
    w_avg = getattr(G.mapping, "w_avg", None)
    if w_avg is not None and bool(w_avg.abs().sum() > 0):
        return w_avg.detach().clone()
    return _sampled(G, "w", 10_000)[0]


@torch.no_grad()
def _sampled(G, space: str, samples: int) -> tuple[torch.Tensor, float]:
    """(mean code, scalar spread) of ``samples`` codes from z ~ N(0, I) of seed :data:`STATS_SEED`."""
    gen = torch.Generator().manual_seed(STATS_SEED)
    device = next(G.parameters()).device
    total, total_sq, count = 0.0, 0.0, 0
    for start in range(0, samples, _CHUNK):
        z = torch.randn([min(_CHUNK, samples - start), G.z_dim], generator=gen).to(device)
        code = z if space == "z" else G.z_to_w(z)
        if space in ("w+", "s"):
            code = G.w_to_wplus(code)
        if space == "s":
            code = G.wplus_to_s(code)
        code = code.double()
        total = total + code.sum(dim=0)
        total_sq = total_sq + code.square().sum(dim=0)
        count += len(code)
    mean = total / count
    variance = (total_sq / count - mean.square()).clamp_min(0).sum()
    return mean.float(), float(variance.sqrt())


def space_stats(G, space: str, samples: int = 10_000) -> SpaceStats:
    """Start code and spread of ``space``: z starts at 0 (StyleAlign's Z projection), w/w+ at w_avg,
    s at S(w_avg)."""
    check_space(space)
    _, std = _sampled(G, space, samples)
    if space == "z":
        return SpaceStats(space, torch.zeros(G.z_dim), std)
    w_avg = w_average(G)
    if space == "w":
        return SpaceStats(space, w_avg, std)
    wplus = G.w_to_wplus(w_avg.unsqueeze(0).to(next(G.parameters()).device))
    if space == "w+":
        return SpaceStats(space, wplus[0].detach().cpu(), std)
    with torch.no_grad():
        return SpaceStats(space, G.wplus_to_s(wplus)[0].cpu(), std)


def to_styles(G, codes: torch.Tensor, space: str, truncation_psi: float = 1.0) -> torch.Tensor:
    """Codes ``[N, *code_shape]`` -> S ``[N, s_dim]``, truncated towards the average by ``truncation_psi``."""
    if space == "z":
        return G.to_s(codes, "z", truncation_psi=truncation_psi)
    if truncation_psi != 1:
        centre = w_average(G).to(codes.device)
        if space == "s":
            centre = G.wplus_to_s(G.w_to_wplus(centre.unsqueeze(0)))[0]
        codes = truncate(codes, centre, truncation_psi)
    return G.to_s(codes, space)


def synthesize_codes(G, codes: torch.Tensor, space: str, truncation_psi: float = 1.0,
                     noise: dict | None = None) -> torch.Tensor:
    """Images in [-1, 1] of codes (explicit per-image ``noise`` maps, else the generator's const noise)."""
    return G.synthesis.from_styles(to_styles(G, codes, space, truncation_psi), noise_mode="const", noise=noise)
