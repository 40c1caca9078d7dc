"""The zero-shot comparison: models trained on parent-domain (Noto) labels only, scored on child (Twemoji) tests.

Methods (one table row per task x method):

* ``translated`` (route a, the paper's): each child test image goes through ``to_parent`` (invert it into
  the child, generate the aligned parent image from the same code) and the parent model reads the result.
  ``to_parent`` is any callable ``uint8 [B, 3, R, R] -> [B, 3, R, R]`` (uint8, or floats in [-1, 1]), or the
  translated images come as a folder of ``<id>.png``.
* ``latent`` (route b): an MLP trained on parent latents (inversions of parent train images, parent labels)
  applied to child latents (inversions of child test images); classification tasks only.
* ``direct``: the parent model applied to the child images as they are (no alignment).
* ``supervised``: the same model trained on child labels (the upper bound).
* ``chance``: always the majority class of the scored child set (acc = its share); for masks, the
  constant majority pixel class. ``threshold`` (mask only): the non-white threshold mask.

Classification rows carry ``acc`` and ``balanced_acc``, mask rows ``miou``, each with a 95% bootstrap
interval over base emoji (:func:`.evaluate.grouped_bootstrap`). :func:`metrics_json` gives the report's keys
(``zeroshot.category.acc`` = the translated route's accuracy, ``acc_direct``, ``acc_supervised``, ``chance``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from ...data.images import decode_array
from .errors import ZeroShotError
from .evaluate import accuracy, balanced_accuracy, grouped_bootstrap, image_miou, non_white_mask
from .models import predict
from .tasks import TASKS, TaskData, task_data
from .train import TrainSettings, train_latent_classifier

METHODS = ("translated", "latent", "direct", "supervised", "chance", "threshold")
_KEY_SUFFIX = {"translated": "", "direct": "_direct", "supervised": "_supervised", "latent": "_latent",
               "threshold": "_threshold"}


@dataclass(frozen=True)
class BootstrapSettings:
    resamples: int = 1000
    seed: int = 0
    level: float = 0.95


@dataclass
class LatentInputs:
    """Inverted latents of both domains (e.g. from ``stylealign_core.inversion.read_latents``)."""

    parent_ids: list[str]
    parent_latents: torch.Tensor   # [N, ...] codes of parent images (the train split is used)
    child_ids: list[str]
    child_latents: torch.Tensor    # [M, ...] codes of child images (the test split is used)


def _predict_labels(model, images) -> np.ndarray:
    return predict(model, images).argmax(dim=1).numpy()


def _predict_masks(model, images, size) -> torch.Tensor:
    """bool masks at ``size`` (the truth's; logits of a model working at another size are resized)."""
    logits = predict(model, images, batch=128)
    if tuple(logits.shape[-2:]) != tuple(size):
        logits = torch.nn.functional.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=False)
    return logits > 0


def _classification_row(method, pred, truth, groups, boot: BootstrapSettings) -> dict:
    pred, truth = np.asarray(pred), np.asarray(truth)
    row = {"method": method, "n_images": len(truth), "n_groups": len(set(groups))}
    for name, fn in (("acc", accuracy), ("balanced_acc", balanced_accuracy)):
        row[name] = fn(pred, truth)
        row[f"{name}_low"], row[f"{name}_high"] = grouped_bootstrap(
            lambda idx, fn=fn: fn(pred[idx], truth[idx]), groups, boot.resamples, boot.seed, boot.level)
    return row


def _mask_row(method, pred_masks, truth, groups, boot: BootstrapSettings) -> dict:
    per_image = image_miou(pred_masks, truth)
    low, high = grouped_bootstrap(lambda idx: float(per_image[idx].mean()), groups, boot.resamples, boot.seed,
                                  boot.level)
    return {"method": method, "n_images": len(per_image), "n_groups": len(set(groups)),
            "miou": float(per_image.mean()), "miou_low": low, "miou_high": high}


def translated_images(test: TaskData, to_parent: Callable | None = None, folder=None, batch: int = 64):
    """The parent-domain versions of ``test``'s images, from a callable or a folder of ``<id>.png``."""
    if folder is not None:
        folder = Path(folder)
        missing = [i for i in test.ids if not (folder / f"{i}.png").is_file()]
        if missing:
            raise ZeroShotError(f"{folder} lacks {len(missing)} translated image(s), e.g. {missing[0]}.png; "
                                "translate every child test image (files named <id>.png)")
        arrays = [decode_array((folder / f"{i}.png").read_bytes(), 3).transpose(2, 0, 1) for i in test.ids]
        return torch.from_numpy(np.stack(arrays))
    outs = []
    for start in range(0, len(test.ids), batch):
        out = torch.as_tensor(to_parent(test.images[start:start + batch]))
        if out.ndim != 4 or len(out) != len(test.images[start:start + batch]) or out.shape[1] != 3:
            raise ZeroShotError(f"to_parent returned shape {list(out.shape)} for a batch of "
                                f"{len(test.images[start:start + batch])} images; it must return [B, 3, R, R]")
        outs.append(out)
    return torch.cat(outs)


