"""Batched optimisation projector: images -> codes in Z, W, W+ or S of a generator.

    settings = ProjectorSettings(space="w+", steps=300)
    result = project(G, targets, seeds=[11, 12, 13], metric=load_metric("stlpips-vgg"), settings=settings)
    result.latents          # [N, *code_shape]; result.distance, .mse, .steps: [N]

The baseline recipe is the official projector's: 1000 steps of Adam (betas 0.9/0.999) at lr 0.1 with a
5% linear ramp-up and a 25% cosine ramp-down, Gaussian latent noise of 0.05 * spread * (1 - t/0.75)^2
added to the code at every step, loss = perceptual distance + 1e5 * noise-map regulariser, noise maps
renormalised after every step, start at w_avg. Added: a pixel loss (``pixel_weight`` * mean squared
error in [-1, 1]), the other spaces, truncation, per-image early stop (``stop_distance``).

Batching does not couple images: each image has its own noise maps and latent noise, drawn from a
random generator seeded by that image's seed only, the loss is a sum of per-image losses, and the
optimiser (Adam) is element-wise. A batch of N images therefore gives the codes of N one-image runs with
the same seeds (up to float rounding). Images that reach ``stop_distance`` leave the batch: checked every
``stop_every`` steps on the distance the code reproduces (the reported one, below), so a stopped image's
reported distance is at most ``stop_distance``.

Reported figures (``distance``, ``mse``) and ``images`` are the final code rendered with the generator's
own constant noise and clamped to [-1, 1], i.e. the image a reader of the latents table sees (every
written image is clamped). The loss is not clamped (the official recipe); a weak generator's raw output
can leave [-1, 1] far (measured: 40% of the pixels, up to |x| = 7, on the 268-kimg default parent at 100
W+ steps), and the unclamped distance then reads about half the distance of the image shown.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch

from . import noise as noise_maps
from .errors import InversionError
from .perceptual import PerceptualDistance
from .spaces import check_space, space_stats, synthesize_codes

NOISE_CHOICES = ("optimize", "const")


@dataclass(frozen=True)
class ProjectorSettings:
    """Everything that changes a projection (also the latents-cache key, with the metric's name)."""
    space: str = "w"
    steps: int = 1000
    lr: float = 0.1
    lr_rampup: float = 0.05
    lr_rampdown: float = 0.25
    latent_noise: float = 0.05
    latent_noise_ramp: float = 0.75
    noise_reg_weight: float = 1e5
    pixel_weight: float = 0.0
    truncation_psi: float = 1.0
    noise: str = "optimize"          # "optimize": per-image noise maps; "const": G's stored noise, fixed
    stop_distance: float | None = None  # per-image early stop on the distance the code reproduces (see below)
    stop_every: int = 10             # check the early stop every this many steps (a forward pass of G and metric)
    stats_samples: int = 10_000
    betas: tuple[float, float] = (0.9, 0.999)

    def __post_init__(self):
        check_space(self.space)
        if self.steps < 0 or self.lr <= 0:
            raise InversionError(f"steps must be >= 0 and lr > 0 (got {self.steps}, {self.lr})", "fix --steps/--lr")
        if self.noise not in NOISE_CHOICES:
            raise InversionError(f"noise must be one of {NOISE_CHOICES}, got {self.noise!r}", "fix --noise")
        if self.stop_every < 1:
            raise InversionError(f"stop_every must be >= 1, got {self.stop_every}", "fix stop_every")

    def as_dict(self) -> dict:
        """The settings as the latents-cache key sees them (``stop_every`` only when an early stop is set)."""
        out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}
        if self.stop_distance is None:
            del out["stop_every"]
        return out


# Named recipes: field values over ProjectorSettings' defaults (the official recipe). "fast" drops the latent
# noise, adds a pixel loss, keeps G's constant noise and uses a higher, quicker-rising learning rate: measured
# on the final default parent (16 Noto test images, W+, batch 16, stlpips-alex, early stop at the official
# recipe's 1000-step distance 0.0717), 36 steps per image on average against 340 for the official schedule in
# W+ (README "Inversion", bench/invert.py). Early stop needs ``stop_distance``; without it, ``steps`` run.
RECIPES: dict[str, dict] = {
    "official": {},
    "fast": {"steps": 100, "lr": 0.2, "lr_rampup": 0.01, "latent_noise": 0.0, "pixel_weight": 0.5,
             "noise": "const"},
}


def recipe_values(recipe: str = "official", **overrides) -> dict:
    """The ``ProjectorSettings`` fields a named recipe (:data:`RECIPES`) sets, with ``overrides`` (``None``
    values ignored: "the recipe's"); the fields left out keep ProjectorSettings' (official) defaults."""
    if recipe not in RECIPES:
        raise InversionError(f"unknown projector recipe {recipe!r}", f"use one of {sorted(RECIPES)}")
    return {**RECIPES[recipe], **{k: v for k, v in overrides.items() if v is not None}}


