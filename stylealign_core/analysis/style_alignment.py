"""StyleSpace channel alignment: does channel c do the same thing in the parent and in the child?

For each style layer, a sample of channels; for each channel c and each model, the effect map is the image
change when s_c moves by +k std (std of s_c over ``std_samples`` latents, the model's own), over a batch of
latents (the same seeds in both models, each in its own S). The channel's alignment is the Pearson
correlation of the parent's and the child's effect maps; the baseline is the correlation of mismatched
channels of the same layer (parent's c against the child's c' != c). ``raw_s_corr`` (the correlation of the
two models' s_c values over the latents) is recorded for contrast only: it is ~1 by construction.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

from ..latents import latents_from_seeds
from .effects import correlation_matrix, effect_maps, effect_rms, matched_and_mismatched, pooled
from .errors import AnalysisError
from .pair import check_aligned


@dataclass(frozen=True)
class EffectSettings:
    """Sample counts and step size of an effect-map alignment (written next to every figure)."""
    num_latents: int = 16           # latents (seeds seed_start..) the effect maps are computed over
    channels_per_layer: int = 8     # channels sampled per style layer (0: all) / random W directions
    step_std: float = 3.0           # k: the edit moves the code by k standard deviations
    std_samples: int = 1000         # latents the standard deviations are measured over
    seed_start: int = 0
    truncation_psi: float = 1.0
    channel_seed: int = 0           # which channels are sampled / which random directions
    pool: int = 0                   # correlate effect maps averaged down to pool x pool px (0: full resolution)
    batch: int = 16

    def __post_init__(self):
        if self.num_latents < 2 or self.std_samples < 2 or self.batch < 1:
            raise AnalysisError(f"num_latents and std_samples must be >= 2 and batch >= 1, got {self.num_latents}, "
                             f"{self.std_samples} and {self.batch}")
        if self.channels_per_layer < 0 or self.step_std <= 0 or self.pool < 0:
            raise AnalysisError(f"channels_per_layer >= 0, step_std > 0 and pool >= 0 needed, got "
                                f"{self.channels_per_layer}, {self.step_std} and {self.pool}")

    def as_dict(self) -> dict:
        return asdict(self)


def sampled_channels(layout, settings: EffectSettings) -> dict[str, list[int]]:
    """``{layer: sorted channel indices}``: ``channels_per_layer`` channels per style layer (all with 0)."""
    rng = np.random.RandomState(settings.channel_seed)
    chosen = {}
    for layer in layout.layers:
        k = layer.channels if settings.channels_per_layer == 0 else min(settings.channels_per_layer, layer.channels)
        chosen[layer.name] = sorted(int(c) for c in rng.choice(layer.channels, k, replace=False))
    return chosen


def _codes_and_std(G, settings: EffectSettings) -> tuple[torch.Tensor, torch.Tensor]:
    seeds = range(settings.seed_start, settings.seed_start + settings.num_latents)
    std_seeds = range(settings.seed_start, settings.seed_start + settings.std_samples)
    codes = latents_from_seeds(G, seeds, space="s", truncation_psi=settings.truncation_psi, batch=settings.batch)
    std = latents_from_seeds(G, std_seeds, space="s", truncation_psi=settings.truncation_psi,
                             batch=max(settings.batch, 64)).std(dim=0)
    return codes, std


def _renderer(G):
    return lambda s: G.synthesis.from_styles(s, noise_mode="const")


def _layer_rows(layer: str, channels, index, codes, stds, effects, corr) -> list[dict]:
    matched, mismatched = matched_and_mismatched(corr)
    rms = {m: effect_rms(effects[m]) for m in effects}
    rows = []
    for i, (channel, s_index) in enumerate(zip(channels, index)):
        raw = np.corrcoef(codes["parent"][:, s_index].double().numpy(), codes["child"][:, s_index].double().numpy())
        rows.append(dict(layer=layer, channel=channel, s_index=s_index,
                         parent_std=float(stds["parent"][s_index]), child_std=float(stds["child"][s_index]),
                         parent_effect_rms=float(rms["parent"][i]), child_effect_rms=float(rms["child"][i]),
                         matched_corr=float(matched[i]), mismatched_corr=float(mismatched[i]),
                         raw_s_corr=float(raw[0, 1])))
    return rows


def style_channel_alignment(parent, child, settings: EffectSettings = EffectSettings(),
                            progress: bool | None = None) -> pd.DataFrame:
    """One row per sampled channel: its matched effect correlation, the mean mismatched one, effect sizes,
    the two models' std of s_c and (for contrast) the raw S correlation. Layers in network order."""
    from tqdm.auto import tqdm
    check_aligned(parent, child)
    models = {"parent": parent, "child": child}
    layout = parent.style_layout
    coded = {name: _codes_and_std(G, settings) for name, G in models.items()}
    codes = {name: c for name, (c, _) in coded.items()}
    stds = {name: s for name, (_, s) in coded.items()}
    chosen = sampled_channels(layout, settings)
    total = 2 * settings.num_latents * sum(len(c) for c in chosen.values())
    rows = []
    with tqdm(total=total, desc="S-channel effects", unit="img",
              disable=(not progress) if progress is not None else None) as bar:
        for layer, channels in chosen.items():
            index = [layout.index(layer, c) for c in channels]
            effects = {}
            for name, G in models.items():
                deltas = torch.zeros(len(index), layout.dim)
                deltas[range(len(index)), index] = settings.step_std * stds[name][index]
                effects[name] = effect_maps(_renderer(G), codes[name], deltas, batch=settings.batch, bar=bar)
            corr = correlation_matrix(pooled(effects["parent"], settings.pool), pooled(effects["child"], settings.pool))
            rows += _layer_rows(layer, channels, index, codes, stds, effects, corr)
    return pd.DataFrame(rows)


def layer_alignment(channels: pd.DataFrame) -> pd.DataFrame:
    """Per layer (network order): mean and std of the matched and mismatched correlations, their
    difference (the alignment margin), the sampled channel count, and the mean raw S correlation."""
    rows = []
    for layer, group in channels.groupby("layer", sort=False):
        rows.append(dict(layer=layer, channels=len(group),
                         matched_mean=float(group["matched_corr"].mean()),
                         matched_std=float(group["matched_corr"].std(ddof=0)),
                         mismatched_mean=float(group["mismatched_corr"].mean()),
                         mismatched_std=float(group["mismatched_corr"].std(ddof=0)),
                         margin=float(group["matched_corr"].mean() - group["mismatched_corr"].mean()),
                         raw_s_corr_mean=float(group["raw_s_corr"].mean())))
    return pd.DataFrame(rows)
