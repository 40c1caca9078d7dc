"""W-direction alignment: does moving w along direction d do the same thing in the parent and the child?

Defined like the StyleSpace channel alignment (:mod:`.style_alignment`): for each unit direction d in W and
each model, the effect map is the image change when w moves by +k std along d (std of w.d over
``std_samples`` latents, the model's own w), over a batch of latents (same seeds, each model's own mapping).
Alignment is the correlation of the parent's and the child's effect maps, against mismatched pairs of
directions as the baseline. Directions are given (e.g. found in the parent) or drawn at random.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..latents import latents_from_seeds
from .effects import correlation_matrix, effect_maps, effect_rms, matched_and_mismatched, pooled
from .errors import AnalysisError
from .pair import check_aligned
from .style_alignment import EffectSettings


def random_directions(count: int, w_dim: int, seed: int = 0) -> torch.Tensor:
    """``[count, w_dim]`` unit directions, isotropic Gaussian draws normalised (numpy RandomState(seed))."""
    if count < 1:
        raise AnalysisError(f"need at least one direction, got count={count}")
    d = torch.from_numpy(np.random.RandomState(seed).randn(count, w_dim)).float()
    return d / d.norm(dim=1, keepdim=True)


def _unit(directions: torch.Tensor, w_dim: int) -> torch.Tensor:
    directions = torch.as_tensor(directions, dtype=torch.float32)
    if directions.ndim != 2 or directions.shape[1] != w_dim:
        raise AnalysisError(f"directions must have shape [K, {w_dim}] (W has {w_dim} dims), "
                            f"got {list(directions.shape)}")
    norms = directions.norm(dim=1, keepdim=True)
    if (norms == 0).any():
        raise AnalysisError("a direction is all zeros: every direction needs a nonzero norm")
    return directions / norms


def w_direction_alignment(parent, child, directions: torch.Tensor | None = None,
                          settings: EffectSettings = EffectSettings(), progress: bool | None = None) -> pd.DataFrame:
    """One row per direction: matched effect correlation, mean mismatched one, effect sizes and the std
    of w.d in each model. ``directions`` ``[K, w_dim]`` (normalised here); default: ``channels_per_layer``
    random directions (at least 2) drawn with ``channel_seed``."""
    from tqdm.auto import tqdm
    check_aligned(parent, child)
    if directions is None:
        directions = random_directions(max(2, settings.channels_per_layer), parent.w_dim, settings.channel_seed)
    directions = _unit(directions, parent.w_dim)
    seeds = range(settings.seed_start, settings.seed_start + settings.num_latents)
    std_seeds = range(settings.seed_start, settings.seed_start + settings.std_samples)
    effects, stds = {}, {}
    with tqdm(total=2 * len(directions) * settings.num_latents, desc="W-direction effects", unit="img",
              disable=(not progress) if progress is not None else None) as bar:
        for name, G in (("parent", parent), ("child", child)):
            codes = latents_from_seeds(G, seeds, space="w", truncation_psi=settings.truncation_psi,
                                       batch=settings.batch)
            w_std = latents_from_seeds(G, std_seeds, space="w", truncation_psi=settings.truncation_psi,
                                       batch=max(settings.batch, 64))
            stds[name] = (w_std @ directions.T).std(dim=0)  # [K]
            deltas = directions * (settings.step_std * stds[name])[:, None]
            effects[name] = effect_maps(lambda w, G=G: G.synthesize(w, space="w", noise_mode="const"), codes,
                                        deltas, batch=settings.batch, bar=bar)
    corr = correlation_matrix(pooled(effects["parent"], settings.pool), pooled(effects["child"], settings.pool))
    matched, mismatched = matched_and_mismatched(corr)
    rms = {name: effect_rms(e) for name, e in effects.items()}
    return pd.DataFrame([dict(direction=i, parent_std=float(stds["parent"][i]), child_std=float(stds["child"][i]),
                              parent_effect_rms=float(rms["parent"][i]), child_effect_rms=float(rms["child"][i]),
                              matched_corr=float(matched[i]), mismatched_corr=float(mismatched[i]))
                         for i in range(len(directions))])
