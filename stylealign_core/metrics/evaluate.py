"""Compute FID/KID of a generator (or of a second image set) against a data set, record the counts.

:func:`evaluate_metrics` is the one path used by ``stylealign metrics`` and by
:func:`snapshot_metrics`, which the training loop's ``on_snapshot`` hook calls.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .cache import dataset_features
from .detector import Detector, load_detector
from .errors import MetricsError
from .features import DEFAULT_BATCH, extract_features
from .registry import METRICS, parse_metric_list
from .resize import RESIZE_NAME
from .results import append_records
from .sampler import generated_batches

METRICS_FILE = "metrics.jsonl"


@dataclass
class MetricOptions:
    """Everything a figure depends on besides the two image sets (recorded with each figure)."""
    max_real: int | None = None      # None: every real image of the split
    gen_seed_start: int = 0          # generated image i uses seed gen_seed_start + i
    batch_size: int = DEFAULT_BATCH
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    kid_seed: int | None = 0
    truncation_psi: float = 1.0
    noise_mode: str = "const"
    use_cache: bool = True
    cache_dir: str | None = None
    progress: bool | None = None


def weights_sha256(module: torch.nn.Module) -> str:
    """sha256 of a network's tensors (names, dtypes, shapes, values): the same weights, the same hash."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{list(t.shape)};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def load_images(data, split: str | None = "train", labels: bool = False) -> tuple[np.ndarray, np.ndarray | None, str]:
    """``data`` (a data set directory/zip, an ImageDataset or a uint8 ``[N, C, R, R]`` array) ->
    ``(images, labels or None, description)``. ``split``: "train", "test" or None/"all"."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8 or data.ndim != 4:
            raise MetricsError(f"image array must be uint8 [N, C, R, R], got {data.dtype} {data.shape}",
                               hint="pass the training images as stored (0..255)")
        return data, None, f"array{list(data.shape)}"
    from ..data.dataset import ImageDataset
    split = None if split in (None, "all") else split
    dataset = data if isinstance(data, ImageDataset) else ImageDataset(
        Path(data), split=split, labels=True if labels else None)
    label_array = np.stack([dataset.get_label(i) for i in range(dataset.num_images)]) if labels else None
    return dataset.images_array(), label_array, str(dataset.path)


def _specs_and_counts(names, num_gen, real_count: int, max_real: int | None):
    specs = parse_metric_list(names, num_gen)
    num_real = real_count if max_real is None else min(real_count, int(max_real))
    if num_real < 2:
        raise MetricsError(f"only {num_real} real images", hint="use a data set (split) with at least 2 images")
    return specs, num_real


def evaluate_metrics(G, data, names, *, num_gen: int | None = None, split: str | None = "train",
                     options: MetricOptions | None = None, detector: Detector | None = None,
                     gen_images: np.ndarray | None = None, kimg: float | None = None,
                     network: str | None = None) -> list[dict]:
    """One record per metric in ``names`` (see results.RECORD_KEYS) for ``G`` against ``data``.

    Instead of ``G``, ``gen_images`` (uint8 ``[N, C, R, R]``, e.g. a second data set) may be given;
    its first ``num_gen`` images are used. Generated features are computed once, for the largest
    count asked; a metric with a smaller count uses the first images (seeds) of the same list."""
    opts = options or MetricOptions()
    detector = detector or load_detector()
    conditional = G is not None and int(getattr(G, "c_dim", 0)) > 0
    real, labels, data_name = load_images(data, split, labels=conditional)
    specs, num_real = _specs_and_counts(names, num_gen, len(real), opts.max_real)
    most = max(s.num_gen for s in specs)
    if (G is None) == (gen_images is None):
        raise MetricsError("give either a generator or generated images", hint="pass exactly one of them")
    if gen_images is not None and len(gen_images) < most:  # checked before the (slow) real features
        raise MetricsError(f"{most} generated images asked for, {len(gen_images)} given",
                           hint="lower --num-gen (or the count in the metric name)")
    real_feats, real_info = dataset_features(detector, real[:num_real], batch_size=opts.batch_size,
                                             use_cache=opts.use_cache, cache_dir=opts.cache_dir,
                                             progress=opts.progress)
    if G is not None:
        gen_feats, gen_desc = generator_features(G, most, opts, detector, labels=labels)
    else:
        gen_feats, gen_info = dataset_features(detector, gen_images[:most], batch_size=opts.batch_size,
                                               use_cache=opts.use_cache, cache_dir=opts.cache_dir,
                                               progress=opts.progress)
        gen_desc = {"gen_seeds": None, "network_sha256": None, "gen_data_sha256": gen_info["data_sha256"]}
    real = {"features": real_feats, "num_real": num_real, "data": data_name, "data_sha256": real_info["data_sha256"],
            "split": split}
    return metric_records(specs, real, gen_feats, gen_desc, opts, detector, network=network, kimg=kimg)


def generator_features(G, count: int, options: MetricOptions, detector: Detector,
                       labels: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Detector features of ``G``'s images at seeds ``gen_seed_start ..`` (``count`` of them) and their
    description (``gen_seeds``, ``network_sha256``) for the records."""
    device = next(G.parameters()).device
    seeds = list(range(options.gen_seed_start, options.gen_seed_start + count))
    batches = generated_batches(G, seeds, options.batch_size, labels=labels, truncation_psi=options.truncation_psi,
                                noise_mode=options.noise_mode, device=device)
    feats = extract_features(detector, batches, count, desc="generated features", progress=options.progress)
    return feats, {"gen_seeds": f"{seeds[0]}-{seeds[-1]}", "network_sha256": weights_sha256(G)}


