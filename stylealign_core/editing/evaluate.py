"""Score translations against paired ground truth: the translation and the four baselines, per item and
summarised with grouped bootstrap intervals.

For the default pair (Noto parent -> Twemoji child) the ground truth of a translated Noto emoji is the
Twemoji image of the same id; items are grouped by ``base_id`` (a base emoji and its skin-tone
variants, the column the emoji data sets store), so intervals resample base emoji, not images. The
nearest-image baseline searches the target data set's training split without the scored groups (no
item can retrieve its own ground truth or one of its skin-tone variants).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from . import baselines
from .errors import EditError
from .scoring import PerceptualDistance, score_pairs, summarize


def _to_float(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).float() / 127.5 - 1


@dataclass
class PairedTruth:
    """Ground-truth images for scored ids, their groups and masks, and a retrieval pool."""
    ids: list[str]
    images: torch.Tensor                 # [N, C, R, R] in [-1, 1]
    groups: list[str]
    alpha: torch.Tensor | None           # [N, 1, R, R] uint8 masks, None when the data set has none
    pool: torch.Tensor                   # [P, C, R, R] in [-1, 1]
    pool_ids: list[str] = field(default_factory=list)
    source: str = ""
    group_column: str = "id"


def _open_by_id(path, ids: list[str]):
    """(data set, its manifest, row of each id); an EditError names ids the data set lacks."""
    from ..data import ImageDataset

    ds = ImageDataset(path, with_masks=True)
    table = ds.manifest
    index = {item: i for i, item in enumerate(table["id"].astype(str))}
    missing = [i for i in ids if i not in index]
    if missing:
        raise EditError(f"{len(missing)} of {len(ids)} ids are not in the data set {path} (first: "
                        f"{', '.join(missing[:3])}): pass the data set the ids came from")
    return ds, table, [index[i] for i in ids]


def images_by_id(path: str | os.PathLike, ids: list[str]) -> torch.Tensor:
    """The images [N, C, R, R] in [-1, 1] of ``ids`` in the data set at ``path``, in that order."""
    ds, _, rows = _open_by_id(path, ids)
    return _to_float(ds.subset(rows).images_array())


def load_paired_truth(path: str | os.PathLike, ids: list[str], pool_split: str | None = "train") -> PairedTruth:
    """The images of ``ids`` in the data set at ``path`` (any split), grouped by ``base_id`` when the
    manifest has it, plus its ``pool_split`` images outside those groups."""
    ds, table, rows = _open_by_id(path, ids)
    group_col = "base_id" if "base_id" in table.columns else "id"
    groups = table[group_col].astype(str).to_numpy()
    chosen = ds.subset(rows)
    alpha = torch.from_numpy(np.stack([chosen[k][2].numpy() for k in range(len(rows))])) if ds.has_masks else None
    scored = set(groups[rows])
    has_split = "split" in table.columns and pool_split is not None
    keep = [i for i in range(len(table)) if groups[i] not in scored
            and (not has_split or table["split"].iloc[i] == pool_split)]
    if not keep:
        raise EditError(f"the ground-truth data set {path} has no {pool_split or ''} images outside the scored "
                        "groups to search for the nearest-image baseline")
    return PairedTruth(ids=list(ids), images=_to_float(chosen.images_array()), groups=list(groups[rows]),
                       alpha=alpha, pool=_to_float(ds.subset(keep).images_array()),
                       pool_ids=[str(table["id"].iloc[i]) for i in keep], source=str(path),
                       group_column=group_col)


def score_translation(outputs: torch.Tensor, inputs: torch.Tensor, truth: PairedTruth, target_G,
                      truncation_psi: float, distance: PerceptualDistance | None = None,
                      prefilter: int = 32, seed_start: int = baselines.RANDOM_SEED_START, n_boot: int = 1000,
                      level: float = 0.95, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(per-item long table, summary, info) for the translation and the baselines."""
    n = len(truth.ids)
    if len(outputs) != n or len(inputs) != n:
        raise EditError(f"{len(outputs)} translations and {len(inputs)} inputs for {n} ground-truth images")
    nearest, nearest_rule = baselines.nearest_images(inputs, truth.pool, distance, prefilter)
    candidates = {
        "translation": outputs,
        "input": inputs,
        "random_sample": baselines.random_samples(target_G, n, truncation_psi, seed_start),
        "nearest_train": truth.pool[nearest],
        "mean_image": baselines.mean_image(target_G, n),
    }
    frames, rules = [], {}
    for method, images in candidates.items():
        scores, rules = score_pairs(images, truth.images, distance, truth_alpha=truth.alpha)
        frames.append(pd.DataFrame({"id": truth.ids, "group": truth.groups, "method": method, **scores}))
    table = pd.concat(frames, ignore_index=True)
    table["nearest_id"] = ""
    table.loc[table["method"] == "nearest_train", "nearest_id"] = [truth.pool_ids[int(i)] for i in nearest]
    summary = summarize(table, "translation", n_boot, level, seed)
    info = {"perceptual_metric": rules["perceptual"], "output_mask": rules["output_mask"],
            "truth_mask": rules["truth_mask"], "nearest_rule": nearest_rule,
            "random_seeds": [seed_start, seed_start + n - 1], "truncation_psi": truncation_psi,
            "groups": truth.group_column, "n_items": n,
            "n_groups": len(set(truth.groups)), "pool_size": len(truth.pool), "truth": truth.source,
            "bootstrap": {"resamples": n_boot, "level": level, "seed": seed, "unit": "group"}}
    return table, summary, info


def scoring_distance(name: str = "auto") -> tuple[PerceptualDistance | None, str | None]:
    """(perceptual distance for scoring, note): ``none`` -> no distance; ``auto`` -> the inversion package's
    default, or no distance and a note saying why when its weights are not installed; else that metric."""
    if name == "none":
        return None, None
    from ..inversion import DEFAULT_METRIC, InversionError, load_metric

    try:
        return load_metric(DEFAULT_METRIC if name == "auto" else name).eval(), None
    except InversionError as exc:  # its weights are not installed here
        if name == "auto":
            return None, f"no perceptual column ({exc}); scoring pixel error and mask IoU only"
        raise EditError(f"perceptual metric {name}: {exc} (or use the metric none)") from None


BASELINE_KEYS = {"input": "baseline_input", "random_sample": "baseline_random", "nearest_train": "baseline_nearest",
                 "mean_image": "baseline_mean"}


def headline_metrics(summary: pd.DataFrame, info: dict) -> dict:
    """The flat metrics of a scored run: ``lpips`` (the translation's mean perceptual distance),
    ``baseline_{input,random,nearest,mean}_lpips``, ``mask_iou``, ``n_items`` and ``metric`` (the perceptual
    metric's name). A value the run did not compute (no perceptual distance) is None."""
    means = {(r["method"], r["metric"]): float(r["mean"]) for r in summary.to_dict("records")}
    perceptual = info.get("perceptual_metric")
    out = {"lpips": means.get(("translation", "perceptual"))}
    for method, key in BASELINE_KEYS.items():
        out[f"{key}_lpips"] = means.get((method, "perceptual"))
    out.update(mask_iou=means.get(("translation", "mask_iou")), n_items=int(info["n_items"]),
               metric=None if perceptual in (None, "none") else perceptual)
    return out
