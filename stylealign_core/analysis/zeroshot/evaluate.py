"""Scores of the zero-shot tasks and their bootstrap intervals, grouped by base emoji.

* accuracy: share of correct predictions; balanced accuracy: the mean over the classes present in the
  truth of each class's recall (so a model that always answers the majority class gets 1 / classes).
* mask IoU per image and class (foreground, background): |pred & truth| / |pred | truth|, 1 when both are
  empty; an image's mIoU is the mean of its two classes' IoU, and a set's mIoU the mean over images.
* the non-white threshold mask: a pixel is foreground when any channel is below ``255 - tolerance``
  (data set images are composited on white), the baseline a segmenter must beat.
* :func:`grouped_bootstrap`: resample the base emoji (groups) with replacement, keeping each base emoji's
  images (its skin-tone variants) together, and recompute the statistic; seeded; percentile interval.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .errors import ZeroShotError

WHITE_TOLERANCE = 8


def accuracy(pred, truth) -> float:
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape or pred.size == 0:
        raise ZeroShotError(f"accuracy needs equal, non-empty prediction and truth arrays, got {pred.shape} and {truth.shape}")
    return float((pred == truth).mean())


def balanced_accuracy(pred, truth) -> float:
    """Mean recall over the classes that occur in ``truth``."""
    pred, truth = np.asarray(pred), np.asarray(truth)
    accuracy(pred, truth)  # the shape checks
    return float(np.mean([(pred[truth == c] == c).mean() for c in np.unique(truth)]))


def mask_iou(pred, truth) -> np.ndarray:
    """``[N, 2]`` IoU of background and foreground per image, for bool masks ``[N, 1, R, R]`` (or ``[N, R, R]``)."""
    pred = torch.as_tensor(pred).bool().reshape(len(pred), -1)
    truth = torch.as_tensor(truth).bool().reshape(len(truth), -1)
    if pred.shape != truth.shape:
        raise ZeroShotError(f"mask IoU needs masks of one shape, got {list(pred.shape)} and {list(truth.shape)}")
    out = []
    for p, t in ((~pred, ~truth), (pred, truth)):
        inter, union = (p & t).sum(1).double(), (p | t).sum(1).double()
        out.append(torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union)))
    return torch.stack(out, 1).numpy()


def image_miou(pred, truth) -> np.ndarray:
    """Per-image mIoU (mean of the background and foreground IoU) ``[N]``."""
    return mask_iou(pred, truth).mean(axis=1)


def non_white_mask(images, tolerance: int = WHITE_TOLERANCE) -> torch.Tensor:
    """bool ``[N, 1, R, R]``: pixels of uint8 images ``[N, 3, R, R]`` where any channel is below 255 - tolerance."""
    images = torch.as_tensor(images)
    if images.dtype != torch.uint8:
        images = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return (images < 255 - tolerance).any(dim=1, keepdim=True)


def group_indices(groups) -> list[np.ndarray]:
    """Row positions of each distinct group, in order of first appearance."""
    groups = np.asarray(groups)
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    order = np.argsort(first)
    return [np.flatnonzero(inverse == g) for g in order]


def grouped_bootstrap(statistic: Callable[[np.ndarray], float], groups, resamples: int = 1000, seed: int = 0,
                      level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of ``statistic(rows)`` over resamples of whole groups.

    ``statistic`` takes an index array into the per-row data (rows of a drawn group appear together, a
    group drawn twice appears twice). Returns ``(low, high)``.
    """
    if resamples < 1 or not 0 < level < 1:
        raise ZeroShotError(f"bootstrap needs resamples >= 1 and 0 < level < 1, got {resamples}, {level}")
    members = group_indices(groups)
    if not members:
        raise ZeroShotError("bootstrap over an empty set of groups")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        drawn = rng.integers(0, len(members), len(members))
        values.append(statistic(np.concatenate([members[g] for g in drawn])))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
