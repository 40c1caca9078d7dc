"""Training of the zero-shot models: seeded and deterministic (same data + settings = same weights).

    model = train_model("category", data, TrainSettings(epochs=6))      # data: a tasks.TaskData
    save_model("models/zeroshot/category", model, "category", data.classes, settings, source="data/noto")
    model, meta = load_model("models/zeroshot/category.json")

Adam on the (weighted) cross entropy for classifiers, per-pixel binary cross entropy for the segmenter;
image models see a random shift of up to ``shift`` pixels per batch (padding white, the data sets'
background). The shuffle and the shifts come from one ``torch.Generator`` seeded with ``seed``; weights are
initialised under the same seed without touching the global random state.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ...checkpoints import load_checkpoint, save_checkpoint
from .errors import ZeroShotError
from .models import ForegroundSegmenter, ImageClassifier, LatentClassifier
from .tasks import TaskData, check_task

MODEL_KEY = "model"


@dataclass(frozen=True)
class TrainSettings:
    """Training settings (CPU sized: 6 epochs of the 3,402 Noto train images at batch 64, read at 32 px)."""

    epochs: int = 6
    batch: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    width: int = 32          # first conv's channels (the segmenter uses half)
    shift: int = 4           # max random shift in pixels (image models)
    hidden: int = 256        # latent MLP hidden units (0: linear)
    resolution: int = 32     # image models' input size (images are resized to it; 64 px costs 4x)

    def __post_init__(self):
        for name in ("epochs", "batch", "width", "resolution"):
            if int(getattr(self, name)) < 1:
                raise ZeroShotError(f"training setting {name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.shift < 0 or self.hidden < 0 or self.weight_decay < 0:
            raise ZeroShotError("training settings lr must be > 0 and shift, hidden, weight_decay >= 0; "
                                f"got {asdict(self)}")


def _shift_batch(images, targets, max_shift, gen, is_mask: bool):
    if max_shift == 0:
        return images, targets
    dy, dx = torch.randint(-max_shift, max_shift + 1, (2,), generator=gen).tolist()
    pad = (max_shift, max_shift, max_shift, max_shift)
    r = images.shape[-1]
    crop = (slice(None), slice(None), slice(max_shift - dy, max_shift - dy + r), slice(max_shift - dx, max_shift - dx + r))
    images = F.pad(images, pad, value=1.0)[crop]
    if is_mask:
        targets = F.pad(targets, pad, value=0.0)[crop]
    return images, targets


def _fit(model, inputs, targets, weights, settings: TrainSettings, is_mask: bool, image_model: bool,
         desc: str, progress) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(int(settings.seed) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    n = len(inputs)
    steps = settings.epochs * ((n + settings.batch - 1) // settings.batch)
    bar = tqdm(total=steps, desc=desc, unit="step", disable=(not progress) if progress is not None else None)
    model.train()
    with bar:
        for _ in range(settings.epochs):
            order = torch.randperm(n, generator=gen)
            for start in range(0, n, settings.batch):
                idx = order[start:start + settings.batch]
                x, y, w = inputs[idx], targets[idx], weights[idx]
                if image_model:
                    x = model_input(x)
                    x, y = _shift_batch(x, y.float() if is_mask else y, settings.shift, gen, is_mask)
                out = model(x)
                if is_mask:
                    y = F.interpolate(y.float(), size=out.shape[-2:], mode="area")  # soft targets at model size
                    loss = F.binary_cross_entropy_with_logits(out, y)
                else:
                    loss = (F.cross_entropy(out, y, reduction="none") * w).sum() / w.sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    model.eval()
    return model


def model_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 images as floats in [-1, 1] (the models accept either; converting once keeps the shift padding right)."""
    return images.float() / 127.5 - 1.0 if images.dtype == torch.uint8 else images.float()


def build_model(task: str, num_classes: int, resolution: int, settings: TrainSettings) -> torch.nn.Module:
    """A freshly initialised image model for ``task`` (seeded, global random state untouched)."""
    check_task(task)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(settings.seed))
        if task == "mask":
            return ForegroundSegmenter(resolution=resolution, width=max(1, settings.width // 2))
        return ImageClassifier(num_classes=num_classes, resolution=resolution, width=settings.width)


def train_model(task: str, data: TaskData, settings: TrainSettings = TrainSettings(), progress=None) -> torch.nn.Module:
    """Train the image model of ``task`` on ``data`` (a :class:`TaskData`)."""
    if len(data.ids) < 2:
        raise ZeroShotError(f"the {task} task has {len(data.ids)} training image(s); it needs at least 2")
    model = build_model(task, len(data.classes), settings.resolution, settings)
    return _fit(model, data.images, data.targets, data.weights, settings, task == "mask", True,
                f"train {task}", progress)


def train_latent_classifier(latents: torch.Tensor, targets: torch.Tensor, num_classes: int,
                            weights: torch.Tensor | None = None, settings: TrainSettings = TrainSettings(),
                            progress=None) -> LatentClassifier:
    """An MLP on flattened latents (``[N, 512]`` W or ``[N, L, 512]`` W+) -> class logits, trained seeded."""
    latents = torch.as_tensor(latents).float()
    if len(latents) != len(targets) or len(latents) < 2:
        raise ZeroShotError(f"latent classifier: {len(latents)} latents for {len(targets)} labels; give one label "
                            "per latent and at least 2")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(settings.seed))
        model = LatentClassifier(in_features=int(latents[0].numel()), num_classes=num_classes, hidden=settings.hidden)
    weights = torch.ones(len(latents)) if weights is None else weights.float()
    return _fit(model, latents, targets, weights, settings, False, False, "train latent", progress)


def save_model(path, model: torch.nn.Module, task: str, classes: list, settings: TrainSettings,
               source: str = "", extra: dict | None = None):
    """Save ``model`` with what eval needs: the task, its classes, the settings, the training data."""
    meta = {"zeroshot": {"task": task, "classes": list(classes), "settings": asdict(settings),
                         "trained_on": str(source), **(extra or {})}}
    return save_checkpoint(path, {MODEL_KEY: model}, metadata=meta)


def load_model(path: str | os.PathLike) -> tuple[torch.nn.Module, dict]:
    """(model, its ``zeroshot`` metadata) of a checkpoint written by :func:`save_model`."""
    ckpt = load_checkpoint(path)
    meta = ckpt.metadata.get("zeroshot")
    if MODEL_KEY not in ckpt.networks or not isinstance(meta, dict):
        raise ZeroShotError(f"{path} is not a zero-shot model checkpoint; train one with `stylealign zeroshot train`")
    model = ckpt.networks[MODEL_KEY]
    model.eval()
    return model, meta
