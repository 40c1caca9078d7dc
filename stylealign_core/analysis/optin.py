"""The opt-in parts of the pipeline's analysis: they train small models, so they cost minutes.

* :func:`pca_transfer`: the transfer score of the parent's top W directions (PCA), measured by a
  skin-tone attribute model trained on the CHILD domain's labels, against random directions of the same
  norm (:func:`.controls.control_transfer`). The direction reported is the one whose parent score is the
  largest in magnitude (chosen in the parent, then oriented so that its parent score is positive); its
  child score is the transfer score.
* :func:`zeroshot_run`: the zero-shot label transfer (:mod:`.zeroshot`): the three models trained on the
  parent data set, scored on the child test split against direct, supervised (child-trained) and chance.
  The translated route (route a) runs with a ``to_parent`` callable (:mod:`.zeroshot.translate_route`); without
  one its keys are null.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .controls import ControlSettings, control_transfer
from .zeroshot import BootstrapSettings, ToneAttribute, TrainSettings, evaluate_models, load_model, train_task
from .zeroshot.run import model_path, write_results


def pca_transfer(parent, child, directions: torch.Tensor, child_data, models_dir, *, settings: ControlSettings,
                 train: TrainSettings, progress=None) -> dict:
    """Transfer scores of each row of ``directions`` (W directions) and the headline (see the module doc)."""
    train_task(child_data, "skin_tone", models_dir, train, progress=progress)
    model, meta = load_model(model_path(models_dir, "skin_tone"))
    attribute = ToneAttribute(model, meta["classes"])
    rows = []
    for i, direction in enumerate(directions):
        result = control_transfer(parent, child, direction, "w", attribute, settings)
        rows.append({"direction": f"pca_{i}", **{k: v for k, v in result.items() if k != "settings"}})
    best = max(range(len(rows)), key=lambda i: abs(rows[i]["parent_score"]))
    sign = 1.0 if rows[best]["parent_score"] >= 0 else -1.0
    head = rows[best]
    return {"direction": head["direction"], "parent_score": sign * head["parent_score"],
            "transfer_score": sign * head["child_score"], "random_score": sign * head["random_mean"],
            "random_std": head["random_std"], "random_abs_mean": head["random_abs_mean"],
            "attribute_model": "skin-tone classifier trained on the child data set's train split (expected tone 1..5)",
            "settings": settings.as_dict(), "rows": rows}


def zeroshot_run(parent_data, child_data, out: Path, *, train: TrainSettings, boot: BootstrapSettings,
                 to_parent=None, translated_folder=None, progress=None) -> dict:
    """Train the three tasks on the parent and (upper bound) the child data set, score them; publishes
    ``out/results`` (zeroshot.parquet/json, metrics.json) and returns its ``zeroshot`` metrics and, under
    ``translated``, what route a ran (``to_parent.info()`` of a :class:`.zeroshot.translate_route.ToParent`,
    another callable's name; None without route a)."""
    from .zeroshot import TASKS
    parent_models, child_models = out / "models-parent", out / "models-child"
    for task in TASKS:
        train_task(parent_data, task, parent_models, train, progress=progress)
        train_task(child_data, task, child_models, train, progress=progress)
    table, metrics = evaluate_models(parent_models, child_data, supervised_dir=child_models, to_parent=to_parent,
                                     translated_folder=translated_folder, boot=boot, progress=progress)
    translated = None if to_parent is None else to_parent.info() if hasattr(to_parent, "info") else {
        "callable": getattr(to_parent, "__qualname__", type(to_parent).__qualname__)}
    write_results(out / "results", table, metrics, info={"parent_data": str(parent_data),
                                                         "child_data": str(child_data),
                                                         "translated_folder": translated_folder,
                                                         "translated": translated},
                  overwrite=True)
    return {**metrics, "table": json_rows(table), "translated": translated}


def json_rows(table) -> list[dict]:
    import json
    return json.loads(table.to_json(orient="records"))
