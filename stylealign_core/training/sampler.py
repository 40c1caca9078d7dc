"""Training data as a stream of batches: memory O(batch), not O(data set).

A *training source* is anything indexable like :class:`~stylealign_core.data.ImageDataset`: ``len()``,
``source[i] -> (uint8 image tensor [C, R, R], float32 label tensor [c])``, ``get_label(i)``,
``image_shape`` and ``label_dim``. ``ImageDataset`` decodes each image when asked (x-flipped copies are
its indices ``n..2n-1``); :class:`ArraySource` serves in-memory numpy arrays through the same interface.

:class:`StepBatchSampler` walks :func:`batch_indices` (a fresh permutation per epoch, seeded by
(seed, epoch)) from a given step on, yielding the indices this process needs for each step, so a resumed
run and an N-process run read exactly the images of an uninterrupted single-process run.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import InputMismatch
from .build import derive_seed


def batch_indices(seed: int, step: int, batch: int, num_images: int) -> np.ndarray:
    """Dataset indices of the global batch at ``step``: walks a fresh permutation each epoch."""
    positions = np.arange(step * batch, (step + 1) * batch)
    out = np.empty(batch, dtype=np.int64)
    for epoch in np.unique(positions // num_images):
        perm = np.random.default_rng(derive_seed(seed, 1, epoch)).permutation(num_images)
        sel = positions // num_images == epoch
        out[sel] = perm[positions[sel] % num_images]
    return out


class ArraySource(torch.utils.data.Dataset):
    """uint8 images ``[N, C, R, R]`` (+ float labels ``[N, c]``) held in memory, served like ImageDataset."""

    def __init__(self, images: np.ndarray, labels: np.ndarray | None = None):
        if not isinstance(images, np.ndarray) or images.ndim != 4 or images.dtype != np.uint8:
            got = f"{images.dtype} {list(images.shape)}" if isinstance(images, np.ndarray) else type(images).__name__
            raise InputMismatch(f"images must be uint8 [N, C, R, R], got {got}")
        if images.shape[2] != images.shape[3]:
            raise InputMismatch(f"images must be square, got {images.shape[2]}x{images.shape[3]}")
        if labels is None:
            labels = np.zeros((len(images), 0), np.float32)
        labels = np.asarray(labels, dtype=np.float32)
        if labels.ndim != 2 or len(labels) != len(images):
            raise InputMismatch(f"labels must be float [N, c] with N = {len(images)} images, got {list(labels.shape)}")
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: int):
        return torch.from_numpy(self.images[idx].copy()), torch.from_numpy(self.labels[idx].copy())

    def get_label(self, idx: int) -> np.ndarray:
        return self.labels[idx].copy()

    @property
    def image_shape(self) -> list[int]:
        return list(self.images.shape[1:])

    @property
    def label_dim(self) -> int:
        return int(self.labels.shape[1])


def as_source(data, labels: np.ndarray | None = None):
    """A training source from a numpy image array (+ labels) or an ImageDataset-like object."""
    if isinstance(data, np.ndarray):
        return ArraySource(data, labels)
    if labels is not None:
        raise InputMismatch("labels are passed with a numpy image array only; a data set brings its own labels "
                         "(ImageDataset(..., labels=True))")
    missing = [a for a in ("__len__", "__getitem__", "get_label", "image_shape", "label_dim") if not hasattr(data, a)]
    if missing:
        raise TypeError(f"training data must be a uint8 numpy array or an ImageDataset-like object; "
                        f"{type(data).__name__} lacks {missing}")
    if len(data) == 0:
        raise InputMismatch(f"{data!r}: no images to train on")
    return data


def gather(source, indices) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (uint8 ``[B, C, R, R]``) and labels (float32 ``[B, c]``) of ``indices``, read one by one."""
    items = [source[int(i)] for i in indices]
    return torch.stack([item[0] for item in items]), torch.stack([item[1] for item in items])


def labels_of(source, indices) -> np.ndarray:
    """float32 labels ``[B, c]`` of ``indices`` without decoding their images."""
    return np.stack([np.asarray(source.get_label(int(i)), np.float32) for i in indices])


class StepBatchSampler(torch.utils.data.Sampler):
    """Per step, the indices of this process's micro-batches (``rounds`` of ``batch_gpu``) of the global
    batch ``batch_indices(seed, step, batch, num_images)``, from ``start_step`` on, without end."""

    def __init__(self, seed: int, batch: int, num_images: int, start_step: int, rank: int, per_rank: int):
        self.seed, self.batch, self.num_images = seed, batch, num_images
        self.start_step, self.rank, self.per_rank = start_step, rank, per_rank

    def __iter__(self):
        step = self.start_step
        while True:
            idx = batch_indices(self.seed, step, self.batch, self.num_images)
            yield idx[self.rank * self.per_rank:(self.rank + 1) * self.per_rank].tolist()
            step += 1


def step_batches(source, seed: int, batch: int, start_step: int, rank: int, per_rank: int, workers: int = 0):
    """An endless iterator of ``(images uint8 [per_rank, C, R, R], labels [per_rank, c])``, one per step
    from ``start_step``; ``workers`` > 0 decodes ahead in that many worker processes."""
    sampler = StepBatchSampler(seed, batch, len(source), start_step, rank, per_rank)
    loader = torch.utils.data.DataLoader(source, batch_sampler=sampler, num_workers=workers,
                                         prefetch_factor=2 if workers else None, persistent_workers=workers > 0)
    return iter(loader)