def _latent_lookup(ids: list[str], latent_ids: list[str], latents: torch.Tensor, what: str):
    """Positions in ``ids`` that have a latent, and those latents, in ``ids`` order."""
    where = {str(i): k for k, i in enumerate(latent_ids)}
    keep = [k for k, i in enumerate(ids) if i in where]
    if not keep:
        raise ZeroShotError(f"none of the {len(ids)} {what} images has a latent; invert that split of that data "
                            "set (`stylealign invert`) and pass its table")
    return np.asarray(keep), torch.as_tensor(latents)[[where[ids[k]] for k in keep]].float()


def latent_route_row(task, parent_train: TaskData, test: TaskData, latents: LatentInputs,
                     settings: TrainSettings, boot: BootstrapSettings, progress=None) -> dict:
    """Route b: an MLP on parent latents (parent labels) applied to the child test latents."""
    rows_p, codes_p = _latent_lookup(parent_train.ids, latents.parent_ids, latents.parent_latents, "parent train")
    rows_c, codes_c = _latent_lookup(test.ids, latents.child_ids, latents.child_latents, "child test")
    if codes_p.shape[1:] != codes_c.shape[1:]:
        raise ZeroShotError(f"parent latents are {list(codes_p.shape[1:])} per image but child latents "
                            f"{list(codes_c.shape[1:])}; invert both in the same space")
    model = train_latent_classifier(codes_p, parent_train.targets[rows_p], len(parent_train.classes),
                                    parent_train.weights[rows_p], settings, progress)
    pred = _predict_labels(model, codes_c)
    return _classification_row("latent", pred, test.targets[rows_c].numpy(), test.groups[rows_c], boot)


def _chance_row(task, test: TaskData, boot) -> dict:
    if task == "mask":
        majority = bool(test.targets.float().mean() > 0.5)
        return _mask_row("chance", torch.full_like(test.targets, majority), test.targets, test.groups, boot)
    truth = test.targets.numpy()
    majority = np.bincount(truth).argmax()
    return _classification_row("chance", np.full_like(truth, majority), truth, test.groups, boot)


def evaluate_task(task: str, model, child_data, *, supervised=None, to_parent: Callable | None = None,
                  translated_folder=None, parent_train: TaskData | None = None, latents: LatentInputs | None = None,
                  classes: list | None = None, latent_settings: TrainSettings = TrainSettings(epochs=30),
                  boot: BootstrapSettings = BootstrapSettings(), progress=None) -> list[dict]:
    """Every available method's row for one task (``model``: trained on parent labels)."""
    test = task_data(child_data, task, "test", classes=None if task == "mask" else classes)
    score = _mask_row if task == "mask" else _classification_row
    if task == "mask":
        def run(net, images):
            return _predict_masks(net, images, test.targets.shape[-2:])
    else:
        run = _predict_labels
    truth = test.targets if task == "mask" else test.targets.numpy()
    rows = []
    if to_parent is not None or translated_folder is not None:
        rows.append(score("translated", run(model, translated_images(test, to_parent, translated_folder)),
                          truth, test.groups, boot))
    if latents is not None and task != "mask":
        if parent_train is None:
            raise ZeroShotError("the latent route needs the parent data set (its train labels); pass --parent-data")
        rows.append(latent_route_row(task, parent_train, test, latents, latent_settings, boot, progress))
    rows.append(score("direct", run(model, test.images), truth, test.groups, boot))
    if supervised is not None:
        rows.append(score("supervised", run(supervised, test.images), truth, test.groups, boot))
    rows.append(_chance_row(task, test, boot))
    if task == "mask":
        rows.append(_mask_row("threshold", non_white_mask(test.images), test.targets, test.groups, boot))
    for row in rows:
        row["task"] = task
    return rows


def results_table(rows: list[dict]) -> pd.DataFrame:
    """The rows as a table with fixed columns (NaN where a figure does not apply)."""
    columns = ["task", "method", "n_images", "n_groups"] + [f"{m}{s}" for m in ("acc", "balanced_acc", "miou")
                                                            for s in ("", "_low", "_high")]
    return pd.DataFrame(rows).reindex(columns=columns)


def metrics_json(table: pd.DataFrame) -> dict:
    """``{"zeroshot": {task: {...}}}`` with the report's keys (None where a route was not run)."""
    out = {}
    for task in TASKS:
        sub = table[table["task"] == task].set_index("method")
        if sub.empty:
            continue
        metric = "miou" if task == "mask" else "acc"
        entry = {}
        for method, suffix in _KEY_SUFFIX.items():
            if method == ("latent" if task == "mask" else "threshold"):
                continue  # no latent route for masks, no threshold for classes
            for name in ([metric] if task == "mask" else ["acc", "balanced_acc"]):
                value = sub[name].get(method) if method in sub.index else None
                entry[f"{name}{suffix}"] = None if value is None or pd.isna(value) else float(value)
        if task != "mask":
            entry["chance"] = float(sub.loc["chance", "acc"])
            entry["balanced_chance"] = float(sub.loc["chance", "balanced_acc"])
        else:
            entry["miou_chance"] = float(sub.loc["chance", "miou"])
        entry["n_images"] = int(sub.loc["direct", "n_images"])
        entry["n_base_emoji"] = int(sub.loc["direct", "n_groups"])
        out[task] = entry
    return {"zeroshot": out}
