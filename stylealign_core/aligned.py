"""Aligned pairs: a parent generator and a child fine-tuned from it share one architecture.

Translation, layer swapping, weight morphing and every alignment statistic feed one code to both networks,
mix their weights or compare them tensor by tensor, which only means something when every layer has the
same shape and computation in both. This is the one check of that, used by ``editing`` and ``analysis``;
a mismatch is refused with the first difference named::

    check_aligned(parent, child)   # UnalignedPair: "... not an aligned pair (channel_base: parent 256, child 512)"
"""
from __future__ import annotations

import torch

from .errors import UnalignedPair

# Constructor settings that change the tensors a generator has or how a code flows through them
# (w_avg_beta only changes training statistics, so it may differ).
ARCHITECTURE_KEYS = ("z_dim", "w_dim", "c_dim", "img_resolution", "img_channels", "mapping_layers",
                     "channel_base", "channel_max", "layer_features", "use_noise", "conv_clamp",
                     "mapping_lr_multiplier")


def architecture_mismatch(first: torch.nn.Module, second: torch.nn.Module,
                          names: tuple[str, str] = ("parent", "child")) -> str | None:
    """The first architectural difference between two generators as one phrase, or None when aligned."""
    a, b = names
    if type(first).__name__ != type(second).__name__:
        return f"network class: {a} {type(first).__name__}, {b} {type(second).__name__}"
    cfg_a, cfg_b = getattr(first, "config", {}) or {}, getattr(second, "config", {}) or {}
    for key in ARCHITECTURE_KEYS:
        if cfg_a.get(key) != cfg_b.get(key):
            return f"{key}: {a} {cfg_a.get(key)}, {b} {cfg_b.get(key)}"
    shapes_a = {k: tuple(v.shape) for k, v in first.state_dict().items()}
    shapes_b = {k: tuple(v.shape) for k, v in second.state_dict().items()}
    for key in sorted(shapes_a.keys() ^ shapes_b.keys()):
        return f"tensor {key}: only the {a if key in shapes_a else b} has it"
    for key, shape in shapes_a.items():
        if shapes_b[key] != shape:
            return f"tensor {key}: {a} {list(shape)}, {b} {list(shapes_b[key])}"
    return None


def check_aligned(parent: torch.nn.Module, child: torch.nn.Module,
                  names: tuple[str, str] = ("parent", "child")) -> None:
    """Raise :class:`UnalignedPair` naming the first mismatch unless the two generators are aligned."""
    problem = architecture_mismatch(parent, child, names)
    if problem is not None:
        raise UnalignedPair(f"{names[0]} and {names[1]} are not an aligned pair ({problem}): translation, "
                            "morphing and the alignment statistics need a child fine-tuned from this parent "
                            "(`stylealign finetune --parent ...`: same architecture)")
