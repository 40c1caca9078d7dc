"""Scores of images against paired ground truth, and bootstrap intervals grouped by base item.

Images are ``[N, C, R, R]`` tensors in [-1, 1]. Per pair of images:

* ``perceptual``: a distance passed in as a callable ``distance(a, b) -> [N]`` (LPIPS or another; its
  ``name`` attribute, when it has one, labels the column's metric in every output);
* ``mse`` and ``l1``: pixel error on [0, 1];
* ``mask_iou``: intersection over union of the foreground masks. A mask comes from the image's alpha
  when one is given (foreground: alpha >= 0.5), else from a non-white threshold (foreground: some
  channel darker than ``1 - WHITE_TOLERANCE``; the data sets store images composited on white, and
  generators draw on white). Which rule made each mask is returned with it.

Intervals: a percentile bootstrap that resamples GROUPS (e.g. a base emoji with all its skin-tone
variants) with replacement, so variants that look alike are not counted as independent evidence.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from .errors import EditError

PerceptualDistance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
WHITE_TOLERANCE = 0.1
ALPHA_THRESHOLD = 0.5
METRICS = ("perceptual", "mse", "l1", "mask_iou")
LOWER_IS_BETTER = {"perceptual": True, "mse": True, "l1": True, "mask_iou": False}


def distance_name(distance) -> str:
    """The label of a perceptual distance callable (its ``name``, else its type or function name)."""
    if distance is None:
        return "none"
    return str(getattr(distance, "name", None) or getattr(distance, "__name__", None) or type(distance).__name__)


def _unit(images: torch.Tensor) -> torch.Tensor:
    return ((images.detach().float().cpu() + 1) / 2).clamp(0, 1)


def _check_pairs(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape or a.ndim != 4:
        raise EditError(f"paired images must have the same [N, C, H, W] shape, got {list(a.shape)} and "
                        f"{list(b.shape)} (do the generator and the ground-truth data set have the same "
                        "resolution and channels?)")


def pixel_errors(a: torch.Tensor, b: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-pair MSE and L1 on [0, 1] (means over pixels and channels)."""
    _check_pairs(a, b)
    diff = _unit(a) - _unit(b)
    return {"mse": diff.square().flatten(1).mean(1).numpy(), "l1": diff.abs().flatten(1).mean(1).numpy()}


def foreground_masks(images: torch.Tensor, alpha: torch.Tensor | None = None) -> tuple[torch.Tensor, str]:
    """Boolean masks [N, H, W] and the rule that made them ("alpha" or "non-white threshold")."""
    if alpha is not None:
        alpha = alpha.detach().float().cpu()
        if alpha.dtype != torch.bool and alpha.max() > 1:
            alpha = alpha / 255.0
        if alpha.ndim == 4:
            alpha = alpha[:, 0]
        if alpha.shape != (images.shape[0], *images.shape[2:]):
            raise EditError(f"alpha of shape {list(alpha.shape)} does not fit images {list(images.shape)}")
        return alpha >= ALPHA_THRESHOLD, f"alpha >= {ALPHA_THRESHOLD}"
    unit = _unit(images)
    return unit.amin(dim=1) < 1.0 - WHITE_TOLERANCE, f"non-white (a channel < {1 - WHITE_TOLERANCE:g})"


def mask_iou(first: torch.Tensor, second: torch.Tensor) -> np.ndarray:
    """Per-pair IoU of boolean masks [N, H, W]; two empty masks count as a perfect match (1)."""
    if first.shape != second.shape:
        raise EditError(f"masks of different shapes: {list(first.shape)} and {list(second.shape)}")
    inter = (first & second).flatten(1).sum(1).double()
    union = (first | second).flatten(1).sum(1).double()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union)).numpy()


def score_pairs(outputs: torch.Tensor, truths: torch.Tensor, distance: PerceptualDistance | None = None,
                output_alpha: torch.Tensor | None = None, truth_alpha: torch.Tensor | None = None,
                batch: int = 64) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Per-pair scores (:data:`METRICS`; ``perceptual`` NaN without a distance) and the rules used."""
    scores = pixel_errors(outputs, truths)
    if distance is not None:
        with torch.no_grad():
            parts = [distance(outputs[i:i + batch], truths[i:i + batch]).detach().float().cpu().reshape(-1)
                     for i in range(0, len(outputs), batch)]
        scores["perceptual"] = torch.cat(parts).numpy()
    else:
        scores["perceptual"] = np.full(len(outputs), np.nan)
    out_mask, out_rule = foreground_masks(outputs, output_alpha)
    truth_mask, truth_rule = foreground_masks(truths, truth_alpha)
    scores["mask_iou"] = mask_iou(out_mask, truth_mask)
    return scores, {"output_mask": out_rule, "truth_mask": truth_rule, "perceptual": distance_name(distance)}


def bootstrap_replicates(values: Sequence[float], groups: Sequence, n_boot: int = 1000,
                         seed: int = 0) -> np.ndarray:
    """``n_boot`` means of ``values`` over resampled groups (every group drawn with replacement, all of its
    items together; the mean is over items, so a large group weighs more)."""
    values = np.asarray(values, dtype=np.float64)
    codes, inverse = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    if len(values) != len(inverse) or len(values) == 0:
        raise EditError(f"bootstrap needs one group per value and at least one value (got {len(values)} "
                        f"values, {len(inverse)} groups)")
    sums = np.bincount(inverse, weights=values, minlength=len(codes))
    counts = np.bincount(inverse, minlength=len(codes)).astype(np.float64)
    draws = np.random.default_rng(seed).integers(0, len(codes), size=(n_boot, len(codes)))
    return sums[draws].sum(1) / counts[draws].sum(1)


def bootstrap_interval(values, groups, n_boot: int = 1000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high): the item mean and its grouped percentile bootstrap interval."""
    if not 0 < level < 1:
        raise EditError(f"interval level must be in (0, 1), got {level}")
    reps = bootstrap_replicates(values, groups, n_boot, seed)
    tail = (1 - level) / 2 * 100
    return float(np.mean(values)), float(np.percentile(reps, tail)), float(np.percentile(reps, 100 - tail))


def summarize(table: pd.DataFrame, reference: str = "translation", n_boot: int = 1000, level: float = 0.95,
              seed: int = 0) -> pd.DataFrame:
    """One row per (method, metric): mean with its grouped interval, and the paired difference
    ``method - reference`` with its interval (same groups resampled). ``table`` is long: columns
    ``id``, ``group``, ``method`` and the :data:`METRICS`."""
    rows = []
    ref = table[table["method"] == reference].set_index("id")
    for method, part in table.groupby("method", sort=False):
        part = part.set_index("id")
        for metric in METRICS:
            vals = part[metric].to_numpy(np.float64)
            if np.isnan(vals).all():
                continue
            mean, lo, hi = bootstrap_interval(vals, part["group"], n_boot, level, seed)
            row = {"method": method, "metric": metric, "mean": mean, "ci_low": lo, "ci_high": hi,
                   "n_items": len(part), "n_groups": part["group"].nunique(), "level": level,
                   "lower_is_better": LOWER_IS_BETTER[metric]}
            if method != reference and len(ref):
                diff = vals - ref.loc[part.index, metric].to_numpy(np.float64)
                row["diff_vs_" + reference], row["diff_ci_low"], row["diff_ci_high"] = \
                    bootstrap_interval(diff, part["group"], n_boot, level, seed)
            rows.append(row)
    return pd.DataFrame(rows)
