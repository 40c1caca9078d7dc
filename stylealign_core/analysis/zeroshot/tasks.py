"""The three zero-shot tasks and which images and targets each one uses (one place for the protocol's split).

* ``category``: the emoji category (10 classes). Trained on every train image, each weighted 1 / (images of its
  base emoji), so a base emoji with five skin-tone variants counts as much as one without; scored on the
  **base emoji** of the test split only (64% of the test images are People & Body skin-tone variants).
* ``skin_tone``: the tone 0..5 (0 = the default yellow, 1..5 = U+1F3FB..U+1F3FF), on the emoji that have
  skin-tone variants (the base and its variants); two-person emoji with two different tones are left out
  (no single answer).
* ``mask``: the foreground (alpha > 127) per pixel. Trained on every train image; scored on the base emoji of
  the test split (the variants repeat the base's shape in other colours).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...data import ImageDataset
from .errors import ZeroShotError

TASKS = ("category", "skin_tone", "mask")
_NEEDED_COLUMNS = ("base_id", "category", "skin_tone", "skin_tone_2")


@dataclass
class TaskData:
    """What one task uses of one split of one data set (row i of every field is one image)."""

    ids: list[str]
    images: torch.Tensor        # uint8 [N, 3, R, R]
    targets: torch.Tensor       # int64 [N] class indices, or bool [N, 1, R, R] masks
    groups: np.ndarray          # base emoji id per image (the bootstrap's unit)
    weights: torch.Tensor       # float32 [N] training weights
    classes: list               # class values (index -> label); [False, True] for masks


def check_task(task: str) -> str:
    if task not in TASKS:
        raise ZeroShotError(f"unknown zero-shot task {task!r}; use one of {', '.join(TASKS)}")
    return task


def open_split(path, split: str, masks: bool = False) -> ImageDataset:
    """One split of an emoji data set, refused with the fix when it lacks the protocol's columns."""
    ds = ImageDataset(path, split=split, with_masks=masks, progress=False)
    missing = [c for c in _NEEDED_COLUMNS if c not in ds.manifest.columns]
    if missing:
        raise ZeroShotError(f"data set {path} has no column(s) {', '.join(missing)}; the zero-shot tasks need an "
                            "emoji data set (`stylealign data emoji --style google --out DIR`)")
    if masks and not ds.has_masks:
        raise ZeroShotError(f"data set {path} has no masks; the mask task needs one built with masks "
                            "(`stylealign data emoji` writes them)")
    if ds.num_images == 0:
        raise ZeroShotError(f"data set {path} has no {split} images; build it with a test fraction above 0")
    return ds


def _rows(manifest, task: str, scored: bool) -> np.ndarray:
    """Row positions the task uses (``scored``: the evaluation subset, else the training subset)."""
    tone, tone2 = manifest["skin_tone"].to_numpy(), manifest["skin_tone_2"].to_numpy()
    if task == "skin_tone":
        with_variants = manifest.groupby("base_id")["skin_tone"].transform("max").to_numpy() > 0
        return np.flatnonzero(with_variants & ((tone2 == 0) | (tone2 == tone)))
    if scored:
        return np.flatnonzero(tone == 0)
    return np.arange(len(manifest))


def task_data(path, task: str, split: str, classes: list | None = None, scored: bool | None = None) -> TaskData:
    """Images and targets of ``task`` in ``split`` of data set ``path``.

    ``scored`` (default: ``split == "test"``) picks the evaluation subset (base emoji for category and mask).
    ``classes``: the class list of a trained model (labels outside it are an error); default: the values seen.
    """
    check_task(task)
    scored = split == "test" if scored is None else scored
    ds = open_split(path, split, masks=task == "mask")
    manifest = ds.manifest
    rows = _rows(manifest, task, scored)
    if len(rows) == 0:
        raise ZeroShotError(f"data set {path} has no {split} images for the {task} task; use the emoji data set")
    sub = ds.subset(rows)
    table = manifest.iloc[rows].reset_index(drop=True)
    groups = table["base_id"].astype(str).to_numpy()
    counts = table.groupby("base_id")["base_id"].transform("size").to_numpy()
    weights = torch.ones(len(rows)) if task != "category" else torch.from_numpy(1.0 / counts).float()
    images = torch.from_numpy(sub.images_array())
    if task == "mask":
        masks = np.stack([sub[i][2].numpy() for i in range(len(sub))])
        return TaskData(sub.ids, images, torch.from_numpy(masks > 127), groups, weights, [False, True])
    values = table[task].tolist()
    classes = sorted(set(values), key=str) if classes is None else list(classes)
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({v for v in values if v not in index}, key=str)
    if unknown:
        raise ZeroShotError(f"data set {path} has {task} label(s) {unknown[:3]} the model does not know "
                            f"(its classes: {classes}); train on a data set with the same label set")
    targets = torch.tensor([index[v] for v in values], dtype=torch.int64)
    return TaskData(sub.ids, images, targets, groups, weights, classes)
