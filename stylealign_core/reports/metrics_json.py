"""``reports/metrics.json``: the pipeline's headline numbers as one nested JSON object (DVC metrics).

Built from the outputs the other stages left on disk (:class:`ReportInputs`). Every key of
:data:`REQUIRED` is always present; a value this run could not compute is ``null`` with a sibling
``<key>_reason`` saying why (never an invented number), e.g.::

    "zeroshot": {"category": {"acc": null, "acc_reason": "opt-in, not enabled in params.yaml ..."}}

Sample counts sit next to the figures they produced (``fid.num_gen``, ``kid.subsets``, ...). Keys beyond
:data:`REQUIRED` follow the same rule where noted (e.g. ``alignment.reset.<model>.translation_lpips``).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

REQUIRED = (
    "fid.parent", "kid.parent", "fid.child", "kid.child",
    "translation.lpips", "translation.baseline_input_lpips", "translation.baseline_random_lpips",
    "translation.baseline_nearest_lpips",
    "zeroshot.category.acc", "zeroshot.category.acc_direct", "zeroshot.category.acc_supervised",
    "zeroshot.category.chance",
    "zeroshot.skin_tone.acc", "zeroshot.skin_tone.acc_direct", "zeroshot.skin_tone.acc_supervised",
    "zeroshot.skin_tone.chance",
    "zeroshot.mask.miou", "zeroshot.mask.miou_direct", "zeroshot.mask.miou_supervised",
    "alignment.reset.mapping.kid", "alignment.reset.affine.kid", "alignment.reset.synthesis.kid",
    "alignment.reset.torgb.kid",
    "controls.transfer_score", "controls.random_score",
)
TRANSLATE_KEYS = ("lpips", "baseline_input_lpips", "baseline_random_lpips", "baseline_nearest_lpips",
                  "baseline_mean_lpips", "mask_iou", "n_items", "metric")
NOT_RUN = "{what} not found ({path}): the `{stage}` stage has not run"


@dataclass(frozen=True)
class ReportInputs:
    """Where the report finds the other stages' outputs (any may be missing)."""
    finetune_metrics: Path | None = None     # metrics/finetune.json
    finetune_out: Path | None = None         # runs/child: parent_vs_child.png, log.parquet
    analyze_out: Path | None = None          # runs/analyze: summary.json, plots, tables
    translate_metrics: Path | None = None    # metrics/translate.json
    translate_out: Path | None = None        # runs/translate: contact sheets (*.png)
    morph_out: Path | None = None            # runs/morph: pairs.json + GIFs/strips


def read_json(path) -> object | None:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return None


def put(doc: dict, dotted: str, value, reason: str | None = None) -> None:
    """Set ``doc[a][b][c] = value``; a ``None`` value gets the sibling ``c_reason``."""
    *parents, leaf = dotted.split(".")
    node = doc
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    if value is None:
        node[f"{leaf}_reason"] = reason or "not computed in this run"
    else:
        node.pop(f"{leaf}_reason", None)


def get(doc, dotted: str):
    node = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _fid_kid(doc: dict, summary: dict | None, why: str) -> None:
    rows = {(r["model"], r["domain"]): r for r in (summary or {}).get("fid_kid") or []}
    no_fid = (f"FID not computed in this run (analyze.fid_kid.fid: {(summary or {}).get('fid_computed')}; each "
              "FID costs a 2048x2048 sqrtm, tens of seconds to minutes on 2 CPU cores)")
    for model in ("parent", "child"):
        own, other = rows.get((model, model)), rows.get((model, "child" if model == "parent" else "parent"))
        for metric in ("fid", "kid"):
            put(doc, f"{metric}.{model}", own and own.get(metric), no_fid if own else why)
            put(doc, f"{metric}.{model}_to_{'child' if model == 'parent' else 'parent'}_data",
                other and other.get(metric), no_fid if other else why)
        if own:
            doc["kid"][f"{model}_std"] = own.get("kid_std")
    first = next(iter(rows.values()), None)
    if first:
        doc["fid"].update(num_gen=first["num_gen"], num_real=first["num_real"],
                          meaning="each model against its own domain's train images")
        doc["kid"].update(num_gen=first["num_gen"], num_real=first["num_real"], subsets=first.get("kid_subsets"),
                          subset_size=first.get("kid_subset_size"), seed=first.get("kid_seed"))


def _alignment(doc: dict, summary: dict | None, why: str) -> None:
    resets = (summary or {}).get("reset") or {}
    reason = why if summary is None else (summary.get("not_run") or {}).get("reset", why)
    for group in ("mapping", "affine", "synthesis", "torgb"):
        r = resets.get(group)
        put(doc, f"alignment.reset.{group}.kid", r and r["kid"], reason if not resets else
            f"the reset of {group} was not in analyze.reset.components")
        if r:
            doc["alignment"]["reset"][group]["kid_std"] = r["kid_std"]
    for name in ("child", "parent"):
        if resets.get(name):
            doc["alignment"]["reset"][f"{name}_kid"] = resets[name]["kid"]
    if resets:
        any_r = next(iter(resets.values()))
        doc["alignment"]["reset"].update(num_gen=any_r["num_gen"], num_real=any_r["num_real"])
    _reset_translation(doc, summary, why)
    if summary:
        w, s = summary.get("weights") or {}, summary.get("style_alignment") or {}
        doc["alignment"]["weights"] = {k: w.get(k) for k in (
            "conv_over_mapping", "conv_over_affine", "conv_over_mapping_per_lr", "conv_share_vs_mapping_affine")}
        doc["alignment"]["style"] = {"matched_mean": s.get("matched_mean"), "mismatched_mean": s.get("mismatched_mean"),
                                     "w_direction_matched_mean": (s.get("w_directions") or {}).get("matched_mean"),
                                     "w_direction_mismatched_mean": (s.get("w_directions") or {}).get("mismatched_mean"),
                                     "latents": (s.get("settings") or {}).get("num_latents")}


