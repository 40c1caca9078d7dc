"""Helpers of the editing tests: a tiny aligned parent/child pair and a tiny paired emoji-like data set."""
import copy
import io

import numpy as np
import torch
from PIL import Image

from stylealign_core.generator import Generator


def tiny_pair(tiny_g_kwargs, seed: int = 0, shift: float = 0.3):
    """(parent, child): the child is the parent with every synthesis and mapping tensor perturbed (a stand-in
    for fine-tuning) and its own w_avg; both in eval mode."""
    torch.manual_seed(seed)
    parent = Generator(**tiny_g_kwargs).eval().requires_grad_(False)
    parent.mapping.w_avg.copy_(torch.randn_like(parent.mapping.w_avg) * 0.5)
    child = copy.deepcopy(parent)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, tensor in child.named_parameters():
            tensor.add_(torch.randn(tensor.shape, generator=gen) * shift * (tensor.std() if tensor.numel() > 1 else 1))
        child.mapping.w_avg.add_(torch.randn(child.mapping.w_avg.shape, generator=gen) * 0.5)
    return parent, child


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def paired_dataset(path, seed: int, groups: dict[str, list[str]], splits: dict[str, str], resolution: int = 16):
    """A stylealign data set of coloured squares on white with alpha masks: one image per id, ``base_id`` its
    group, ``split`` from ``splits`` (default train)."""
    from stylealign_core.data import DatasetWriter

    rng = np.random.default_rng(seed)
    with DatasetWriter(path, resolution, has_masks=True) as writer:
        for base, ids in groups.items():
            for item in ids:
                rgb = np.full((resolution, resolution, 3), 255, np.uint8)
                mask = np.zeros((resolution, resolution), np.uint8)
                y, x = rng.integers(0, resolution // 2, size=2)
                size = int(rng.integers(4, resolution // 2 + 1))
                rgb[y:y + size, x:x + size] = rng.integers(0, 200, size=3)
                mask[y:y + size, x:x + size] = 255
                writer.add(item, _png(rgb), _png(mask), base_id=base, split=splits.get(item, "train"))
        writer.finish({"name": path.name})
    return path
