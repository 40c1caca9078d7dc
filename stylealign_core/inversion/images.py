"""Images to invert: a stylealign data set, a stylegan2-ada zip, or any folder/archive of image files.

Each image gets an ``id`` (the data set's id, else its relative path without the extension), its
position ``index`` in the listing, the sha256 of its file bytes (the latents-cache key) and its
pixels at the generator's resolution. Images of another size are centre-cropped and resized (Lanczos,
on white), with a warning naming them; unreadable images are reported and skipped, or refused with
``strict``. An input without images is an error.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.archive import iter_files, list_files
from ..data.format import IMAGES_DIR, is_dataset_dir, read_manifest
from ..data.images import BadImage, open_image, square_resize, to_rgb_alpha
from .errors import InversionError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm")


class ResizedImageWarning(UserWarning):
    """An input image was not at the generator's resolution and was resized."""


@dataclass(frozen=True)
class InputEntry:
    index: int
    id: str
    name: str          # file name relative to the input


@dataclass
class InputImage:
    entry: InputEntry
    sha256: str
    pixels: np.ndarray  # uint8 [R, R, C]
    resized_from: tuple[int, int] | None = None


def list_inputs(src: str | os.PathLike, split: str | None = None) -> list[InputEntry]:
    """The images of ``src`` in a fixed order (data set order, else sorted file names)."""
    src = Path(src)
    if not src.exists():
        raise InversionError(f"input not found: {src}", "pass a data set directory or a folder of images")
    if is_dataset_dir(src):
        table = read_manifest(src)
        if split is not None:
            table = table[table["split"] == split]
        ids = [str(i) for i in table["id"]]
        entries = [InputEntry(k, image_id, f"{IMAGES_DIR}/{image_id}.png") for k, image_id in enumerate(ids)]
    else:
        names = [n for n in list_files(src) if n.lower().endswith(IMAGE_SUFFIXES)]
        entries = [InputEntry(k, _id_of(n), n) for k, n in enumerate(names)]
    if not entries:
        raise InversionError(f"no images to invert in {src}" + (f" (split {split})" if split else ""),
                             "pass a data set or a folder holding PNG/JPEG files")
    ids = [e.id for e in entries]
    if len(set(ids)) != len(ids):
        raise InversionError(f"two images of {src} share an id", "give the files distinct names (not a.png and a.jpg)")
    return entries


def _id_of(name: str) -> str:
    stem, dot, suffix = name.rpartition(".")
    return stem if dot and ("." + suffix.lower()) in IMAGE_SUFFIXES else name


def decode(data: bytes, resolution: int, channels: int) -> tuple[np.ndarray, tuple[int, int] | None]:
    """uint8 ``[R, R, channels]`` of one file (on white), and its original (width, height) if resized."""
    rgb, alpha = to_rgb_alpha(open_image(data))
    h, w = rgb.shape[:2]
    flat, _ = square_resize(rgb, alpha, resolution)
    if channels == 1:
        flat = np.round(flat.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
        flat = flat.clip(0, 255).astype(np.uint8)[..., None]
    return flat, (None if (h, w) == (resolution, resolution) else (w, h))


def input_image(entry: InputEntry, data: bytes, resolution: int, channels: int = 3) -> InputImage:
    """One image file's bytes as an image to invert (its sha256 is the latents-cache key); BadImage if unreadable."""
    pixels, resized = decode(data, resolution, channels)
    return InputImage(entry, hashlib.sha256(data).hexdigest(), pixels, resized)


def load_inputs(src: str | os.PathLike, entries: list[InputEntry], resolution: int, channels: int = 3,
                strict: bool = False) -> tuple[list[InputImage], list[tuple[str, str]]]:
    """Decode ``entries`` of ``src``: (images in entry order, [(name, reason)] of those skipped).

    ``strict``: an unreadable image is an :class:`InversionError` instead of a skip."""
    by_name = {e.name: e for e in entries}
    loaded: dict[str, InputImage] = {}
    skipped: list[tuple[str, str]] = []
    for name, data, error in iter_files(src, list(by_name)):
        if error is None:
            try:
                loaded[name] = input_image(by_name[name], data, resolution, channels)
            except BadImage as exc:
                error = str(exc)
        if error is not None:
            if strict:
                raise InversionError(f"unreadable image {name} in {src}: {error}",
                                     "remove or replace it, or run without --strict to skip it")
            skipped.append((name, error))
    missing = [e.name for e in entries if e.name not in loaded and e.name not in dict(skipped)]
    for name in missing:
        if strict:
            raise InversionError(f"image {name} listed but missing in {src}", "rebuild the data set")
        skipped.append((name, "file missing"))
    images = [loaded[e.name] for e in entries if e.name in loaded]
    resized = [im for im in images if im.resized_from]
    if resized:
        first = resized[0]
        warnings.warn(f"{len(resized)} image(s) not at {resolution}x{resolution} were resized, e.g. "
                      f"{first.entry.name} ({first.resized_from[0]}x{first.resized_from[1]})",
                      ResizedImageWarning, stacklevel=2)
    return images, skipped


def to_tensor(images: list[InputImage]) -> torch.Tensor:
    """``[N, C, R, R]`` float32 in [-1, 1] (the generator's range)."""
    array = np.stack([im.pixels for im in images]).astype(np.float32)
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous() / 127.5 - 1
