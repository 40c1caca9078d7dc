"""Per-image noise maps for the projector: creation, the autocorrelation regulariser, renormalisation.

The official projector optimises one noise buffer per layer, shared by the whole batch, so images in
one batch are coupled. Here every image has its own maps (``[N, 1, R, R]`` per noise layer), drawn
from that image's own random generator, and the regulariser and renormalisation act per image: image
``i``'s maps depend on image ``i`` alone, whatever else is in its batch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

REG_MIN_SIZE = 8  # the pyramid of the regulariser stops at 8x8


def noise_layers(G) -> list[tuple[str, int]]:
    """``(layer name, resolution)`` of every synthesis layer that adds noise, in synthesis order."""
    found = []
    for res, block in zip(G.synthesis.block_resolutions, G.synthesis.blocks()):
        for name, layer in block.conv_layers():
            if layer.use_noise:
                found.append((f"b{res}.{name}", layer.resolution))
    return found


def image_generators(seeds: list[int]) -> list[torch.Generator]:
    """One CPU random generator per image, seeded by that image's seed alone."""
    return [torch.Generator().manual_seed(int(seed)) for seed in seeds]


def per_image_randn(generators: list[torch.Generator], shape, device) -> torch.Tensor:
    """``[N, *shape]`` standard normal, row i drawn from ``generators[i]``."""
    return torch.stack([torch.randn(list(shape), generator=g) for g in generators]).to(device)


def init_noise_maps(G, generators: list[torch.Generator], device) -> dict[str, torch.Tensor]:
    """Fresh unit-normal maps ``{layer: [N, 1, R, R]}`` (renormalised), leaves that require grad."""
    maps = {}
    for name, res in noise_layers(G):
        maps[name] = per_image_randn(generators, [1, res, res], device)
    renormalise_(maps)
    for value in maps.values():
        value.requires_grad_(True)
    return maps


def noise_regulariser(maps: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-image ``[N]`` sum over maps and pyramid levels of the squared mean products of each map with
    itself shifted by one pixel (horizontally and vertically, wrapping around): zero for white noise."""
    total = 0
    for noise in maps.values():
        level = noise
        while True:
            horizontal = (level * torch.roll(level, shifts=1, dims=3)).mean(dim=(1, 2, 3))
            vertical = (level * torch.roll(level, shifts=1, dims=2)).mean(dim=(1, 2, 3))
            total = total + horizontal.square() + vertical.square()
            if level.shape[-1] <= REG_MIN_SIZE:
                break
            level = F.avg_pool2d(level, kernel_size=2)
    return total if torch.is_tensor(total) else torch.zeros([])


@torch.no_grad()
def renormalise_(maps: dict[str, torch.Tensor]) -> None:
    """In place: every image's every map to zero mean, unit standard deviation."""
    for noise in maps.values():
        mean = noise.mean(dim=(1, 2, 3), keepdim=True)
        std = noise.sub(mean).square().mean(dim=(1, 2, 3), keepdim=True).sqrt()
        noise.sub_(mean).div_(std.clamp_min(1e-8))
