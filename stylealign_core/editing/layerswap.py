"""Mixing two aligned generators' synthesis weights per resolution: Toonify-style layer swapping and the
weight half of morphing.

:class:`WeightMix` holds ONE deep copy of a ``base`` generator (its mapping network and ``w_avg`` are
kept) and writes into it, per synthesis block, ``lerp(base, other, t_res)`` of every floating tensor of
that block (const, convolutions, affines, biases, noise strengths, ToRGB). Neither input model is ever
modified; the copy is reused for every frame of a morph (``set_weights`` only rewrites its tensors).

Layer swapping is the case where every ``t_res`` is 0 or 1: blocks up to ``swap_res`` from the
``low`` model, the finer ones from the ``high`` model. ``blend`` > 0 replaces the step by a logistic
ramp over log2(resolution) of that width (in resolution levels), centred between ``swap_res`` and
the next resolution.
"""
from __future__ import annotations

import copy
import math

import torch

from .aligned import check_aligned
from .errors import EditError


class WeightMix:
    """A copy of ``base`` whose synthesis blocks are interpolated towards ``other`` (per resolution)."""

    def __init__(self, base: torch.nn.Module, other: torch.nn.Module):
        check_aligned(base, other, names=("base", "other"))
        self.generator = copy.deepcopy(base).eval().requires_grad_(False)
        self.resolutions = list(self.generator.synthesis.block_resolutions)
        self._tensors: dict[int, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]] = {}
        for res in self.resolutions:
            name = f"b{res}"
            mine = _float_tensors(getattr(self.generator.synthesis, name))
            first = _float_tensors(getattr(base.synthesis, name))
            second = _float_tensors(getattr(other.synthesis, name))
            self._tensors[res] = [(mine[k], first[k].detach(), second[k].detach()) for k in mine]
        self.weights = {res: 0.0 for res in self.resolutions}

    @torch.no_grad()
    def set_weights(self, weights: dict[int, float]) -> "WeightMix":
        """Set block ``res`` to ``lerp(base, other, weights[res])`` (0: base, 1: other); returns self."""
        unknown = sorted(set(weights) - set(self.resolutions))
        if unknown:
            raise EditError(f"no synthesis block at resolution(s) {unknown}: this generator has "
                            f"{self.resolutions}")
        for res, t in weights.items():
            t = float(t)
            if t == self.weights[res]:
                continue
            for dest, first, second in self._tensors[res]:
                torch.lerp(first, second, t, out=dest)
            self.weights[res] = t
        return self


def _float_tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Every floating parameter and buffer of ``module`` by name (the fixed resample filters included: they
    are equal in aligned models, so mixing leaves them as they are)."""
    items = list(module.named_parameters()) + list(module.named_buffers())
    return {name: t for name, t in items if t.is_floating_point()}


def check_swap_res(resolutions: list[int], swap_res: int) -> int:
    if swap_res not in resolutions:
        raise EditError(f"--swap-res {swap_res} is not a synthesis resolution of this generator: use one of "
                        f"{', '.join(map(str, resolutions))}")
    return swap_res


def swap_weights(resolutions: list[int], swap_res: int, blend: float = 0.0) -> dict[int, float]:
    """Weight of the ``high`` model per block: 0 up to ``swap_res``, 1 above (a logistic ramp of width
    ``blend`` resolution levels when ``blend`` > 0)."""
    check_swap_res(resolutions, swap_res)
    if blend < 0:
        raise EditError(f"--blend must be >= 0 (0: a hard swap), got {blend}")
    centre = math.log2(swap_res) + 0.5
    if blend == 0:
        return {res: 0.0 if res <= swap_res else 1.0 for res in resolutions}
    return {res: 1.0 / (1.0 + math.exp(-(math.log2(res) - centre) / blend)) for res in resolutions}


def layer_swap(low: torch.nn.Module, high: torch.nn.Module, swap_res: int, blend: float = 0.0,
               mapping_from: str = "low") -> WeightMix:
    """A hybrid generator: synthesis blocks up to ``swap_res`` from ``low``, finer ones from ``high``.

    ``mapping_from`` ("low" or "high"): whose mapping network (and ``w_avg``) the hybrid keeps. The
    hybrid is ``.generator`` of the returned :class:`WeightMix`."""
    if mapping_from not in ("low", "high"):
        raise EditError(f"mapping_from must be 'low' or 'high', got {mapping_from!r}")
    weights = swap_weights(list(low.synthesis.block_resolutions), swap_res, blend)
    if mapping_from == "low":
        return WeightMix(low, high).set_weights(weights)
    return WeightMix(high, low).set_weights({res: 1.0 - t for res, t in weights.items()})
