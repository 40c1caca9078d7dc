"""Fixture builders for the tests/test_zeroshot_*.py files (no tests in here): synthetic images with known
labels, and tiny emoji-like data sets (base emoji, skin-tone variants, masks) in the project's format."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from stylealign_core.data.format import DatasetWriter, categorical
from stylealign_core.data.images import encode_png

COLORS = [(220, 40, 30), (30, 60, 220), (40, 180, 60)]
TONE_GREY = {0: 250, 1: 230, 2: 190, 3: 150, 4: 100, 5: 50}


def shape_mask(res: int, square: bool, cx: float, cy: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:res, :res] + 0.5
    if square:
        return (np.abs(xx - cx) <= radius) & (np.abs(yy - cy) <= radius)
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= radius ** 2


def colored_shapes(n: int, res: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images [n, 3, res, res] of a disc on white whose colour is the class (3 classes), at random places."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    images = np.full((n, res, res, 3), 255, np.uint8)
    for i, c in enumerate(labels):
        inside = shape_mask(res, False, rng.uniform(5, res - 5), rng.uniform(5, res - 5), rng.uniform(3, 5))
        noise = rng.integers(-20, 21, 3)
        images[i][inside] = np.clip(np.array(COLORS[c]) + noise, 0, 255)
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)


def write_emoji_like(out, style: int = 0, res: int = 16, bases: int = 16, test_bases: int = 4):
    """A tiny emoji-like data set: category A = discs, B = squares; every other base has five skin-tone
    variants (the shape's grey level is the tone); ``style`` shifts colours and sizes a little (a second
    "vendor"). The last ``test_bases`` base emoji are the test split. Returns the path."""
    rng = np.random.default_rng(100 + style)
    rows = []
    with DatasetWriter(out, res, has_masks=True) as writer:
        for b in range(bases):
            category = "A" if b % 2 == 0 else "B"
            tones = [0, 1, 2, 3, 4, 5] if b % 4 < 2 else [0]
            cx, cy = rng.uniform(6, res - 6, 2)
            radius = rng.uniform(3.5, 5.0) + style * 0.5
            mask = shape_mask(res, category == "B", cx, cy, radius)
            for tone in tones:
                img = np.full((res, res, 3), 255, np.uint8)
                grey = TONE_GREY[tone] - 10 * style
                img[mask] = (grey, grey, max(0, grey - 40)) if tone else (250, 200 - 20 * style, 20)
                image_id = f"E{b:03d}" + (f"-T{tone}" if tone else "")
                row = writer.add(image_id, encode_png(img), encode_png(mask.astype(np.uint8) * 255),
                                 base_id=f"E{b:03d}", category=category, subcategory="sub", skin_tone=tone,
                                 skin_tone_2=0, split="test" if b >= bases - test_bases else "train")
                rows.append(row)
        labels = {c: categorical(r[c] for r in writer.rows) for c in ("category", "subcategory", "skin_tone")}
        return writer.finish({"name": f"emoji-like-{style}"}, label_columns=labels)


def save_png_folder(folder, ids, images: torch.Tensor) -> None:
    """Write uint8 images [N, 3, R, R] as folder/<id>.png."""
    folder.mkdir(parents=True, exist_ok=True)
    for image_id, img in zip(ids, images):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / f"{image_id}.png")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run far faster on one thread on a busy 2-core machine (import this into a test module)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
