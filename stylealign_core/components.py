"""Which part of a StyleGAN2 generator a parameter belongs to.

The StyleAlign analyses and the fine-tuning freeze options talk about the same components:

  mapping  the mapping network (z -> w), incl. the label embedding
  affine   the per-layer affine maps w -> style (they define StyleSpace S)
  conv     the synthesis convolutions (modulated 3x3 weights, biases, noise strengths) and the const input
  torgb    the ToRGB layers (1x1 weights and biases; their affines are 'affine')

``resolution_of`` tells the synthesis block (4, 8, ..., R) a parameter lives in.
"""
from __future__ import annotations

import re

import torch

COMPONENTS = ("mapping", "affine", "conv", "torgb")
_BLOCK = re.compile(r"^synthesis\.b(\d+)\.")


def component_of(name: str) -> str:
    """Component of a generator parameter/buffer name (official stylegan2-ada-pytorch naming)."""
    if name.startswith("mapping."):
        return "mapping"
    if not name.startswith("synthesis."):
        raise ValueError(f"{name!r} is not a generator parameter name")
    if ".affine." in name:
        return "affine"
    if ".torgb." in name:
        return "torgb"
    return "conv"


def resolution_of(name: str) -> int | None:
    """Synthesis block resolution of a generator parameter name, None for the mapping network."""
    match = _BLOCK.match(name)
    return int(match.group(1)) if match else None


def select_parameters(G: torch.nn.Module, components=(), resolutions=()) -> list[str]:
    """Names of G's parameters in any of ``components`` or in a block of any of ``resolutions``."""
    components, resolutions = set(components), {int(r) for r in resolutions}
    unknown = components - set(COMPONENTS)
    if unknown:
        raise ValueError(f"unknown component(s) {sorted(unknown)}; choose from {COMPONENTS}")
    return [name for name, _ in G.named_parameters()
            if component_of(name) in components or resolution_of(name) in resolutions]


def discriminator_layers(D: torch.nn.Module) -> list[str]:
    """D layer prefixes in forward order (fromrgb, conv0, conv1, skip per block; then the epilogue),
    the order FreezeD counts in: freezing N layers freezes the first N of this list."""
    layers = []
    for res in D.block_resolutions:
        block = getattr(D, f"b{res}")
        names = (["fromrgb"] if hasattr(block, "fromrgb") else []) + ["conv0", "conv1", "skip"]
        layers += [f"b{res}.{n}" for n in names]
    return layers + ["b4.conv", "b4.fc", "b4.out"]


def freeze(G: torch.nn.Module, D: torch.nn.Module | None = None, components=(), resolutions=(),
           freeze_d: int = 0) -> list[str]:
    """Set requires_grad=False on the chosen G parts and the first ``freeze_d`` D layers.
    Returns the frozen parameter names (G names plain, D names prefixed with 'D.')."""
    frozen = select_parameters(G, components, resolutions)
    params = dict(G.named_parameters())
    for name in frozen:
        params[name].requires_grad_(False)
    if freeze_d and D is not None:
        layers = discriminator_layers(D)
        if freeze_d > len(layers):
            raise ValueError(f"freeze_d={freeze_d} but the discriminator has {len(layers)} layers")
        prefixes = tuple(f"{layer}." for layer in layers[:freeze_d])
        for name, p in D.named_parameters():
            if name.startswith(prefixes):
                p.requires_grad_(False)
                frozen.append(f"D.{name}")
    return frozen
