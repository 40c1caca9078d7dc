"""Batched sampling from seeds: z, w, w+ or s codes, and images, for a list of seeds.

    z  = latents_from_seeds(G, [0, 1, 2], space="z")                       # [3, z_dim]
    s  = latents_from_seeds(G, seeds, space="s", truncation_psi=0.7)       # [N, s_dim]
    im = synthesize_seeds(G, seeds, truncation_psi=0.7)                    # [N, C, R, R] in [-1, 1], on CPU

Row i depends on ``seeds[i]`` only (z from :func:`~stylealign_core.latents.seeds.z_from_seeds`; chunks
of a fixed ``batch`` size, see ``_batches``), so the same seed gives the same code, and at the same
``batch`` the same pixels, wherever it is sampled: feed it to a parent and to its child and the two
images share their latent. Truncation pulls w towards the generator's ``w_avg``
(it applies from W on; a z code is returned untruncated and truncated when synthesized).
"""
from __future__ import annotations

from typing import Sequence

import torch

from .layout import SPACES
from .seeds import z_from_seeds

DEFAULT_BATCH = 16


def _device_of(G) -> torch.device:
    return next(G.parameters()).device


def class_labels(G, class_idx: int | None, count: int, device=None) -> torch.Tensor | None:
    """One-hot labels [count, c_dim] for class ``class_idx`` of a conditional G; None for an unconditional one."""
    if not G.c_dim:
        if class_idx is not None:
            raise ValueError(f"class_idx={class_idx} given, but the generator is unconditional (c_dim=0): "
                             "leave the class out")
        return None
    if class_idx is None or not 0 <= class_idx < G.c_dim:
        raise ValueError(f"conditional generator (c_dim={G.c_dim}): pass a class index in [0, {G.c_dim}), "
                         f"got {class_idx!r}")
    c = torch.zeros([count, G.c_dim], device=device or _device_of(G))
    c[:, class_idx] = 1
    return c


def _check_space(space: str) -> None:
    if space not in SPACES:
        raise ValueError(f"latent space must be one of {SPACES}, got {space!r}")


def _code_in_space(G, z: torch.Tensor, c, space: str, truncation_psi: float) -> torch.Tensor:
    """z -> the code in ``space`` (w/w+/s truncated towards w_avg by ``truncation_psi``)."""
    if space == "z":
        return z
    latent = G.z_to_w(z, c, truncation_psi=truncation_psi)
    if space in ("w+", "s"):
        latent = G.w_to_wplus(latent)
    return G.wplus_to_s(latent) if space == "s" else latent


def _batches(G, seeds: Sequence[int], class_idx, batch: int, device):
    """(z, c, rows) chunks of exactly ``batch`` rows: the last one is padded by repeating its final z.

    CPU kernels round differently at different batch sizes (a seed rendered alone and in a batch of 16
    can differ in the last float bit, and in a pixel's last uint8 step), but at one batch size a row's
    result does not depend on the other rows. Fixed-size chunks therefore make an image a function of
    its seed alone: seed 3 looks the same in a 2-image comparison and in a 64-image sample sheet.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    device = torch.device(device) if device is not None else _device_of(G)
    z = z_from_seeds(seeds, G.z_dim)
    c = class_labels(G, class_idx, batch, device)
    for i in range(0, len(z), batch):
        zb = z[i:i + batch]
        rows = len(zb)
        if rows < batch:
            zb = torch.cat([zb, zb[-1:].expand(batch - rows, -1)])
        yield zb.to(device), c, rows


@torch.no_grad()
def latents_from_seeds(G, seeds: Sequence[int], space: str = "w", truncation_psi: float = 1.0,
                       class_idx: int | None = None, batch: int = DEFAULT_BATCH, device=None) -> torch.Tensor:
    """Codes of ``seeds`` in ``space`` ("z", "w", "w+" or "s"), on ``device`` (default: G's)."""
    _check_space(space)
    return torch.cat([_code_in_space(G, zb, cb, space, truncation_psi)[:rows]
                      for zb, cb, rows in _batches(G, seeds, class_idx, batch, device)])


@torch.no_grad()
def synthesize_seeds(G, seeds: Sequence[int], truncation_psi: float = 1.0, class_idx: int | None = None,
                     space: str = "z", noise_mode: str = "const", batch: int = DEFAULT_BATCH,
                     device=None) -> torch.Tensor:
    """Images [N, C, R, R] in [-1, 1] (on the CPU) of ``seeds``, synthesized through ``space``.

    Every space gives the same images (up to float rounding): z -> w -> W+ -> S -> image is one path,
    ``space`` only says where it is entered. ``noise_mode`` "const" (default) uses the stored noise maps,
    so an image is a function of (G, seed, truncation_psi, class) alone.
    """
    _check_space(space)
    images = []
    for zb, cb, rows in _batches(G, seeds, class_idx, batch, device):
        latent = _code_in_space(G, zb, cb, space, truncation_psi)
        images.append(G.synthesize(latent, space=space, c=cb, truncation_psi=truncation_psi,
                                   noise_mode=noise_mode)[:rows].cpu())
    return torch.cat(images)
