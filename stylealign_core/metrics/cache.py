"""Real-image features, cached per data set content.

A cache entry is keyed by the sha256 of the real images used (their uint8 pixels and shape, so the
key does not depend on the file format), the detector file's sha256 and the image count. It lives
in ``$STYLEALIGN_CACHE/metrics`` (default ``~/.cache/stylealign/metrics``) as an ``.npz`` holding the
float32 features (so both FID statistics and KID subsets come from it), written atomically.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..atomic import write_atomic
from ..data.npm_fetch import cache_root
from .detector import Detector
from .features import DEFAULT_BATCH, array_batches, extract_features


def images_sha256(images_u8: np.ndarray) -> str:
    """sha256 of a uint8 ``[N, C, H, W]`` array's shape and pixels."""
    digest = hashlib.sha256(json.dumps(list(images_u8.shape)).encode())
    digest.update(np.ascontiguousarray(images_u8).tobytes())
    return digest.hexdigest()


def metrics_cache_dir(override: str | os.PathLike | None = None) -> Path:
    return Path(override).expanduser() if override else cache_root() / "metrics"


def cache_path(data_sha256: str, detector_sha256: str, count: int,
               cache_dir: str | os.PathLike | None = None) -> Path:
    return metrics_cache_dir(cache_dir) / f"real-{data_sha256[:24]}-det{detector_sha256[:12]}-n{count}.npz"


def dataset_features(detector: Detector, images_u8: np.ndarray, *, batch_size: int = DEFAULT_BATCH,
                  use_cache: bool = True, cache_dir: str | os.PathLike | None = None,
                  progress: bool | None = None) -> tuple[np.ndarray, dict]:
    """Features of all of ``images_u8`` and ``{"data_sha256", "num_real", "cache", "cached"}``."""
    data_sha256 = images_sha256(images_u8)
    path = cache_path(data_sha256, detector.sha256, len(images_u8), cache_dir)
    info = {"data_sha256": data_sha256, "num_real": int(len(images_u8)),
            "cache": str(path) if use_cache else None, "cached": False}
    if use_cache and path.is_file():
        with np.load(path) as stored:
            if (str(stored["data_sha256"]) == data_sha256 and str(stored["detector_sha256"]) == detector.sha256
                    and stored["features"].shape[0] == len(images_u8)):
                return stored["features"], {**info, "cached": True}
    features = extract_features(detector, array_batches(images_u8, batch_size), len(images_u8),
                                desc="image features", progress=progress)
    if use_cache:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, features=features, data_sha256=data_sha256, detector_sha256=detector.sha256)
        write_atomic(path, write)
    return features, info
