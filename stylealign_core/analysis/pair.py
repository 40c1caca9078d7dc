"""A parent and its child as an aligned pair: same architecture, tensor for tensor.

Every alignment statistic compares the two networks name by name, so a pair whose architectures differ
is refused up front with the first difference named (a setting, a missing tensor or a shape).
"""
from __future__ import annotations

import os

import torch

from ..errors import InputMismatch

# Constructor settings that change the tensors or the computation; w_avg_beta etc. do not matter here.
ARCHITECTURE_KEYS = ("z_dim", "w_dim", "img_resolution", "img_channels", "c_dim", "mapping_layers",
                     "channel_base", "channel_max", "layer_features", "use_noise", "conv_clamp",
                     "mapping_lr_multiplier")


def check_aligned(parent: torch.nn.Module, child: torch.nn.Module) -> None:
    """Raise :class:`InputMismatch` naming the first architectural difference between parent and child."""
    if type(parent) is not type(child):
        raise InputMismatch(f"parent is a {type(parent).__name__}, child a {type(child).__name__}: "
                            "an aligned pair is two generators of one architecture")
    parent_config, child_config = getattr(parent, "config", {}), getattr(child, "config", {})
    for key in ARCHITECTURE_KEYS:
        if key in parent_config and parent_config.get(key) != child_config.get(key):
            raise InputMismatch(f"parent and child are not aligned: {key} is {parent_config[key]!r} in the parent "
                                f"and {child_config.get(key)!r} in the child; pass a child fine-tuned from this "
                                "parent (`stylealign finetune --parent ...`)")
    parent_state, child_state = parent.state_dict(), child.state_dict()
    missing = sorted(set(parent_state) ^ set(child_state))
    if missing:
        owner = "child" if missing[0] in parent_state else "parent"
        raise InputMismatch(f"parent and child are not aligned: tensor {missing[0]!r} is missing in the {owner} "
                            f"({len(missing)} name(s) differ); pass a child fine-tuned from this parent")
    for name, tensor in parent_state.items():
        if tensor.shape != child_state[name].shape:
            raise InputMismatch(f"parent and child are not aligned: {name} has shape {list(tensor.shape)} in the "
                                f"parent and {list(child_state[name].shape)} in the child")


def load_pair(parent_path: str | os.PathLike, child_path: str | os.PathLike, device="cpu"):
    """(parent G, child G) from two checkpoints (G_ema preferred), checked to be an aligned pair,
    in eval mode, float32 (a checkpoint stored at half precision is widened)."""
    from ..checkpoints import load_generator
    parent = load_generator(parent_path, device=device).float().eval().requires_grad_(False)
    child = load_generator(child_path, device=device).float().eval().requires_grad_(False)
    check_aligned(parent, child)
    return parent, child
