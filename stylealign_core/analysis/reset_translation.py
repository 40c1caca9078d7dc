"""Component reset scored by translation quality: the parent-domain codes of the translate stage rendered by the
child, the parent and the child with each component reset to the parent's, scored against the child-domain
image of the same id.

    codes = codes_from_table("runs/invert/parent/latents.parquet", expect_sha256=parent_sha256)
    result = reset_translation(parent, child, codes, "data/emoji-twitter-64", distance=distance)
    result["models"]["synthesis"]["perceptual"]   # mean perceptual distance of the synthesis reset

The recipe is the translate stage's (:func:`stylealign_core.editing.translate.render` at
:func:`~stylealign_core.editing.translate.default_truncation`, ground truth by
:func:`~stylealign_core.editing.evaluate.load_paired_truth`, per-pair scores by
:func:`~stylealign_core.editing.scoring.score_pairs`, means and grouped intervals by
:func:`~stylealign_core.editing.scoring.summarize`), so the ``child`` row is the translate stage's own
translation score. If fine-tuning changed mostly the synthesis convolutions, resetting them brings the score
back to the parent's (the parent draws the source domain), while resetting the mapping or the affines keeps
the child's.
"""
from __future__ import annotations

import os

import pandas as pd

from ..editing.evaluate import load_paired_truth
from ..editing.inputs import Codes
from ..editing.scoring import PerceptualDistance, score_pairs, summarize
from ..editing.translate import DEFAULT_BATCH, default_truncation, render
from .components import RESET_GROUPS
from .reset import reset_models

REFERENCE = "child"


def reset_translation(parent, child, codes: Codes, truth: str | os.PathLike, *, truncation_psi: float | None = None,
                      distance: PerceptualDistance | None = None, groups=tuple(RESET_GROUPS),
                      batch: int = DEFAULT_BATCH, n_boot: int = 1000, seed: int = 0) -> dict:
    """Translation scores of the child, the parent and each reset of ``groups`` for the parent-domain
    ``codes`` against the images of the same ids in the data set ``truth`` (the child domain).

    Returns ``{"models": {name: {perceptual, perceptual_ci, mse, mask_iou, n_items, metric}}, "table": per-item
    long DataFrame, "summary": :func:`summarize` rows (differences to the child), "info": settings}``; ``name``
    is child, parent or the group; ``perceptual`` is None without a distance."""
    psi = default_truncation(codes.space, truncation_psi)
    paired = load_paired_truth(truth, codes.ids)
    frames, rules = [], {}
    for name, G in reset_models(parent, child, groups).items():
        outputs = render(G, codes.latents, codes.space, psi, batch=batch)
        scores, rules = score_pairs(outputs, paired.images, distance, truth_alpha=paired.alpha)
        frames.append(pd.DataFrame({"id": paired.ids, "group": paired.groups, "method": name, **scores}))
    table = pd.concat(frames, ignore_index=True)
    summary = summarize(table, REFERENCE, n_boot=n_boot, seed=seed)
    metric = None if rules["perceptual"] == "none" else rules["perceptual"]
    rows = {(r["method"], r["metric"]): r for r in summary.to_dict("records")}
    models = {}
    for method in table["method"].unique():
        perceptual = rows.get((method, "perceptual"))
        models[method.removeprefix("reset_")] = {
            "perceptual": perceptual and perceptual["mean"],
            "perceptual_ci": perceptual and [perceptual["ci_low"], perceptual["ci_high"]],
            "mse": rows[(method, "mse")]["mean"], "mask_iou": rows[(method, "mask_iou")]["mean"],
            "n_items": len(paired.ids), "metric": metric}
    info = {"space": codes.space, "truncation_psi": psi, "codes": codes.origin, "truth": paired.source,
            "n_items": len(paired.ids), "n_groups": len(set(paired.groups)), "groups": paired.group_column,
            "perceptual_metric": metric, "output_mask": rules["output_mask"], "truth_mask": rules["truth_mask"],
            "bootstrap": {"resamples": n_boot, "seed": seed, "unit": "group", "reference": REFERENCE}}
    return {"models": models, "table": table, "summary": summary, "info": info}
