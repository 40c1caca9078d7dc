"""Cross-domain morphing: interpolate the code AND the synthesis weights, parent -> child.

StyleAlign's morph (its released code) lerps the latent and every synthesis variable with one shared
``t``; the mapping network is not interpolated. Here the two halves have separate schedules, and the
weights can move per resolution:

* latent schedule and weight schedule: ``linear``, ``cosine`` (0.5 - 0.5 cos(pi t)) or ``smoothstep``
  (3t^2 - 2t^3), each mapping the frame time t in [0, 1] to an interpolation amount;
* resolution windows: block ``res`` moves from parent to child while t runs through its window
  ``(start, end)`` (the weight schedule shapes the move inside it; 0 before, 1 after). All windows
  ``(0, 1)`` is the paper's shared t; a zero-width window ``(s, s)`` is a step at ``s`` (0 while t < s,
  1 from t >= s): steps coarse-to-fine make every frame a layer-swapped hybrid (:mod:`.layerswap`).

Endpoints: code ``a`` is rendered by the parent at t = 0, code ``b`` by the child at t = 1 (exactly:
frame 0 is the parent's image of ``a``, the last frame the child's image of ``b``). Z codes are first
mapped to W by the generator of their own domain (``domains``), with truncation towards its ``w_avg``;
frames then interpolate in W, W+ or S.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from tqdm.auto import tqdm

from .aligned import check_aligned
from .errors import EditError
from .layerswap import WeightMix
from .translate import check_latents, entry_code, entry_space

SCHEDULES: dict[str, Callable[[float], float]] = {
    "linear": lambda t: t,
    "cosine": lambda t: 0.5 - 0.5 * math.cos(math.pi * t),
    "smoothstep": lambda t: t * t * (3.0 - 2.0 * t),
}
WINDOW_ORDERS = ("together", "coarse-to-fine", "fine-to-coarse")


def schedule(name: str) -> Callable[[float], float]:
    if name not in SCHEDULES:
        raise EditError(f"unknown schedule {name!r}: use one of {', '.join(SCHEDULES)}")
    return SCHEDULES[name]


def frame_times(frames: int) -> list[float]:
    """``frames`` evenly spaced times from 0 to 1 (both included)."""
    if frames < 2:
        raise EditError(f"a morph needs at least 2 frames, got {frames}")
    return [i / (frames - 1) for i in range(frames)]


def resolution_windows(resolutions: list[int], order: str = "together",
                       step: bool = False) -> dict[int, tuple[float, float]]:
    """Windows per block: ``together`` (all (0, 1)), ``coarse-to-fine`` / ``fine-to-coarse`` (consecutive
    equal windows; with ``step``, zero-width steps at i/(n+1))."""
    if order not in WINDOW_ORDERS:
        raise EditError(f"unknown weight order {order!r}: use one of {', '.join(WINDOW_ORDERS)}")
    n = len(resolutions)
    ranked = list(resolutions) if order != "fine-to-coarse" else list(reversed(resolutions))
    if order == "together":
        return {res: (0.0, 0.0) if step else (0.0, 1.0) for res in resolutions}
    if step:
        return {res: ((i + 1) / (n + 1),) * 2 for i, res in enumerate(ranked)}
    return {res: (i / n, (i + 1) / n) for i, res in enumerate(ranked)}


def parse_windows(text: str, resolutions: list[int]) -> dict[int, tuple[float, float]]:
    """``'4:0-0.5,8:0.25-0.75,16:0.5'`` -> windows (``RES:S`` is a step at S); unnamed blocks get (0, 1)."""
    windows = {res: (0.0, 1.0) for res in resolutions}
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            res_text, span = part.split(":")
            start, _, end = span.partition("-")
            res, lo = int(res_text), float(start)
            hi = float(end) if end else lo
        except ValueError:
            raise EditError(f"bad weight window {part!r}: use RES:START-END or RES:STEP, e.g. 8:0.25-0.75") from None
        if res not in windows:
            raise EditError(f"weight window {part!r}: no synthesis block at {res}; blocks: {resolutions}")
        if not 0.0 <= lo <= hi <= 1.0:
            raise EditError(f"weight window {part!r}: need 0 <= START <= END <= 1")
        windows[res] = (lo, hi)
    return windows


def morph_windows(resolutions: list[int], spec: str | None = None, order: str = "together",
                  step: bool = False) -> dict[int, tuple[float, float]]:
    """The weight windows of a morph: the explicit ``spec`` (:func:`parse_windows`) when given, else
    :func:`resolution_windows` of ``order`` / ``step``."""
    return parse_windows(spec, resolutions) if spec else resolution_windows(resolutions, order, step=step)


def window_weight(t: float, window: tuple[float, float], curve: Callable[[float], float]) -> float:
    """Weight of the child at time ``t`` for one block's window."""
    start, end = window
    if end <= start:
        return 1.0 if t >= start else 0.0
    return float(curve(min(max((t - start) / (end - start), 0.0), 1.0)))


@torch.no_grad()
def morph_frames(parent, child, latent_a: torch.Tensor, latent_b: torch.Tensor, space: str, frames: int,
                 latent_schedule: str = "linear", weight_schedule: str = "linear",
                 windows: dict[int, tuple[float, float]] | None = None, truncation_psi: float = 1.0,
                 domains: tuple[str, str] = ("parent", "child"), noise_mode: str = "const",
                 progress: bool = False) -> torch.Tensor:
    """Frames [F, C, R, R] in [-1, 1] (CPU) morphing parent(a) into child(b); see the module docstring.

    ``latent_a``, ``latent_b``: one code each (no batch axis) in ``space``. ``domains``: which generator
    ("parent" or "child") each code belongs to (used to map Z codes and to truncate W/W+ codes)."""
    check_aligned(parent, child)
    models = {"parent": parent, "child": child}
    bad = [d for d in domains if d not in models]
    if bad or len(domains) != 2:
        raise EditError(f"domains must be two of 'parent'/'child', got {domains!r}")
    device = next(parent.parameters()).device
    codes = [entry_code(models[d], check_latents(models[d], lat.unsqueeze(0), space).to(device), space,
                        truncation_psi)[0] for d, lat in zip(domains, (latent_a, latent_b))]
    code_space = entry_space(space)
    latent_curve, weight_curve = schedule(latent_schedule), schedule(weight_schedule)
    mix = WeightMix(parent, child)
    windows = windows or resolution_windows(mix.resolutions)
    missing = sorted(set(mix.resolutions) - set(windows))
    if missing:
        raise EditError(f"no weight window for block(s) {missing}")
    out = []
    for t in tqdm(frame_times(frames), desc="morph", unit="frame", disable=not progress):
        mix.set_weights({res: window_weight(t, windows[res], weight_curve) for res in mix.resolutions})
        code = torch.lerp(codes[0], codes[1], float(latent_curve(t))).unsqueeze(0).to(device)
        out.append(mix.generator.synthesize(code, space=code_space, noise_mode=noise_mode).cpu())
    return torch.cat(out)
