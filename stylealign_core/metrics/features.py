"""Batched feature extraction: uint8 image batches -> float32 ``[N, 2048]`` features (numpy)."""
from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from .detector import FEATURE_DIM, Detector

DEFAULT_BATCH = 32


def array_batches(images_u8: np.ndarray, batch_size: int = DEFAULT_BATCH) -> Iterator[torch.Tensor]:
    """uint8 ``[N, C, H, W]`` array -> tensors of ``batch_size`` images (the last one shorter)."""
    if images_u8.dtype != np.uint8 or images_u8.ndim != 4:
        raise ValueError(f"images must be a uint8 [N, C, H, W] array, got {images_u8.dtype} {images_u8.shape}")
    for start in range(0, len(images_u8), batch_size):
        yield torch.from_numpy(np.ascontiguousarray(images_u8[start:start + batch_size]))


def extract_features(detector: Detector, batches: Iterable[torch.Tensor], total: int,
                     desc: str = "features", progress: bool | None = None,
                     channels_last: bool = True) -> np.ndarray:
    """Features of the first ``total`` images of ``batches`` (uint8 ``[B, C, H, W]`` tensors), in order.

    ``progress``: ``None`` shows a bar on a terminal, ``False`` never."""
    out = np.empty([total, FEATURE_DIM], np.float32)
    done = 0
    with tqdm(total=total, desc=desc, unit="img", disable=(not progress) if progress is not None else None) as bar:
        for batch in batches:
            if done >= total:
                break
            batch = batch[:total - done]
            out[done:done + len(batch)] = detector.features(batch, channels_last=channels_last).numpy()
            done += len(batch)
            bar.update(len(batch))
    if done < total:
        raise ValueError(f"{desc}: only {done} images were given, {total} were asked for")
    return out
