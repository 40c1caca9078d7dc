"""The zero-shot steps as functions of paths: train a task's model, evaluate a models directory, write results.

    train_task("data/emoji-google-64", "category", "models/zeroshot")          # -> models/zeroshot/category.json
    table, metrics = evaluate_models("models/zeroshot", "data/emoji-twitter-64",
                                     supervised_dir="models/zeroshot-child", to_parent=translate_fn)
    write_results("reports/zeroshot", table, metrics, info={...})
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from tqdm.auto import tqdm

from ...atomic import publish_dir
from ...errors import OutputExists
from .errors import ZeroShotError
from .protocol import BootstrapSettings, LatentInputs, evaluate_task, metrics_json, results_table
from .tasks import TASKS, check_task, task_data
from .train import TrainSettings, load_model, save_model, train_model

TABLE_FILE, JSON_FILE, METRICS_FILE = "zeroshot.parquet", "zeroshot.json", "metrics.json"


def model_path(models_dir, task: str) -> Path:
    """Where a models directory keeps ``task``'s model (a checkpoint ``<task>.json`` + ``.safetensors``)."""
    return Path(models_dir) / f"{check_task(task)}.json"


def train_task(data, task: str, out_dir, settings: TrainSettings = TrainSettings(), progress=None) -> dict:
    """Train ``task``'s model on the train split of ``data``; save it in ``out_dir``; returns a summary."""
    train = task_data(data, task, "train")
    started = time.perf_counter()
    model = train_model(task, train, settings, progress)
    seconds = time.perf_counter() - started
    path = save_model(model_path(out_dir, task).with_suffix(""), model, task, train.classes, settings, source=str(data),
                      extra={"num_train_images": len(train.ids), "train_seconds": round(seconds, 1)})
    return {"task": task, "model": str(path), "num_train_images": len(train.ids), "classes": train.classes,
            "train_seconds": round(seconds, 1)}


def load_task_model(models_dir, task: str, required: bool = True):
    """(model, ``zeroshot`` metadata) of ``task`` in ``models_dir``; (None, None) when absent and not ``required``."""
    path = model_path(models_dir, task)
    if not path.exists():
        if required:
            raise ZeroShotError(f"{models_dir} has no {task} model ({path}); train it with "
                                f"`stylealign zeroshot train --task {task} --out {models_dir}`")
        return None, None
    model, meta = load_model(path)
    if meta.get("task") != task:
        raise ZeroShotError(f"{path} holds a {meta.get('task')!r} model, not {task!r}; retrain it into this file")
    return model, meta


def evaluate_models(models_dir, child_data, *, tasks=None, supervised_dir=None, parent_data=None,
                    to_parent: Callable | None = None, translated_folder=None, latents: LatentInputs | None = None,
                    boot: BootstrapSettings = BootstrapSettings(),
                    latent_settings: TrainSettings = TrainSettings(epochs=30), progress=None):
    """(table, metrics) of every task in ``tasks`` (default: those with a model in ``models_dir``)."""
    tasks = [check_task(t) for t in (tasks or [t for t in TASKS if model_path(models_dir, t).exists()])]
    if not tasks:
        raise ZeroShotError(f"{models_dir} holds no zero-shot model; train one with `stylealign zeroshot train`")
    rows = []
    for task in tqdm(tasks, desc="zeroshot eval", unit="task",
                     disable=(not progress) if progress is not None else None):
        model, meta = load_task_model(models_dir, task, required=True)
        supervised = None
        if supervised_dir is not None:
            supervised, sup_meta = load_task_model(supervised_dir, task, required=True)
            if sup_meta["classes"] != meta["classes"]:
                raise ZeroShotError(f"the supervised {task} model has classes {sup_meta['classes']}, the parent "
                                    f"model {meta['classes']}; train both on emoji data sets of one label set")
        classes = None if task == "mask" else meta["classes"]
        parent_train = None
        if latents is not None and parent_data is not None and task != "mask":
            parent_train = task_data(parent_data, task, "train", classes=classes)
        rows += evaluate_task(task, model, child_data, supervised=supervised, to_parent=to_parent,
                              translated_folder=translated_folder, parent_train=parent_train, latents=latents,
                              classes=classes, latent_settings=latent_settings, boot=boot, progress=progress)
    table = results_table(rows)
    return table, metrics_json(table)


def write_results(out, table, metrics: dict, info: dict | None = None, overwrite: bool = False) -> Path:
    """Publish ``out/`` atomically: the table as Parquet and JSON, and ``metrics.json`` (the report's keys)."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputExists(f"{out} already exists; pass --overwrite or choose another --out")

    def build(tmp: Path) -> None:
        table.to_parquet(tmp / TABLE_FILE, index=False)
        records = json.loads(table.to_json(orient="records"))  # NaN -> null: strict JSON
        (tmp / JSON_FILE).write_text(json.dumps({"rows": records, "info": info or {}}, indent=2) + "\n")
        (tmp / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")

    publish_dir(out, build, overwrite=True)
    return out
