"""Shared semantic controls: directions found in the parent (PCA on W, a linear boundary from labels, one
StyleSpace channel) applied in the child, and how well they transfer.

A direction's effect on an attribute is measured by an attribute model (any callable: images ``[B, C, R, R]``
in [-1, 1] -> ``[B]`` numbers, e.g. a child-domain skin-tone regressor). Over N latents and steps t (the code
moves to ``code + t * direction``), the transfer score is the Spearman correlation between t and the
attribute, per latent, averaged over latents: +1 when every step along the direction moves the attribute
the same way for every latent, whatever the slope. The baseline is the score of random directions of the same
norm in the same space (mean and std over ``num_random`` of them).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from ..latents import latents_from_seeds
from .errors import AnalysisError

SPACES = ("w", "s")


@dataclass(frozen=True)
class ControlSettings:
    """Latents, steps and the random baseline of a transfer score (written next to every figure)."""
    num_latents: int = 64
    steps: tuple[float, ...] = (-2.0, -1.0, 0.0, 1.0, 2.0)
    num_random: int = 20
    seed_start: int = 0
    random_seed: int = 0
    truncation_psi: float = 1.0
    batch: int = 16

    def __post_init__(self):
        if self.num_latents < 2 or self.num_random < 1 or len(set(self.steps)) < 2:
            raise AnalysisError(f"need >= 2 latents, >= 1 random direction and >= 2 distinct steps, got "
                                f"{self.num_latents}, {self.num_random}, {list(self.steps)}")

    def as_dict(self) -> dict:
        return asdict(self)


def pca_directions(G, count: int, num_samples: int = 2000, seed_start: int = 0, batch: int = 64):
    """The top ``count`` principal directions of W (GANSpace), each scaled to its standard deviation, and
    the share of W's variance each explains. Returns ``(directions [count, w_dim], explained [count])``."""
    if not 1 <= count <= G.w_dim or num_samples < count + 1:
        raise AnalysisError(f"PCA of W needs 1 <= count <= w_dim ({G.w_dim}) and num_samples > count, "
                            f"got count={count}, num_samples={num_samples}")
    w = latents_from_seeds(G, range(seed_start, seed_start + num_samples), space="w", batch=batch).double()
    _, singular, vh = torch.linalg.svd(w - w.mean(dim=0), full_matrices=False)
    variance = singular.square() / (num_samples - 1)
    directions = vh[:count] * variance[:count].sqrt()[:, None]
    return directions.float(), (variance[:count] / variance.sum()).numpy()


def label_direction(codes: torch.Tensor, labels, ridge: float = 1e-3) -> torch.Tensor:
    """Unit normal of a linear boundary: the ridge-regression weights of ``labels`` (numbers or 0/1) on
    ``codes`` ``[N, D]`` (W or S codes of labelled images, e.g. inverted parent-domain images)."""
    x = torch.as_tensor(codes, dtype=torch.float64)
    y = torch.as_tensor(np.asarray(labels, dtype=np.float64))
    if x.ndim != 2 or len(x) != len(y) or len(x) < 2 or float(y.std()) == 0:
        raise AnalysisError(f"label_direction needs codes [N, D] and N >= 2 labels that vary, got "
                            f"{list(x.shape)} and {len(y)} label(s)")
    x = x - x.mean(dim=0)
    gram = x.T @ x + ridge * len(x) * torch.eye(x.shape[1], dtype=x.dtype)
    weights = torch.linalg.solve(gram, x.T @ (y - y.mean()))
    return (weights / weights.norm()).float()


def channel_direction(G, layer: str, channel: int, scale: float = 1.0) -> torch.Tensor:
    """A StyleSpace direction that moves one channel (``G.style_layout`` names it) by ``scale``."""
    direction = torch.zeros(G.style_layout.dim)
    direction[G.style_layout.index(layer, channel)] = scale
    return direction


def _codes(G, space: str, settings: ControlSettings) -> torch.Tensor:
    if space not in SPACES:
        raise AnalysisError(f"controls act in W or S: space must be one of {SPACES}, got {space!r}")
    seeds = range(settings.seed_start, settings.seed_start + settings.num_latents)
    return latents_from_seeds(G, seeds, space=space, truncation_psi=settings.truncation_psi, batch=settings.batch)


