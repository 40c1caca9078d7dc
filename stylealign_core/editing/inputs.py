"""Codes to translate or morph: from seeds (the project's seed -> z convention) or from an inversion table.

An inversion table (``stylealign invert``, read by :func:`stylealign_core.inversion.read_latents`) holds
one code per image id, in one space, with the sha256 of the generator it was inverted in; a table is
refused for a source generator with another sha256 (its codes would mean something else there).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..latents import z_from_seeds
from .errors import EditError


@dataclass
class Codes:
    """Codes of one space, one per id; ``origin`` says where they came from."""
    ids: list[str]
    space: str
    latents: torch.Tensor
    origin: str
    generator_sha256: str | None = None

    def select(self, wanted: list[str]) -> "Codes":
        """The codes of ``wanted`` ids, in that order (an EditError names ids the table lacks)."""
        index = {item: i for i, item in enumerate(self.ids)}
        missing = [i for i in wanted if i not in index]
        if missing:
            raise EditError(f"id(s) {', '.join(missing[:5])} not in {self.origin} (it has {len(self.ids)} ids, "
                            f"e.g. {', '.join(self.ids[:3])})")
        rows = [index[i] for i in wanted]
        return Codes(list(wanted), self.space, self.latents[rows], self.origin, self.generator_sha256)


def seed_id(seed: int) -> str:
    return f"seed{seed}"


@torch.no_grad()
def codes_from_seeds(G, seeds: list[int], space: str = "z") -> Codes:
    """z of each seed (``RandomState(seed).randn``); for "w"/"w+"/"s", mapped (untruncated) through ``G``."""
    z = z_from_seeds(seeds, G.z_dim)
    if space == "z":
        latents = z
    else:
        device = next(G.parameters()).device
        latents = G.z_to_w(z.to(device))
        latents = G.w_to_wplus(latents) if space in ("w+", "s") else latents
        latents = G.wplus_to_s(latents) if space == "s" else latents
    return Codes([seed_id(s) for s in seeds], space, latents.cpu(), f"seeds {seeds[0]}..{seeds[-1]}")


def codes_from_table(path: str | os.PathLike, expect_sha256: str | None = None) -> Codes:
    """The codes of an inversion table; refused when it was inverted in a generator other than the one
    with sha256 ``expect_sha256`` (when given)."""
    try:
        from ..inversion import read_latents
    except ImportError as exc:
        raise EditError(f"reading {path} needs the inversion package (stylealign_core.inversion: {exc}); "
                        "use --seeds, or install a stylealign that includes `stylealign invert`") from None
    table = read_latents(path)
    sha = getattr(table, "generator_sha256", None) or None
    if expect_sha256 and sha and sha != expect_sha256:
        raise EditError(f"{path} was inverted in the generator with sha256 {sha[:16]}..., not in this source "
                        f"generator ({expect_sha256[:16]}...): invert with the source generator, or pass the "
                        "checkpoint the table was made with (--reverse when the table holds child codes)")
    latents = torch.as_tensor(table.latents).float()
    return Codes([str(i) for i in table.ids], str(table.space), latents, str(path), sha)
