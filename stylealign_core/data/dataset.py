"""PyTorch ``Dataset`` over a stylealign data set directory or a stylegan2-ada-pytorch zip.

``ImageDataset(path)`` reads

* a directory in the format of :mod:`.format` (``dataset.json`` + ``manifest.parquet`` + PNGs);
* a ``.zip`` written by stylegan2-ada-pytorch's ``dataset_tool.py`` (PNGs, optional
  ``dataset.json`` with ``{"labels": [["00000/img00000000.png", 6], ...]}`` or ``null``), or a
  directory of that layout (its ``dataset.json`` has ``labels``, not ``format``).

Items follow the StyleGAN convention: ``(image, label)`` with ``image`` a ``torch.uint8`` tensor
``[C, R, R]`` (0..255, C = 3, or 1 for grey stylegan zips) that the training loop normalises
(``x.float() / 127.5 - 1``), and ``label`` a ``float32`` tensor ``[label_dim]`` (empty without
labels). ``with_masks=True`` adds a third item, the ``uint8 [1, R, R]`` mask (255 everywhere for a
data set without masks). ``xflip=True`` doubles the data set with mirrored copies (indices
``n..2n-1``), like stylegan2-ada-pytorch.

All images are decoded once into one uint8 array in memory (``preload``; by default when it
needs under 2 GiB): the 3,786-image 64 px emoji set loads in well under a second on 2 cores. Views
made by :meth:`ImageDataset.shard` / :meth:`ImageDataset.subset` share that array.
"""
from __future__ import annotations

import copy
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import images
from .archive import list_files
from .errors import DataError
from .format import (DATASET_JSON, IMAGES_DIR, MASKS_DIR, is_dataset_dir, read_manifest,
                     read_metadata)

PRELOAD_LIMIT_BYTES = 2 << 30
_IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm")


