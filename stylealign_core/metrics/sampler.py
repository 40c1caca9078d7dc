"""Generated images for metrics: fixed seeds, the official uint8 quantisation."""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch

from ..latents import z_from_seeds


def quantize(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float images -> uint8, as the official metrics: ``(x * 127.5 + 128).clamp(0, 255)`` truncated."""
    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)


@torch.inference_mode()
def generated_batches(G, seeds: Sequence[int], batch_size: int = 32, labels: np.ndarray | None = None,
                      truncation_psi: float = 1.0, noise_mode: str = "const",
                      device: str | torch.device = "cpu") -> Iterator[torch.Tensor]:
    """uint8 ``[B, C, R, R]`` CPU batches of ``G``'s images for ``seeds`` (one image per seed, in order).

    A conditional ``G`` (``c_dim > 0``) needs ``labels`` ``[N, c_dim]``; seed ``s`` uses row
    ``RandomState(s).randint(N)``. ``noise_mode="const"`` makes every image a function of its seed."""
    c_dim = int(getattr(G, "c_dim", 0))
    if c_dim and (labels is None or len(labels) == 0):
        raise ValueError(f"the generator is conditional (c_dim={c_dim}): pass the data set's labels")
    for start in range(0, len(seeds), batch_size):
        chunk = [int(s) for s in seeds[start:start + batch_size]]
        z = z_from_seeds(chunk, G.z_dim, device=device)  # the project's one seed -> z convention
        c = None
        if c_dim:
            rows = [np.random.RandomState(s).randint(len(labels)) for s in chunk]
            c = torch.from_numpy(np.asarray(labels)[rows]).to(device, torch.float32)
        images = G(z, c, truncation_psi=truncation_psi, noise_mode=noise_mode)
        yield quantize(images).cpu()
