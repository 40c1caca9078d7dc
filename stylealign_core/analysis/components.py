"""Which analysis component each generator tensor belongs to, its layer, and its learning-rate multiplier.

The alignment analysis splits the generator more finely than the freeze options of
:mod:`stylealign_core.components` (which it refines, so the two never disagree about mapping, affine
and ToRGB):

  mapping  the mapping network (z -> w) incl. the label embedding and its ``w_avg`` buffer
  affine   the per-layer affine maps w -> style (they define StyleSpace S)
  conv     the modulated 3x3 synthesis convolutions (weights, biases)
  torgb    the ToRGB layers (1x1 weights, biases; their affines are 'affine')
  noise    the per-layer noise strengths (and the stored constant noise maps)
  const    the learned 4x4 input of the synthesis network

The reset groups of the component-reset analysis (:mod:`.reset`) are unions of these: resetting
"synthesis" resets conv, noise and const, everything of the synthesis network outside affines and ToRGB;
RESETS adds the optional "noise" (noise strengths alone).
"""
from __future__ import annotations

import re

import torch

from ..components import component_of as freeze_component_of
from ..layers import FullyConnectedLayer

ANALYSIS_COMPONENTS = ("mapping", "affine", "conv", "torgb", "noise", "const")
RESET_GROUPS = {
    "mapping": ("mapping",),
    "affine": ("affine",),
    "synthesis": ("conv", "noise", "const"),
    "torgb": ("torgb",),
}
# Optional finer resets, overlapping the groups above: "noise" puts back only the noise strengths (a child
# can inflate them, adding speckle that resetting "synthesis" would remove together with the convs).
RESETS = {**RESET_GROUPS, "noise": ("noise",)}
_LEAF = re.compile(r"\.(weight|bias|noise_strength|noise_const|resample_filter|w_avg)$")


def analysis_component(name: str) -> str:
    """Analysis component of a generator parameter or buffer name (stylegan2-ada-pytorch naming)."""
    coarse = freeze_component_of(name)  # mapping | affine | torgb | conv (ValueError for non-G names)
    if coarse != "conv":
        return coarse
    if name.endswith(".noise_strength") or name.endswith(".noise_const"):
        return "noise"
    if name.endswith(".const"):
        return "const"
    return "conv"


def layer_of(name: str) -> str:
    """The layer a tensor belongs to: ``mapping.fc0``, ``b16.conv0``, ``b16.conv0.affine``,
    ``b16.torgb``, ``b4.const``, ``mapping`` (for ``mapping.w_avg``)."""
    if name.startswith("synthesis."):
        name = name[len("synthesis."):]
    if name.endswith(".const"):
        return name
    return _LEAF.sub("", name)


def lr_multiplier_of(G: torch.nn.Module, name: str) -> float:
    """The learning-rate multiplier the optimiser sees for parameter ``name``: the equalized-lr gain of a
    dense layer built with ``lr_multiplier`` (0.01 for the mapping network), 1 everywhere else."""
    module_name, _, leaf = name.rpartition(".")
    module = G.get_submodule(module_name) if module_name else G
    if isinstance(module, FullyConnectedLayer) and leaf in ("weight", "bias"):
        return float(module.bias_gain)
    return 1.0


def component_map(G: torch.nn.Module, buffers: bool = False) -> dict[str, str]:
    """``{parameter name: analysis component}`` for every parameter of G (and buffer, with ``buffers``)."""
    names = [n for n, _ in G.named_parameters()]
    if buffers:
        names += [n for n, _ in G.named_buffers()]
    return {name: analysis_component(name) for name in names}