@torch.no_grad()
def attribute_along(G, direction: torch.Tensor, space: str, attribute: Callable, settings: ControlSettings):
    """Attribute values ``[num_latents, len(steps)]`` of G's images at ``code + t * direction``."""
    codes = _codes(G, space, settings)
    if direction.shape != codes.shape[1:]:
        raise AnalysisError(f"a {space.upper()} direction has {codes.shape[1]} entries, got {list(direction.shape)}")
    steps = torch.tensor(settings.steps, dtype=codes.dtype)
    moved = (codes[:, None, :] + steps[None, :, None] * direction[None, None, :]).reshape(-1, codes.shape[1])
    values = []
    for i in range(0, len(moved), settings.batch):
        images = G.synthesize(moved[i:i + settings.batch], space=space, noise_mode="const")
        values.append(torch.as_tensor(attribute(images)).reshape(-1).double().cpu())
    return torch.cat(values).reshape(len(codes), len(steps)).numpy()


def transfer_score(values: np.ndarray, steps) -> float:
    """Mean over latents of the Spearman correlation between the step and the attribute (a latent whose
    attribute never moves counts 0): +1 when the attribute rises with every step for every latent."""
    from scipy.stats import spearmanr
    steps = np.asarray(steps, dtype=float)
    scores = []
    for row in np.asarray(values, dtype=float):
        score = spearmanr(steps, row).statistic if np.ptp(row) > 0 else 0.0
        scores.append(float(score) if np.isfinite(score) else 0.0)
    return float(np.mean(scores))


def random_like(direction: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """``count`` isotropic random directions with ``direction``'s norm (numpy RandomState(seed))."""
    d = torch.from_numpy(np.random.RandomState(seed).randn(count, direction.numel())).float()
    return d / d.norm(dim=1, keepdim=True) * direction.norm()


def control_transfer(parent, child, direction: torch.Tensor, space: str, attribute: Callable,
                     settings: ControlSettings = ControlSettings()) -> dict:
    """Transfer scores of ``direction`` in the parent and in the child, and the child's random baseline."""
    from .pair import check_aligned
    check_aligned(parent, child)
    scores = {name: transfer_score(attribute_along(G, direction, space, attribute, settings), settings.steps)
              for name, G in (("parent", parent), ("child", child))}
    randoms = [transfer_score(attribute_along(child, r, space, attribute, settings), settings.steps)
               for r in random_like(direction, settings.num_random, settings.random_seed)]
    return {"space": space, "norm": float(direction.norm()), "parent_score": scores["parent"],
            "child_score": scores["child"], "random_mean": float(np.mean(randoms)),
            "random_std": float(np.std(randoms)), "random_abs_mean": float(np.mean(np.abs(randoms))),
            "random_scores": randoms, "settings": settings.as_dict()}


@torch.no_grad()
def control_frames(parent, child, direction: torch.Tensor, space: str, seeds, steps) -> torch.Tensor:
    """Images ``[len(steps), 2 * len(seeds), C, R, R]``: per step, the parent's row then the child's row
    (each model from its own code of the same seed, moved by ``t * direction``)."""
    frames = []
    for G in (parent, child):
        codes = latents_from_seeds(G, list(seeds), space=space)
        frames.append(torch.stack([G.synthesize(codes + t * direction, space=space, noise_mode="const")
                                   for t in steps]))
    return torch.cat(frames, dim=1)


def save_control_strip(parent, child, direction, space: str, seeds, steps, png_path, gif_path=None,
                       frame_ms: int = 200):
    """A PNG strip (rows: each seed's parent row, then its child row; columns: the steps) and optionally a
    GIF whose frame k shows every seed in the parent (top) and the child (bottom) at step k."""
    from PIL import Image

    from ..atomic import write_atomic
    from ..grid import make_grid, save_image_grid
    frames = control_frames(parent, child, direction, space, seeds, steps)  # [T, 2S, C, R, R]
    n = len(list(seeds))
    rows = torch.stack([frames[:, i + offset] for i in range(n) for offset in (0, n)])  # [2S, T, ...]
    save_image_grid(rows.reshape(-1, *rows.shape[2:]), png_path, ncols=len(steps), pad=2)
    if gif_path is not None:
        pictures = [Image.fromarray(make_grid(frame, ncols=n, pad=2)) for frame in frames]
        pictures += pictures[-2:0:-1]  # there and back
        write_atomic(gif_path, lambda tmp: pictures[0].save(tmp, format="GIF", save_all=True,
                                                            append_images=pictures[1:], duration=frame_ms, loop=0))
