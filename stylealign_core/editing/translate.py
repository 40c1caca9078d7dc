"""Translation: one code, rendered by the parent and by its child (or the reverse).

StyleAlign's recipe (its released code): invert the source image in the parent's **Z**, then feed the same
z through the child's whole generator, mapping network included, at truncation 0.5 (towards the
**child's** ``w_avg``). W, W+ and S codes are options: a W/W+ code skips the mapping network and is pulled
towards the rendering generator's ``w_avg`` by ``truncation_psi``; an S code is used as is. The reverse
direction (a child code -> a parent image, what zero-shot transfer needs) is the same call with the roles
swapped. A Toonify-style hybrid (:mod:`.layerswap`) can stand in for the target generator.

    pair = AlignedPair(parent, child)
    images = translate(pair, z, space="z", truncation_psi=0.5)           # [N, C, R, R] in [-1, 1]
    back   = translate(pair, w_child, space="w", reverse=True)           # child code -> parent image
"""
from __future__ import annotations

import torch
from tqdm.auto import tqdm

from ..generator import truncate
from ..latents import SPACES
from .aligned import AlignedPair
from .errors import EditError

DEFAULT_BATCH = 16


def check_latents(G, latents: torch.Tensor, space: str) -> torch.Tensor:
    """``latents`` as float32 with the shape ``space`` has in ``G``, or an EditError naming the shape wanted."""
    if space not in SPACES:
        raise EditError(f"unknown latent space {space!r}: use one of {', '.join(SPACES)}")
    if getattr(G, "c_dim", 0):
        raise EditError(f"conditional generator (c_dim={G.c_dim}): translation and morphing support "
                        "unconditional generators only")
    want = {"z": [G.z_dim], "w": [G.w_dim], "w+": [G.num_ws, G.w_dim], "s": [G.style_layout.dim]}[space]
    if latents.ndim != len(want) + 1 or list(latents.shape[1:]) != want or len(latents) == 0:
        raise EditError(f"{space} codes for this generator have shape [N, {', '.join(map(str, want))}], got "
                        f"{list(latents.shape)} (was the table inverted in another space or for another "
                        "generator?)")
    return latents.float()


def entry_code(G, latents: torch.Tensor, space: str, truncation_psi: float = 1.0) -> torch.Tensor:
    """The code ``G`` synthesizes from: z -> w through G's mapping; w and w+ pulled towards G's ``w_avg``.

    Returns a code in "w" (for z and w input), "w+" or "s". Truncation of an S code is refused (S has no
    average to pull towards here)."""
    if space == "s":
        if truncation_psi != 1:
            raise EditError(f"truncation {truncation_psi} cannot apply to S codes: use --trunc 1 with S, "
                            "or translate in z, w or w+")
        return latents
    if space == "z":
        return G.z_to_w(latents, truncation_psi=truncation_psi)
    return truncate(latents, G.mapping.w_avg, truncation_psi) if truncation_psi != 1 else latents


def default_truncation(space: str, truncation_psi: float | None = None) -> float:
    """``truncation_psi``, or when None the default of a translation/morph: 0.5 for z codes (StyleAlign's
    recipe), 1 (none) for w, w+ and s codes."""
    if truncation_psi is not None:
        return truncation_psi
    return 0.5 if space == "z" else 1.0


def entry_space(space: str) -> str:
    """The space :func:`entry_code` returns for input in ``space``."""
    return "w" if space == "z" else space


@torch.no_grad()
def render(G, latents: torch.Tensor, space: str, truncation_psi: float = 1.0, batch: int = DEFAULT_BATCH,
           noise_mode: str = "const", progress: bool = False, desc: str = "render") -> torch.Tensor:
    """Images [N, C, R, R] in [-1, 1] (CPU) of ``latents`` in ``space`` through ``G``, in fixed-size batches.

    The last batch is padded to ``batch`` rows, so an image depends on its own code (and ``batch``) only."""
    if batch < 1:
        raise EditError(f"batch must be >= 1, got {batch}")
    latents = check_latents(G, latents, space)
    device = next(G.parameters()).device
    out = []
    for start in tqdm(range(0, len(latents), batch), desc=desc, unit="batch", disable=not progress):
        chunk = latents[start:start + batch].to(device)
        rows = len(chunk)
        if rows < batch:
            chunk = torch.cat([chunk, chunk[-1:].expand(batch - rows, *chunk.shape[1:])])
        code = entry_code(G, chunk, space, truncation_psi)
        out.append(G.synthesize(code, space=entry_space(space), noise_mode=noise_mode)[:rows].cpu())
    return torch.cat(out)


def translate(pair: AlignedPair, latents: torch.Tensor, space: str = "z", truncation_psi: float = 0.5,
              reverse: bool = False, swap_res: int | None = None, blend: float = 0.0,
              batch: int = DEFAULT_BATCH, noise_mode: str = "const", progress: bool = False) -> torch.Tensor:
    """Render source-domain codes with the target generator (parent -> child; child -> parent if ``reverse``).

    ``swap_res``: render with a layer-swapped hybrid instead (synthesis blocks up to ``swap_res`` from the
    source, the finer ones from the target, mapping network from the target; ``blend`` smooths the step,
    see :func:`.layerswap.layer_swap`)."""
    source, target = pair.roles(reverse)
    if swap_res is not None:
        from .layerswap import layer_swap
        target = layer_swap(source, target, swap_res, blend=blend, mapping_from="high").generator
    return render(target, latents, space, truncation_psi, batch, noise_mode, progress, desc="translate")


def source_images(pair: AlignedPair, latents: torch.Tensor, space: str = "z", truncation_psi: float = 0.5,
                  reverse: bool = False, batch: int = DEFAULT_BATCH, noise_mode: str = "const",
                  progress: bool = False) -> torch.Tensor:
    """The same codes rendered by the source generator itself (what a translation starts from)."""
    source, _ = pair.roles(reverse)
    return render(source, latents, space, truncation_psi, batch, noise_mode, progress, desc="source")
