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


def load_aligned_pair(parent_path: str | os.PathLike, child_path: str | os.PathLike, device="cpu") -> AlignedPair:
    """Load both generators and check that they are aligned."""
    from ..checkpoints import load_generator_and_sha

    parent, parent_sha = load_generator_and_sha(parent_path, device)
    child, child_sha = load_generator_and_sha(child_path, device)
    return AlignedPair(parent.eval().requires_grad_(False), child.eval().requires_grad_(False), parent_sha,
                       child_sha)
