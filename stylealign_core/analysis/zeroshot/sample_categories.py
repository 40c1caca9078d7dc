"""Recognisable, measured: the category histogram of generator samples under the parent's category classifier.

N samples (seeds ``seed .. seed + N - 1``, z by the project's one seed convention, :mod:`stylealign_core.latents`)
are rendered at ``truncation_psi`` with the generator's constant noise, quantised to uint8 like a saved PNG and
read by the zero-shot category classifier (trained on the parent data set's train split). Beside them, the same
data set's train split twice: its true labels, and the classifier's predictions on those real images, so the
classifier's own bias is visible (compare samples-predicted with reals-predicted, not with the true labels).

    table, info = category_histogram("models/parent/emoji-noto-64/network.json", "models/zeroshot",
                                     "data/emoji-google-64", HistogramSettings(num=2000))
    write_histogram("reports/histogram", table, info)   # histogram.json, histogram.parquet, histogram.png

Shares are over images (every skin-tone variant counts, as the generator's training images do). The summary
has the total variation distance (half the L1 distance of two share vectors) between the samples' predicted
shares and the reals' predicted shares, and the share of images whose top softmax probability is >= 0.5.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ...atomic import publish_dir
from ...errors import OutputExists
from ...latents import SEED_LIMIT, synthesize_seeds
from .errors import ZeroShotError
from .models import predict
from .run import load_task_model, model_path
from .tasks import task_data

TABLE_FILE, JSON_FILE, PLOT_FILE = "histogram.parquet", "histogram.json", "histogram.png"
TASK = "category"


@dataclass(frozen=True)
class HistogramSettings:
    """How many samples (seeds ``seed .. seed + num - 1``), at which truncation, in batches of ``batch``."""

    num: int = 2000
    seed: int = 0
    truncation_psi: float = 1.0
    batch: int = 64
    confident: float = 0.5      # a prediction is "confident" when its top softmax probability is >= this

    def __post_init__(self):
        if int(self.num) < 1 or int(self.batch) < 1:
            raise ZeroShotError(f"histogram num and batch must be >= 1, got num={self.num}, batch={self.batch}")
        if not 0 <= int(self.seed) or int(self.seed) + int(self.num) > SEED_LIMIT:
            raise ZeroShotError(f"seeds {self.seed}..{int(self.seed) + int(self.num) - 1} leave [0, 2^32); "
                                "choose a smaller --seed or --num")
        if not 0.0 < self.confident <= 1.0:
            raise ZeroShotError(f"the confidence threshold must be in (0, 1], got {self.confident}")

    def seeds(self) -> list[int]:
        return list(range(int(self.seed), int(self.seed) + int(self.num)))


def tv_distance(p, q) -> float:
    """Total variation distance of two share vectors: ``0.5 * sum |p - q|`` (0 = equal, 1 = disjoint)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    if p.shape != q.shape:
        raise ZeroShotError(f"share vectors of {p.shape} and {q.shape} classes; compare histograms of one class list")
    return float(0.5 * np.abs(p - q).sum())


def class_counts(indices, num_classes: int) -> np.ndarray:
    """How many of ``indices`` (class indices) fall in each of ``num_classes`` classes."""
    return np.bincount(np.asarray(indices, np.int64).reshape(-1), minlength=num_classes)[:num_classes]


def _uint8_images(images: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] as the uint8 images a saved PNG (and a data set) holds."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


@torch.no_grad()
def sample_probabilities(G, model, settings: HistogramSettings, progress=None) -> torch.Tensor:
    """Softmax probabilities ``[num, classes]`` of the classifier on the generator's samples, seed by seed."""
    if getattr(G, "c_dim", 0):
        raise ZeroShotError(f"the generator is conditional (c_dim={G.c_dim}); the histogram samples an "
                            "unconditional generator: pass the parent's checkpoint")
    seeds, probs = settings.seeds(), []
    with tqdm(total=len(seeds), desc="sample categories", unit="img",
              disable=(not progress) if progress is not None else None) as bar:
        for start in range(0, len(seeds), settings.batch):
            chunk = seeds[start:start + settings.batch]
            images = synthesize_seeds(G, chunk, truncation_psi=settings.truncation_psi, batch=settings.batch)
            probs.append(predict(model, _uint8_images(images), batch=settings.batch).softmax(dim=1))
            bar.update(len(chunk))
    return torch.cat(probs)


def histogram_table(classes: list, sample_probs, real_labels, real_probs) -> pd.DataFrame:
    """One row per class: samples predicted (count, share), real labels and real predicted (count, share)."""
    k = len(classes)
    columns = {"samples": torch.as_tensor(sample_probs).argmax(dim=1), "real_label": torch.as_tensor(real_labels),
               "real_predicted": torch.as_tensor(real_probs).argmax(dim=1)}
    table = pd.DataFrame({"class": np.arange(k), "label": [str(c) for c in classes]})
    for name, indices in columns.items():
        counts = class_counts(indices.numpy(), k)
        table[f"{name}_count"] = counts
        table[f"{name}_share"] = counts / max(1, counts.sum())
    return table