def _reset_translation(doc: dict, summary: dict | None, why: str) -> None:
    """``alignment.reset.<model>.translation_{lpips,mse,mask_iou}`` for the four groups, the child and the
    parent (always present: null + reason when not scored), ``translation_n_items`` and ``translation_metric``."""
    scored = ((summary or {}).get("reset_translation") or {}).get("models") or {}
    not_run = (summary or {}).get("not_run") or {}
    reason = why if summary is None else not_run.get("reset_translation", not_run.get("reset", "not scored"))
    for model in ("mapping", "affine", "synthesis", "torgb", "child", "parent"):
        r = scored.get(model)
        for key in ("lpips", "mse", "mask_iou"):
            value = r and r["perceptual" if key == "lpips" else key]
            why_here = (reason if not scored else f"the reset of {model} was not in analyze.reset.components"
                        if not r else "no perceptual distance (translate.metric none, or its weights are missing)")
            put(doc, f"alignment.reset.{model}.translation_{key}", value, why_here)
    if scored:
        any_r = next(iter(scored.values()))
        doc["alignment"]["reset"].update(translation_n_items=any_r["n_items"], translation_metric=any_r["metric"])


def _controls_zeroshot(doc: dict, summary: dict | None, why: str) -> None:
    not_run = (summary or {}).get("not_run") or {}
    transfer = (summary or {}).get("controls_transfer")
    reason = why if summary is None else not_run.get("controls", "the transfer score was not computed")
    put(doc, "controls.transfer_score", transfer and transfer["transfer_score"], reason)
    put(doc, "controls.random_score", transfer and transfer["random_score"], reason)
    if transfer:
        doc["controls"].update(random_std=transfer["random_std"], direction=transfer["direction"],
                               num_latents=transfer["settings"]["num_latents"],
                               num_random=transfer["settings"]["num_random"])
    zs = ((summary or {}).get("zeroshot") or {}).get("zeroshot") or {}
    reason = why if summary is None else not_run.get("zeroshot", "zero-shot results missing")
    route_a_off = not_run.get("zeroshot.translated", "the translated route needs the child test images translated "
                              "to the parent, which this run did not provide")
    for dotted in [k for k in REQUIRED if k.startswith("zeroshot.")]:
        _, task, key = dotted.split(".")
        value = (zs.get(task) or {}).get(key)
        why_here = reason if not zs else route_a_off if key in ("acc", "miou") else "not computed"
        put(doc, dotted, value, why_here)
    for task, entry in zs.items():
        for key, value in entry.items():
            doc["zeroshot"].setdefault(task, {}).setdefault(key, value)


def _translation(doc: dict, inputs: ReportInputs) -> None:
    data = read_json(inputs.translate_metrics) if inputs.translate_metrics else None
    why = NOT_RUN.format(what="translation metrics", path=inputs.translate_metrics, stage="translate")
    if isinstance(data, dict) and isinstance(data.get("translation"), dict):
        data = data["translation"]
    for key in TRANSLATE_KEYS:
        value = data.get(key) if isinstance(data, dict) else None
        if key in ("lpips", "baseline_input_lpips", "baseline_random_lpips", "baseline_nearest_lpips") or value is not None:
            put(doc, f"translation.{key}", value, why if data is None else f"{key} missing from {inputs.translate_metrics}")


def build_metrics(inputs: ReportInputs) -> dict:
    """The metrics.json document (every :data:`REQUIRED` key present; null + ``_reason`` when missing)."""
    doc: dict = {}
    summary_path = Path(inputs.analyze_out) / "summary.json" if inputs.analyze_out else None
    summary = read_json(summary_path) if summary_path else None
    why = NOT_RUN.format(what="analysis summary", path=summary_path, stage="analyze")
    _fid_kid(doc, summary, why)
    _translation(doc, inputs)
    _controls_zeroshot(doc, summary, why)
    _alignment(doc, summary, why)
    finetune = read_json(inputs.finetune_metrics) if inputs.finetune_metrics else None
    doc["finetune"] = finetune if isinstance(finetune, dict) else {
        "kimg": None, "kimg_reason": NOT_RUN.format(what="fine-tuning metrics", path=inputs.finetune_metrics,
                                                    stage="finetune")}
    missing = [k for k in REQUIRED if get(doc, k) is None and get(doc, k + "_reason") is None]
    if missing:  # put() always leaves a value or a reason; this guards the builders above
        raise RuntimeError(f"metrics.json builders left {missing} without a value or a reason")
    return doc


def null_keys(doc: dict) -> dict[str, str]:
    """``{dotted key: reason}`` of every required key that is null."""
    return {k: get(doc, k + "_reason") for k in REQUIRED if get(doc, k) is None}


def write_metrics(path: str | os.PathLike, doc: dict) -> Path:
    from ..atomic import write_json_atomic
    return write_json_atomic(path, doc, sort_keys=False)
