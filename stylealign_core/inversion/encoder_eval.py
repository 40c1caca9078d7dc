"""The encoder's quality floor: encoder alone, encoder + K refine steps and the projector on the same images.

    figures = evaluate_encoder(G, E, targets, seeds, metric, projector=ProjectorSettings(space="w+", steps=1000))
    floor = quality_floor(figures["encoder"], figures["refined"], figures["projector"], figures["refine_steps"])
    floor.passed, floor.message

The floor (issue 17): on held-out images the encoder alone reaches a mean reconstruction distance of at
most :data:`ENCODER_FLOOR` (1.5) x the projector's, and with at most :data:`MAX_REFINE_STEPS` (50) refine
steps it comes within :data:`REFINE_FLOOR` (10%) of it. A null encoder (the mean latent) fails it.

Refining (:func:`refine_settings`) starts the projector at the encoder's codes with the generator's
constant noise kept fixed (the noise the encoder was trained with) and no latent noise (it would throw
the start away); the learning-rate schedule is the projector's.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace

import torch

from .encoder import Encoder, encoder_codes
from .projector import ProjectorSettings, project
from .spaces import space_stats

ENCODER_FLOOR = 1.5
REFINE_FLOOR = 1.10
MAX_REFINE_STEPS = 50


def refine_settings(base: ProjectorSettings, steps: int) -> ProjectorSettings:
    """``base`` for K refine steps from an encoder's output: const noise, no latent noise."""
    return replace(base, steps=steps, noise="const", latent_noise=0.0)


@dataclass(frozen=True)
class FloorResult:
    encoder: float
    refined: float
    projector: float
    refine_steps: int
    passed: bool
    message: str


def quality_floor(encoder: float, refined: float, projector: float, refine_steps: int) -> FloorResult:
    """Check the floor on mean distances (lower is better); ``message`` says which part failed and by how much."""
    failures = []
    if encoder > ENCODER_FLOOR * projector:
        failures.append(f"encoder {encoder:.4f} > {ENCODER_FLOOR} x projector {projector:.4f} "
                        f"({encoder / projector:.2f}x)")
    if refine_steps > MAX_REFINE_STEPS:
        failures.append(f"{refine_steps} refine steps > {MAX_REFINE_STEPS}")
    if refined > REFINE_FLOOR * projector:
        failures.append(f"encoder + {refine_steps} refine steps {refined:.4f} > {REFINE_FLOOR} x projector "
                        f"{projector:.4f} ({refined / projector:.2f}x)")
    message = "; ".join(failures) or (f"passed: encoder {encoder / projector:.2f}x, refined "
                                      f"{refined / projector:.2f}x the projector's distance")
    return FloorResult(encoder, refined, projector, refine_steps, not failures, message)


@torch.no_grad()
def encode_batches(G, E: Encoder, targets: torch.Tensor, space: str, batch: int = 64) -> torch.Tensor:
    device = next(G.parameters()).device
    return torch.cat([encoder_codes(E, G, targets[i:i + batch].to(device), space).cpu()
                      for i in range(0, len(targets), batch)])


def evaluate_encoder(G, E: Encoder, targets: torch.Tensor, seeds: list[int], metric,
                     projector: ProjectorSettings, refine_steps: int = MAX_REFINE_STEPS,
                     batch: int = 16, projector_distance: float | None = None) -> dict:
    """Mean distances and seconds of the encoder, encoder + ``refine_steps`` and the projector
    (``projector_distance``: the projector's mean distance measured before, on the same images; not rerun)."""
    stats = space_stats(G, projector.space, projector.stats_samples)
    figures = {"images": len(targets), "space": projector.space, "refine_steps": refine_steps,
               "projector_steps": projector.steps, "metric": metric.name}
    t0 = time.perf_counter()
    codes = encode_batches(G, E, targets, projector.space)
    figures["encoder_seconds"] = time.perf_counter() - t0
    runs = [("encoder", refine_settings(projector, 0), codes),
            ("refined", refine_settings(projector, refine_steps), codes), ("projector", projector, None)]
    if projector_distance is not None:
        figures["projector"] = projector_distance
        runs = runs[:2]
    for name, settings, start in runs:
        distances, t0 = [], time.perf_counter()
        for i in range(0, len(targets), batch):
            rows = slice(i, i + batch)
            result = project(G, targets[rows], seeds[rows], metric, settings, stats=stats,
                             start=None if start is None else start[rows])
            distances += result.distance.tolist()
        figures[name] = statistics.fmean(distances)
        if name != "encoder":
            figures[f"{name}_seconds"] = time.perf_counter() - t0 + (figures["encoder_seconds"] if start is not None
                                                                      else 0.0)
    return figures