def metric_records(specs, real: dict, gen_feats: np.ndarray, gen_desc: dict, options: MetricOptions,
                   detector: Detector, network: str | None = None, kimg: float | None = None) -> list[dict]:
    """One record per metric spec from features already extracted. ``real``: ``features``, ``num_real``,
    ``data``, ``data_sha256``, ``split``; a spec with ``num_gen`` n uses the first n generated features."""
    records = []
    for spec in specs:
        result = METRICS[spec.base](real["features"], gen_feats[:spec.num_gen], kid_subsets=options.kid_subsets,
                                    kid_subset_size=options.kid_subset_size, kid_seed=options.kid_seed)
        records.append({
            "metric": spec.name, "value": result["value"], "std": result["std"], "num_real": real["num_real"],
            "num_gen": spec.num_gen, "detector": detector.name, "detector_sha256": detector.sha256,
            "resize": RESIZE_NAME if detector.kind == "pool" else "detector-internal",
            "seed": result.get("seed"), "subsets": result.get("subsets"), "subset_size": result.get("subset_size"),
            **gen_desc, "network": network, "kimg": kimg, "data": real["data"],
            "data_sha256": real["data_sha256"], "split": real["split"], "truncation_psi": options.truncation_psi,
            "noise_mode": options.noise_mode, "timestamp": time.time()})
    return records


def snapshot_metrics(G_ema, data, names, *, run_dir: str | os.PathLike | None = None, kimg: float | None = None,
                     num_gen: int | None = None, split: str | None = "train",
                     options: MetricOptions | None = None, network: str | None = None) -> dict:
    """Metrics of a training snapshot, appended to ``run_dir/metrics.jsonl`` when ``run_dir`` is given.

    ``data``: the training images (uint8 array), an ImageDataset or a data set path. Returns
    ``{metric name: record}``."""
    records = evaluate_metrics(G_ema, data, names, num_gen=num_gen, split=split, options=options,
                               kimg=kimg, network=network)
    if run_dir is not None:
        append_records(Path(run_dir) / METRICS_FILE, records)
    return {r["metric"]: r for r in records}