def recipe_settings(recipe: str = "official", **overrides) -> ProjectorSettings:
    """``ProjectorSettings`` of a named recipe with ``overrides`` (see :func:`recipe_values`)."""
    return ProjectorSettings(**recipe_values(recipe, **overrides))


def learning_rate(settings: ProjectorSettings, t: float) -> float:
    """The official schedule at progress ``t`` in [0, 1): linear ramp-up, cosine ramp-down."""
    ramp = min(1.0, (1.0 - t) / settings.lr_rampdown) if settings.lr_rampdown > 0 else 1.0
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    if settings.lr_rampup > 0:
        ramp *= min(1.0, t / settings.lr_rampup)
    return settings.lr * ramp


def latent_noise_scale(settings: ProjectorSettings, t: float, std: float) -> float:
    return std * settings.latent_noise * max(0.0, 1.0 - t / settings.latent_noise_ramp) ** 2


class RowAdam:
    """Adam over tensors whose first dimension is the image, with rows that can be dropped (early stop)."""

    def __init__(self, params: list[torch.Tensor], betas: tuple[float, float], eps: float = 1e-8):
        self.params, self.betas, self.eps, self.t = params, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, lr: float) -> None:
        self.t += 1
        b1, b2 = self.betas
        bias1, bias2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for p, m, v in zip(self.params, self.m, self.v):
            m.mul_(b1).add_(p.grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            p.addcdiv_(m, v.sqrt().div_(math.sqrt(bias2)).add_(self.eps), value=-lr / bias1)
            p.grad = None

    def keep_rows(self, rows: torch.Tensor, params: list[torch.Tensor]) -> None:
        """Continue with ``params`` (the kept rows of the old ones) and the same rows of the moments."""
        self.params = params
        self.m = [m[rows] for m in self.m]
        self.v = [v[rows] for v in self.v]


@dataclass
class Projection:
    """Result of :func:`project`, rows in input order."""
    latents: torch.Tensor          # [N, *code_shape]
    distance: torch.Tensor         # [N] perceptual distance of the final reconstruction
    mse: torch.Tensor              # [N] mean squared pixel error in [-1, 1]
    loss: torch.Tensor             # [N] distance + pixel_weight * mse (no regulariser: maps are not kept)
    steps: torch.Tensor            # [N] optimisation steps run (fewer than settings.steps after an early stop)
    images: torch.Tensor           # [N, C, R, R] reconstructions in [-1, 1]
    metric: str = ""
    history: list[float] = field(default_factory=list)  # mean training loss per step (of the active rows)


@dataclass
class _State:
    """The rows still being optimised."""
    rows: torch.Tensor             # indices into the input batch
    code: torch.Tensor             # [n, *shape], requires grad
    maps: dict                     # {layer: [n, 1, R, R]} (empty with noise="const")
    target_features: list          # the metric's features of the targets (embedded once)
    targets: torch.Tensor          # all N targets (indexed by ``rows``)
    generators: list

    def params(self) -> list[torch.Tensor]:
        return [self.code, *self.maps.values()]

    def keep(self, keep: torch.Tensor) -> None:
        index = keep.nonzero().flatten()
        self.rows = self.rows[index]
        self.code = _kept_leaf(self.code, index)
        self.maps = {k: _kept_leaf(v, index) for k, v in self.maps.items()}
        self.target_features = [f[index] for f in self.target_features]
        self.generators = [self.generators[int(i)] for i in index]


def _kept_leaf(tensor: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The rows ``index`` of a leaf tensor as a new leaf, with the same rows of its gradient."""
    kept = tensor.detach()[index].requires_grad_(True)
    if tensor.grad is not None:
        kept.grad = tensor.grad[index]
    return kept


def _start_codes(stats, n: int, start: torch.Tensor | None, device) -> torch.Tensor:
    if start is None:
        code = stats.avg.unsqueeze(0).expand(n, *stats.avg.shape)
    else:
        if tuple(start.shape) != (n, *stats.avg.shape):
            raise ValueError(f"start codes must have shape {[n, *stats.avg.shape]}, got {list(start.shape)}")
        code = start
    return code.detach().to(device, torch.float32).clone().requires_grad_(True)


def _step_loss(G, metric, state: _State, settings: ProjectorSettings, noise_scale: float):
    """Per-image loss of one step, latent noise drawn from each image's generator."""
    shape = state.code.shape[1:]
    jitter = noise_maps.per_image_randn(state.generators, shape, state.code.device) * noise_scale
    images = synthesize_codes(G, state.code + jitter, settings.space, settings.truncation_psi,
                              noise=state.maps or None)
    loss = metric.between(metric.embed(images), state.target_features)
    if settings.pixel_weight:
        targets = state.targets[state.rows]
        loss = loss + settings.pixel_weight * (images - targets).square().mean(dim=(1, 2, 3))
    if state.maps and settings.noise_reg_weight:
        loss = loss + settings.noise_reg_weight * noise_maps.noise_regulariser(state.maps)
    return loss


def _render_as_written(G, codes: torch.Tensor, settings: ProjectorSettings) -> torch.Tensor:
    """The image a latents table reproduces: no latent noise, G's constant noise, clamped to [-1, 1]."""
    return synthesize_codes(G, codes, settings.space, settings.truncation_psi).clamp(-1, 1)


@torch.no_grad()
def _reproduced_distance(G, metric, state: _State, settings: ProjectorSettings) -> torch.Tensor:
    """Per-image distance of the current codes as :func:`_finish` reports it. The step's own distance is not
    that one (latent noise, optimised maps, raw output), and stopping on it let images stop far above the
    distance asked for."""
    images = _render_as_written(G, state.code.detach(), settings)
    return metric.between(metric.embed(images), state.target_features)


def project(G, targets: torch.Tensor, seeds: list[int], metric: PerceptualDistance,
            settings: ProjectorSettings = ProjectorSettings(), start: torch.Tensor | None = None,
            on_step: Callable[[int, int], None] | None = None, stats=None) -> Projection:
    """Project ``targets`` ([N, C, R, R] in [-1, 1], at G's resolution) into ``settings.space``.

    ``seeds[i]`` seeds image i's noise maps and latent noise. ``start``: optional start codes
    ``[N, *code_shape]`` (e.g. an encoder's output) instead of the space's average.
    ``on_step(step, active)`` is called after every step. ``stats``: a precomputed
    :func:`~stylealign_core.inversion.spaces.space_stats` (saves its sampling when projecting many batches).
    """
    n = targets.shape[0]
    if len(seeds) != n:
        raise InversionError(f"{n} images but {len(seeds)} seeds", "pass one seed per image")
    device = next(G.parameters()).device
    stats = stats or space_stats(G, settings.space, settings.stats_samples)
    trainable = [p for p in G.parameters() if p.requires_grad]
    G.requires_grad_(False)  # gradients flow to the codes and maps only; restored below
    try:
        return _optimise(G, targets, seeds, metric, settings, start, on_step, stats, device)
    finally:
        for p in trainable:
            p.requires_grad_(True)


def _optimise(G, targets, seeds, metric, settings, start, on_step, stats, device) -> Projection:
    n = targets.shape[0]
    generators = noise_maps.image_generators(seeds)
    maps = noise_maps.init_noise_maps(G, generators, device) if settings.noise == "optimize" else {}
    targets = targets.to(device, torch.float32)
    with torch.no_grad():
        target_features = metric.embed(targets)
    state = _State(torch.arange(n), _start_codes(stats, n, start, device), maps, target_features, targets,
                   generators)
    final_code = state.code.detach().clone()
    steps_run = torch.full([n], settings.steps, dtype=torch.long)
    optimizer = RowAdam(state.params(), settings.betas)
    history = []
    for step in range(settings.steps):
        t = step / settings.steps
        loss = _step_loss(G, metric, state, settings, latent_noise_scale(settings, t, stats.std))
        history.append(float(loss.detach().mean()))
        loss.sum().backward()
        if settings.stop_distance is not None and step % settings.stop_every == 0:
            done = _reproduced_distance(G, metric, state, settings) <= settings.stop_distance
            if bool(done.any()):  # these rows stop here, with the code that reached the distance
                final_code[state.rows[done]] = state.code.detach()[done]
                steps_run[state.rows[done]] = step
                state.keep(~done)
                optimizer.keep_rows(done.logical_not().nonzero().flatten(), state.params())
                if len(state.rows) == 0:
                    break
        optimizer.step(learning_rate(settings, t))
        noise_maps.renormalise_(state.maps)
        if on_step is not None:
            on_step(step, len(state.rows))
    final_code[state.rows] = state.code.detach()
    return _finish(G, metric, final_code, targets, steps_run, settings, history)


@torch.no_grad()
def _finish(G, metric, codes, targets, steps_run, settings: ProjectorSettings, history) -> Projection:
    images = _render_as_written(G, codes, settings)
    distance = metric(images, targets)
    mse = (images - targets).square().mean(dim=(1, 2, 3))
    return Projection(latents=codes.cpu(), distance=distance.cpu(), mse=mse.cpu(),
                      loss=(distance + settings.pixel_weight * mse).cpu(), steps=steps_run,
                      images=images.cpu(), metric=metric.name, history=history)
