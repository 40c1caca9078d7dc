"""Aligned pairs: a parent generator and a child fine-tuned from it share one architecture.

Translation, layer swapping and weight morphing feed one code to both networks or mix their weights
tensor by tensor, which only means something when every layer has the same shape in both. A pair is
checked here once, and a mismatch is refused with the first difference named::

    check_aligned(parent, child)            # UnalignedPair: "channel_base: parent 256, child 512 ..."
    pair = load_aligned_pair("parent.json", "child.json")
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from .errors import UnalignedPair

# Constructor settings that change the layers a generator has or how a code flows through them.
ARCHITECTURE_KEYS = ("z_dim", "w_dim", "c_dim", "img_resolution", "img_channels", "mapping_layers",
                     "channel_base", "channel_max", "layer_features", "use_noise")


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
                            "layer swapping and morphing need a child fine-tuned from this parent "
                            "(same architecture)")


@dataclass
class AlignedPair:
    """A checked (parent, child) pair and the sha256 of each checkpoint."""
    parent: torch.nn.Module
    child: torch.nn.Module
    parent_sha256: str = ""
    child_sha256: str = ""

    def __post_init__(self):
        check_aligned(self.parent, self.child)

    def roles(self, reverse: bool = False) -> tuple[torch.nn.Module, torch.nn.Module]:
        """(source, target): parent -> child, or child -> parent when ``reverse``."""
        return (self.child, self.parent) if reverse else (self.parent, self.child)


def load_generator_with_sha(path: str | os.PathLike, device="cpu") -> tuple[torch.nn.Module, str]:
    """The generator of a checkpoint (G_ema, else G) in eval mode, and the checkpoint's sha256."""
    from ..checkpoints import CheckpointError, build_checkpoint, read_checkpoint
    from ..checkpoints.networks import GENERATOR_NAMES

    raw = read_checkpoint(path)
    name = next((n for n in GENERATOR_NAMES if n in raw.networks), None)
    if name is None:
        raise CheckpointError(raw.source, f"no generator (G_ema or G) in this checkpoint (it has: "
                              f"{sorted(raw.networks)})", "pass a checkpoint that holds a generator")
    G = build_checkpoint(raw, networks=(name,), device=device, uri=str(path)).networks[name]
    return G.eval().requires_grad_(False), raw.sha256


def load_aligned_pair(parent_path: str | os.PathLike, child_path: str | os.PathLike, device="cpu") -> AlignedPair:
    """Load both generators and check that they are aligned."""
    parent, parent_sha = load_generator_with_sha(parent_path, device)
    child, child_sha = load_generator_with_sha(child_path, device)
    return AlignedPair(parent, child, parent_sha, child_sha)
