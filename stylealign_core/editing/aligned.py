"""Aligned pairs: a parent generator and a child fine-tuned from it share one architecture.

Translation, layer swapping and weight morphing feed one code to both networks or mix their weights
tensor by tensor, which only means something when every layer has the same shape in both. A pair is
checked once (:mod:`stylealign_core.aligned`), and a mismatch is refused with the first difference named::

    pair = load_aligned_pair("parent.json", "child.json")   # UnalignedPair: "... (channel_base: parent 256, ...)"
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..aligned import architecture_mismatch, check_aligned  # noqa: F401 (the one check, re-exported)


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