def summary(table: pd.DataFrame, sample_probs, real_probs, confident: float) -> dict:
    """TV distances between the three histograms and the confident shares of samples and reals."""
    def conf(probs):
        return float((torch.as_tensor(probs).max(dim=1).values >= confident).float().mean())

    s, rp, rl = table["samples_share"], table["real_predicted_share"], table["real_label_share"]
    return {"tv_samples_vs_real_predicted": tv_distance(s, rp), "tv_samples_vs_real_labels": tv_distance(s, rl),
            "tv_real_predicted_vs_real_labels": tv_distance(rp, rl),
            "confident_threshold": confident, "confident_share_samples": conf(sample_probs),
            "confident_share_real": conf(real_probs)}


def _checkpoint_sha256(path: Path) -> str:
    """The sha256 of a checkpoint's weights file (what the project keys a model by)."""
    from ...checkpoints import read_checkpoint
    return read_checkpoint(path).sha256


def category_histogram(generator, models_dir, data, settings: HistogramSettings = HistogramSettings(),
                       device="cpu", progress=None) -> tuple[pd.DataFrame, dict]:
    """(table, info) of the generator checkpoint ``generator`` against the train split of ``data``.

    ``models_dir`` holds the category model (``stylealign zeroshot train --task category``); ``info`` records
    the seeds, truncation, the generator's and classifier's sha256 and the summary (:func:`summary`).
    """
    from ...checkpoints import load_generator_and_sha
    model, meta = load_task_model(models_dir, TASK)  # first: a missing model is refused before any sampling
    classes, model_file = list(meta["classes"]), model_path(models_dir, TASK)
    started = time.perf_counter()
    real = task_data(data, TASK, "train", classes=classes, scored=False)
    G, g_sha = load_generator_and_sha(generator, device=device)
    G = G.float().eval().requires_grad_(False)
    sample_probs = sample_probabilities(G, model, settings, progress).cpu()
    real_probs = predict(model, real.images, batch=256).softmax(dim=1)
    table = histogram_table(classes, sample_probs, real.targets, real_probs)
    seeds = settings.seeds()
    info = {"task": TASK, "num_samples": len(seeds), "seeds": {"first": seeds[0], "last": seeds[-1]},
            "seed_convention": "z = numpy RandomState(seed).randn(z_dim) (stylealign_core.latents)",
            "truncation_psi": settings.truncation_psi, "batch": settings.batch, "noise_mode": "const",
            "samples_as": "uint8 (clamped to [-1, 1], rounded, as a saved PNG)",
            "generator": {"path": str(generator), "sha256": g_sha, "resolution": int(G.img_resolution)},
            "classifier": {"path": str(model_file), "sha256": _checkpoint_sha256(model_file),
                           "resolution": int(getattr(model, "resolution", 0)) or None,
                           "trained_on": meta.get("trained_on"), "classes": [str(c) for c in classes]},
            "real": {"data": str(data), "split": "train", "num_images": len(real.ids)},
            "summary": summary(table, sample_probs, real_probs, settings.confident),
            "seconds": round(time.perf_counter() - started, 1)}
    return table, info


def plot_histogram(table: pd.DataFrame, info: dict, path) -> None:
    """Grouped bars per category: real labels, real predicted, samples predicted (shares); summary in the title."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(max(7.0, 0.9 * len(table) + 2), 4.8), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    x, width = np.arange(len(table)), 0.27
    n_real = info["real"]["num_images"]
    for offset, column, color, label in (
            (-width, "real_label_share", "tab:gray", f"real train images: true label (n={n_real})"),
            (0.0, "real_predicted_share", "tab:blue", f"real train images: predicted (n={n_real})"),
            (width, "samples_share", "tab:red", f"generator samples: predicted (n={info['num_samples']})")):
        ax.bar(x + offset, table[column], width, color=color, label=label)
    ax.set_xticks(x, table["label"], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("share of images")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    s = info["summary"]
    ax.set_title(f"categories under the zero-shot classifier; seeds {info['seeds']['first']}-{info['seeds']['last']}, "
                 f"psi={info['truncation_psi']}\n"
                 f"TV(samples, real predicted) = {s['tv_samples_vs_real_predicted']:.3f}; "
                 f"confident (p >= {s['confident_threshold']}): samples {s['confident_share_samples']:.2f}, "
                 f"real {s['confident_share_real']:.2f}", fontsize=9)
    fig.savefig(path, format="png")


def write_histogram(out, table: pd.DataFrame, info: dict, overwrite: bool = False) -> Path:
    """Publish ``out/`` atomically: ``histogram.parquet``, ``histogram.json`` (rows + info) and ``histogram.png``."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputExists(f"{out} already exists; pass --overwrite or choose another --out")

    def build(tmp: Path) -> None:
        table.to_parquet(tmp / TABLE_FILE, index=False)
        rows = json.loads(table.to_json(orient="records"))
        (tmp / JSON_FILE).write_text(json.dumps({"rows": rows, "info": info}, indent=2) + "\n")
        plot_histogram(table, info, tmp / PLOT_FILE)

    publish_dir(out, build, overwrite=True)
    return out


__all__ = ["HistogramSettings", "category_histogram", "class_counts", "histogram_table", "plot_histogram",
           "sample_probabilities", "summary", "tv_distance", "write_histogram"]
