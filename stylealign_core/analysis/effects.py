"""Effect maps and their alignment: the measure behind StyleSpace channel and W-direction alignment.

The effect of an edit (a StyleSpace channel moved by +k std, or w moved along a direction) is the image
change it causes, over a batch of latents: ``render(code + delta) - render(code)``. Two aligned models
agree about an edit when their effect maps correlate. The baseline is the correlation between mismatched
edits (parent's edit i against the child's edit j != i), which is what "aligned" must beat: raw codes
correlate ~1 by construction (the child starts from the parent), effect maps do not have to.
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
import torch


@torch.no_grad()
def effect_maps(render: Callable[[torch.Tensor], torch.Tensor], base: torch.Tensor, deltas: torch.Tensor,
                batch: int = 16, bar=None) -> torch.Tensor:
    """``[K, N, C, R, R]`` image changes of the K edits ``deltas`` ``[K, D]`` applied to the N codes ``base``
    ``[N, D]``; ``render`` maps codes ``[B, D]`` to images. ``bar`` (a tqdm bar) advances per image."""
    if base.ndim != 2 or deltas.ndim != 2 or base.shape[1] != deltas.shape[1]:
        raise ValueError(f"base [N, D] and deltas [K, D] must share D, got {list(base.shape)} and {list(deltas.shape)}")
    base_images = torch.cat([render(base[i:i + batch]) for i in range(0, len(base), batch)])
    codes = (base.unsqueeze(0) + deltas.unsqueeze(1)).reshape(-1, base.shape[1])  # edit-major: [K*N, D]
    edited = []
    for i in range(0, len(codes), batch):
        edited.append(render(codes[i:i + batch]))
        if bar is not None:
            bar.update(len(edited[-1]))
    edited = torch.cat(edited).reshape(len(deltas), len(base), *base_images.shape[1:])
    return edited - base_images.unsqueeze(0)


def pooled(effects: torch.Tensor, size: int) -> torch.Tensor:
    """Effect maps ``[K, N, C, R, R]`` averaged down to ``size`` x ``size`` (0: unchanged), so that the
    correlation measures where and how the image changes rather than pixel-exact edges."""
    if not size or size >= effects.shape[-1]:
        return effects
    k, n = effects.shape[:2]
    flat = torch.nn.functional.adaptive_avg_pool2d(effects.reshape(k * n, *effects.shape[2:]), size)
    return flat.reshape(k, n, *flat.shape[1:])


def correlation_matrix(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Pearson correlation ``[K, M]`` between every flattened map of ``a`` ``[K, ...]`` and of ``b``
    ``[M, ...]`` (float64); NaN where a map is constant (an edit that changes nothing)."""
    a = a.reshape(len(a), -1).double()
    b = b.reshape(len(b), -1).double()
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    a_norm, b_norm = a.norm(dim=1), b.norm(dim=1)
    corr = (a @ b.T) / (a_norm[:, None] * b_norm[None, :])
    corr[(a_norm == 0)[:, None] | (b_norm == 0)[None, :]] = float("nan")
    return corr.clamp(-1, 1).numpy()


def matched_and_mismatched(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per edit i: the matched correlation ``corr[i, i]`` and the mean of its mismatched ones
    ``corr[i, j]`` and ``corr[j, i]``, j != i (NaN with a single edit)."""
    k = corr.shape[0]
    matched = np.diag(corr).copy()
    if k < 2:
        return matched, np.full(k, np.nan)
    off = ~np.eye(k, dtype=bool)
    both = np.where(off, corr, np.nan)
    with warnings.catch_warnings():  # a dead edit (all NaN) stays NaN without a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        mismatched = np.nanmean(np.concatenate([both, both.T], axis=1), axis=1)
    return matched, mismatched


def effect_rms(effects: torch.Tensor) -> np.ndarray:
    """Root-mean-square image change of each edit ``[K]`` (how visible it is, in [-1, 1] pixel units)."""
    return effects.reshape(len(effects), -1).double().square().mean(dim=1).sqrt().numpy()
