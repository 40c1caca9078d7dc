"""Image grids: the sample sheets written by training, generation and the analyses."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .atomic import write_atomic


def images_to_uint8(images: torch.Tensor) -> np.ndarray:
    """[B, C, H, W] float in [-1, 1] -> uint8 [B, H, W, C] (C = 1 squeezed to L)."""
    x = (images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5
    return x.round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def make_grid(images: torch.Tensor, ncols: int | None = None, pad: int = 0, fill: int = 255) -> np.ndarray:
    """Tile a batch into one uint8 image (rows of ``ncols``; default: as square as possible)."""
    arr = images_to_uint8(images)
    n, h, w, c = arr.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), fill, np.uint8)
    for i in range(n):
        r, col = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y:y + h, x:x + w] = arr[i]
    return grid


def save_image_grid(images: torch.Tensor, path: str | os.PathLike, ncols: int | None = None, pad: int = 0) -> Path:
    """Write a PNG grid atomically (temporary file + rename)."""
    grid = make_grid(images, ncols, pad)
    img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    return write_atomic(path, lambda tmp: img.save(tmp, format="PNG"))
