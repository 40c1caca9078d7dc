"""The latent spaces (Z, W, W+, S) and StyleLayout: the coordinates of StyleSpace S (which flat S index
is which layer's which channel).

A generator builds its layout once (``G.style_layout``); S-space edits, analyses and samplers use it to
name coordinates: ``layout.index("b16.conv1", 7)`` is the flat S index of channel 7 of that layer's style.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

SPACES = ("z", "w", "w+", "s")  # where a code can live: Z -> W -> W+ -> S -> image


@dataclass(frozen=True)
class StyleLayer:
    """One style input: its layer name, the W+ entry feeding its affine, channels and offset in S."""
    name: str        # e.g. "b16.conv0", "b16.torgb"
    w_index: int     # which W+ entry feeds this layer's affine
    channels: int    # number of style channels (= the layer's input channels)
    offset: int      # first index of this layer in the flat S vector


class StyleLayout:
    """The coordinates of StyleSpace S: an ordered list of layers, each a slice of the flat vector."""

    def __init__(self, layers: list[StyleLayer]):
        self.layers = layers
        self.by_name = {layer.name: layer for layer in layers}
        self.dim = sum(layer.channels for layer in layers)

    def index(self, layer: str, channel: int) -> int:
        """Flat S index of (layer name, channel)."""
        entry = self.by_name.get(layer)
        if entry is None:
            raise KeyError(f"no style layer {layer!r}; known: {', '.join(self.by_name)}")
        if not 0 <= channel < entry.channels:
            raise IndexError(f"{layer} has {entry.channels} style channels, got channel {channel}")
        return entry.offset + channel

    def locate(self, index: int) -> tuple[str, int]:
        """(layer name, channel) of a flat S index."""
        for layer in self.layers:
            if layer.offset <= index < layer.offset + layer.channels:
                return layer.name, index - layer.offset
        raise IndexError(f"S index {index} out of range [0, {self.dim})")

    def split(self, s: torch.Tensor) -> list[torch.Tensor]:
        """Flat S [B, dim] -> per-layer styles, in layer order."""
        if s.shape[-1] != self.dim:
            raise ValueError(f"S vector has {s.shape[-1]} entries, this generator's StyleSpace has {self.dim}")
        return list(torch.split(s, [layer.channels for layer in self.layers], dim=-1))

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        return f"StyleLayout({len(self.layers)} layers, dim={self.dim})"