class ImageDataset(torch.utils.data.Dataset):
    """Images (+ labels, + masks) of one data set; see the module docstring for the item layout.

    ``split``: ``None`` (all), ``"train"`` or ``"test"`` (stylealign format only).
    ``labels``: ``None`` (no labels), ``True`` (the data set's label columns, or a stylegan zip's
    labels), or a list of manifest columns; categorical columns (``label_columns`` of
    ``dataset.json``, or any string column) become one-hot blocks, numeric ones float scalars.
    ``preload``: decode everything up front (``None``: when it needs < 2 GiB).
    """

    def __init__(self, path: str | os.PathLike, split: str | None = None, xflip: bool = False,
                 with_masks: bool = False, labels=None, preload: bool | None = None,
                 progress: bool | None = None):
        self.path = Path(path).expanduser()
        self.xflip = bool(xflip)
        self.with_masks = bool(with_masks)
        self._progress = progress
        self._zip = None
        self._zip_pid = None
        if self.path.suffix.lower() == ".zip" or not is_dataset_dir(self.path):
            self._open_stylegan(labels)
        else:
            self._open_stylealign(labels)
        n_all = len(self._files)
        if split is not None:
            if split not in ("train", "test"):
                raise DataError(f"unknown split {split!r}", self.path,
                                hint="use split=None, 'train' or 'test'")
            if "split" not in self._table.columns:
                raise DataError(f"split {split!r} requested but this data set has no split",
                                self.path, hint="use split=None for stylegan2-ada zips")
            self._raw_idx = np.flatnonzero(self._table["split"].to_numpy() == split)
        else:
            self._raw_idx = np.arange(n_all)
        self.split = split
        self._cache_slot = np.full(n_all, -1, dtype=np.int64)
        self._cache_images = self._cache_masks = None
        need = len(self._raw_idx) * self.num_channels * self.resolution ** 2
        if preload or (preload is None and need <= PRELOAD_LIMIT_BYTES):
            self.preload()

    # ----------------------------------------------------------------------------- opening
    def _open_stylealign(self, labels) -> None:
        meta = read_metadata(self.path)
        self.metadata = meta
        self.kind = "stylealign"
        self._table = read_manifest(self.path)
        if len(self._table) != meta["num_images"]:
            raise DataError(f"manifest has {len(self._table)} rows but {DATASET_JSON} says "
                            f"{meta['num_images']}", self.path, hint="rebuild the data set")
        self._files = [f"{IMAGES_DIR}/{i}.png" for i in self._table["id"]]
        self._has_masks = bool(meta.get("has_masks"))
        self.resolution = int(meta["resolution"])
        self.num_channels = int(meta["channels"])
        if labels is True:
            labels = list(meta.get("label_columns") or {})
            if not labels:
                raise DataError("labels=True but the data set declares no label columns",
                                self.path, hint="pass a list of manifest columns")
        self._build_labels(labels or [], meta.get("label_columns") or {})

    def _open_stylegan(self, labels) -> None:
        if not self.path.exists():
            raise DataError("data set not found", self.path, hint="check the path")
        is_zip = self.path.is_file() and zipfile.is_zipfile(self.path)
        if self.path.is_dir():
            # A stylegan2-ada directory always has dataset.json with a "labels" key; anything else
            # (no dataset.json, e.g. an unfinished DIR.tmp-<pid> build) gets read_metadata's error.
            try:
                sg = json.loads((self.path / DATASET_JSON).read_text())
            except (OSError, ValueError):
                sg = None
            if not isinstance(sg, dict) or "labels" not in sg or "format" in sg:
                read_metadata(self.path)
                raise DataError("not a data set directory", self.path,
                                hint="build one with `stylealign data folder`")
        elif not is_zip:
            raise DataError("not a data set directory or zip file", self.path,
                            hint="pass a directory built by `stylealign data ...` or a "
                                 "stylegan2-ada-pytorch dataset_tool.py zip")
        self.kind = "stylegan-zip" if is_zip else "stylegan-dir"
        names = list_files(self.path)
        self._files = sorted(n for n in names if n.lower().endswith(_IMAGE_EXTS))
        if not self._files:
            raise DataError("no images in the data set", self.path,
                            hint="a stylegan2-ada zip holds PNG files")
        raw_labels = None
        if DATASET_JSON in names:
            try:
                raw_labels = json.loads(self._read_file(DATASET_JSON)).get("labels")
            except (ValueError, AttributeError) as exc:
                raise DataError(f"unreadable {DATASET_JSON} ({exc})", self.path,
                                hint="re-create the zip with dataset_tool.py") from None
        import pandas as pd
        table = pd.DataFrame({"id": self._files, "file": self._files})
        if raw_labels is not None:
            lab = dict(raw_labels)
            missing = [f for f in self._files if f.replace("\\", "/") not in lab]
            if missing:
                raise DataError(f"{DATASET_JSON} has no label for {missing[0]} "
                                f"({len(missing)} images without labels)", self.path,
                                hint="re-create the zip with dataset_tool.py")
            table["label"] = [lab[f.replace("\\", "/")] for f in self._files]
        self._table = table
        self._has_masks = False
        first = images.decode_array(self._read_file(self._files[0]))
        if first.shape[0] != first.shape[1]:
            raise DataError(f"image {self._files[0]} is {first.shape[1]}x{first.shape[0]}, not "
                            "square", self.path, hint="re-create the data set with square crops")
        self.resolution, self.num_channels = int(first.shape[0]), int(first.shape[2])
        self.metadata = {"format": self.kind, "resolution": self.resolution,
                         "channels": self.num_channels, "num_images": len(self._files),
                         "has_labels": raw_labels is not None, "has_masks": False}
        if labels and raw_labels is None:
            raise DataError("labels requested but the data set has none (dataset.json labels "
                            "null or absent)", self.path, hint="use labels=None")
        if labels and labels is not True and list(labels) != ["label"]:
            raise DataError(f"stylegan2-ada data sets have one label column 'label', not "
                            f"{labels}", self.path, hint="use labels=True")
        self._build_labels(["label"] if labels else [], {})

    def _build_labels(self, columns: list[str], declared: dict) -> None:
        blocks, info = [], []
        n = len(self._table)
        for col in columns:
            if col not in self._table.columns:
                raise DataError(f"label column {col!r} not in the manifest", self.path,
                                hint=f"use some of {sorted(self._table.columns)}")
            values = self._table[col]
            spec = declared.get(col)
            if spec is None and col == "label" and self.kind != "stylealign":
                first = values.iloc[0]
                if isinstance(first, (int, np.integer)):
                    spec = {"type": "categorical", "classes": list(range(int(values.max()) + 1))}
                else:
                    arr = np.asarray(values.tolist(), dtype=np.float32).reshape(n, -1)
                    blocks.append(arr)
                    info.append({"column": col, "type": "float", "size": arr.shape[1]})
                    continue
            if spec is None and values.dtype.kind in "iufb":
                blocks.append(values.to_numpy(np.float32).reshape(n, 1))
                info.append({"column": col, "type": "float", "size": 1})
                continue
            if spec is None:
                spec = {"type": "categorical", "classes": sorted(set(values.astype(str)))}
                values = values.astype(str)
            classes = list(spec["classes"])
            index = {c: i for i, c in enumerate(classes)}
            try:
                codes = np.array([index[v.item() if hasattr(v, "item") else v] for v in values])
            except KeyError as exc:
                raise DataError(f"label column {col!r} has value {exc.args[0]!r} outside its "
                                "declared classes", self.path, hint="rebuild the data set") \
                    from None
            onehot = np.zeros((n, len(classes)), np.float32)
            onehot[np.arange(n), codes] = 1.0
            blocks.append(onehot)
            info.append({"column": col, "type": "categorical", "size": len(classes),
                         "classes": classes})
        self.label_info = info
        self._labels = (np.concatenate(blocks, axis=1) if blocks
                        else np.zeros((n, 0), np.float32))

    # ----------------------------------------------------------------------------- file access
    def _read_file(self, name: str) -> bytes:
        if self.kind == "stylegan-zip":
            if self._zip is None or self._zip_pid != os.getpid():
                self._zip = zipfile.ZipFile(self.path)
                self._zip_pid = os.getpid()
            return self._zip.read(name)
        return (self.path / name).read_bytes()

    def _decode(self, raw: int, mask: bool = False) -> np.ndarray:
        name = self._files[raw]
        if mask:
            name = f"{MASKS_DIR}/{Path(name).name}"
        try:
            arr = images.decode_array(self._read_file(name), 1 if mask else self.num_channels)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise DataError(f"cannot read image {name} ({exc})", self.path,
                            hint="check the data set (stylealign_core.data.verify_dataset) "
                                 "or rebuild it") from None
        if arr.shape[:2] != (self.resolution, self.resolution):
            raise DataError(f"image {name} is {arr.shape[1]}x{arr.shape[0]}, expected "
                            f"{self.resolution}x{self.resolution}", self.path,
                            hint="all images of a data set must have the same size")
        return arr.transpose(2, 0, 1)

    def preload(self) -> "ImageDataset":
        """Decode every image (and mask) of this view into memory once; returns ``self``."""
        todo = np.unique(self._raw_idx[self._cache_slot[self._raw_idx] < 0])
        if len(todo) == 0:
            return self
        n_old = 0 if self._cache_images is None else len(self._cache_images)
        r, c = self.resolution, self.num_channels
        imgs = np.empty((n_old + len(todo), c, r, r), np.uint8)
        keep_masks = self._has_masks and self.with_masks
        masks = np.empty((n_old + len(todo), 1, r, r), np.uint8) if keep_masks else None
        if n_old:
            imgs[:n_old] = self._cache_images
            if masks is not None:
                masks[:n_old] = self._cache_masks
        it = tqdm(todo, desc=f"decode {self.path.name}", unit="img",
                  disable=(not self._progress) if self._progress is not None else None)
        for k, raw in enumerate(it):
            imgs[n_old + k] = self._decode(raw)
            if masks is not None:
                masks[n_old + k] = self._decode(raw, mask=True)
        self._cache_images, self._cache_masks = imgs, masks
        self._cache_slot = self._cache_slot.copy()  # views share the old one: never mutate it
        self._cache_slot[todo] = np.arange(n_old, n_old + len(todo))
        return self

    # ----------------------------------------------------------------------------- Dataset API
    def __len__(self) -> int:
        return len(self._raw_idx) * (2 if self.xflip else 1)

    def _resolve(self, idx: int) -> tuple[int, bool]:
        n = len(self._raw_idx)
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f"index {idx} out of range for {len(self)} items")
        return int(self._raw_idx[idx % n]), idx >= n

    def _image(self, raw: int) -> np.ndarray:
        slot = self._cache_slot[raw]
        return self._cache_images[slot] if slot >= 0 else self._decode(raw)

    def _mask(self, raw: int) -> np.ndarray:
        if not self._has_masks:
            return np.full((1, self.resolution, self.resolution), 255, np.uint8)
        slot = self._cache_slot[raw]
        if slot >= 0 and self._cache_masks is not None:
            return self._cache_masks[slot]
        return self._decode(raw, mask=True)

    def __getitem__(self, idx: int):
        raw, flip = self._resolve(idx)
        img = self._image(raw)
        if flip:
            img = img[:, :, ::-1]
        # Copies: a caller writing into a tensor must never alter the shared cache.
        out = (torch.from_numpy(img.copy()), torch.from_numpy(self._labels[raw].copy()))
        if self.with_masks:
            mask = self._mask(raw)
            out += (torch.from_numpy((mask[:, :, ::-1] if flip else mask).copy()),)
        return out

    def get_label(self, idx: int) -> np.ndarray:
        return self._labels[self._resolve(idx)[0]].copy()

    def get_details(self, idx: int) -> dict:
        """``{"raw_idx", "id", "xflip", "row"}`` of item ``idx`` (``row``: its manifest row)."""
        raw, flip = self._resolve(idx)
        row = self._table.iloc[raw].to_dict()
        return {"raw_idx": raw, "id": row["id"], "xflip": flip, "row": row}

    # ----------------------------------------------------------------------------- info
    @property
    def num_images(self) -> int:
        """Distinct images in this view (without x-flips)."""
        return len(self._raw_idx)

    @property
    def image_shape(self) -> list[int]:
        return [self.num_channels, self.resolution, self.resolution]

    @property
    def label_dim(self) -> int:
        return int(self._labels.shape[1])

    @property
    def label_shape(self) -> list[int]:
        return [self.label_dim]

    @property
    def has_labels(self) -> bool:
        return self.label_dim > 0

    @property
    def has_onehot_labels(self) -> bool:
        return self.has_labels and all(i["type"] == "categorical" for i in self.label_info)

    @property
    def has_masks(self) -> bool:
        return self._has_masks

    @property
    def ids(self) -> list[str]:
        return self._table["id"].iloc[self._raw_idx].tolist()

    @property
    def manifest(self):
        """Manifest rows of this view (pandas DataFrame, in item order, without x-flips)."""
        return self._table.iloc[self._raw_idx].reset_index(drop=True)

    def images_array(self) -> np.ndarray:
        """All images of this view as one uint8 array ``[N, C, R, R]`` (no x-flips)."""
        return np.stack([self._image(int(r)) for r in self._raw_idx]) if len(self._raw_idx) \
            else np.zeros((0, *self.image_shape), np.uint8)

    # ----------------------------------------------------------------------------- views
    def subset(self, indices) -> "ImageDataset":
        """A view of the given image positions (of this view, x-flips not counted)."""
        view = copy.copy(self)
        view._raw_idx = self._raw_idx[np.asarray(indices, dtype=np.int64)]
        view._zip = None
        return view

    def shard(self, index: int, count: int) -> "ImageDataset":
        """Contiguous part ``index`` of ``count`` near-equal parts, for distributed inversion.

        Parts cover every image once, in order; the first ``num_images % count`` parts hold one
        image more than the others (like ``numpy.array_split``)."""
        if count < 1 or not 0 <= index < count:
            raise DataError(f"invalid shard {index} of {count}",
                            hint="use 0 <= index < count")
        n = len(self._raw_idx)
        start = index * (n // count) + min(index, n % count)
        stop = start + n // count + (index < n % count)
        return self.subset(np.arange(start, stop))

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_zip"] = None
        return state

    def __repr__(self) -> str:
        return (f"ImageDataset({str(self.path)!r}, kind={self.kind}, split={self.split}, "
                f"num_images={self.num_images}, resolution={self.resolution}, "
                f"channels={self.num_channels}, label_dim={self.label_dim}, "
                f"xflip={self.xflip}, with_masks={self.with_masks})")


def open_dataset(path: str | os.PathLike, **kwargs) -> tuple[ImageDataset, dict]:
    """``(ImageDataset(path, **kwargs), its metadata dict)``."""
    ds = ImageDataset(path, **kwargs)
    return ds, ds.metadata


def make_loader(dataset: ImageDataset, batch_size: int, *, shuffle: bool = True, seed: int = 0,
                drop_last: bool = True, num_workers: int = 0) -> torch.utils.data.DataLoader:
    """A DataLoader with a seeded shuffle (same order for the same seed)."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                                       generator=gen, drop_last=drop_last,
                                       num_workers=num_workers,
                                       persistent_workers=num_workers > 0)
