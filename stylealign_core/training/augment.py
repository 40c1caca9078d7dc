"""Adaptive discriminator augmentation (ADA), after Karras et al. 2020, "Training Generative
Adversarial Networks with Limited Data", written from scratch in plain PyTorch.

`AugmentPipe` augments every image D sees (real and generated) with the same random transforms.
Each transform hits a sample independently with probability ``p * multiplier``; ``p`` is a buffer
(saved as ``augment_pipe.p``) that `AdaController` steers so that D stays just overconfident enough.

Transforms and their parameter distributions (defaults are the stylegan2-ada ones; override them
with the strength keywords, e.g. ``AugmentPipe(xint=1, xint_max=0.25)``):

  geometric  xflip       mirror x with probability 1/2 (a chosen sample gets a random orientation)
             rotate90    rotate by k * 90 degrees, k uniform in {0, 1, 2, 3}
             xint        integer translation, uniform in +-xint_max (0.125) of the image size
             scale       isotropic scale 2**N(0, scale_std=0.2)
             rotate      arbitrary rotation, uniform in +-rotate_max (1 = full circle); applied twice
                         (before and after aniso), each with prob 1 - sqrt(1 - p) so P(any) = p
             aniso       anisotropic scale (s, 1/s), s = 2**N(0, aniso_std=0.2)
             xfrac       fractional translation N(0, xfrac_std=0.125) of the image size
  color      brightness  add N(0, brightness_std=0.2) to every channel
             contrast    scale by 2**N(0, contrast_std=0.5)
             lumaflip    Householder reflection of the luma axis (1,1,1)/sqrt(3), probability 1/2
             hue         rotation around the luma axis, uniform in +-hue_max (1 = full circle)
             saturation  scale chroma (the part orthogonal to the luma axis) by 2**N(0, saturation_std=1)

Design notes
  * All geometric transforms are composed into one 3x3 homogeneous matrix per sample (mapping output
    pixels to input pixels, in pixel units around the image centre) and the image is resampled once
    with `F.affine_grid` + `F.grid_sample` (bilinear). Border handling: ``padding_mode="reflection"``
    mirrors out-of-range sampling coordinates at the image border (as often as needed), which is an
    unbounded symmetric reflect-padding of the image: rotated, shrunk or shifted content never shows
    black corners or smeared edge pixels. The reference additionally supersamples 2x with a wavelet
    filter to limit aliasing; this pipe does not (bilinear only: mild aliasing when minifying).
  * All color transforms are composed into one 4x4 homogeneous color matrix per sample and applied
    as a matmul. For 1-channel images the gray value is treated as (g, g, g) and the output is the
    mean of the transformed RGB (hue and saturation are then no-ops).
  * Outputs are not clamped: brightness/contrast may leave [-1, 1], exactly as in the reference
    (clamping would make the transforms non-invertible, which is what keeps them from leaking into G).
  * Matrices, grids and the resampling run in float32 with autocast disabled; the result is cast back
    to the input dtype. Samples whose composed matrix is exactly the identity are passed through
    bit-exactly, and ``p == 0`` returns the input tensor itself (reading ``p`` costs one host sync on
    accelerators). Everything is differentiable w.r.t. the images, twice (R1 through the pipe works).
  * Randomness comes from ``generator`` when given (drawn on the generator's device, so a CPU
    generator can drive CUDA images), else from torch's global RNG for the images' device.
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable, Optional

import torch
import torch.nn.functional as F

__all__ = ["AugmentPipe", "AdaController", "augment_preset", "AUGMENT_PRESETS", "DEFAULT_STRENGTHS"]

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
DEFAULT_STRENGTHS = dict(xint_max=0.125, scale_std=0.2, rotate_max=1.0, aniso_std=0.2, xfrac_std=0.125,
                         brightness_std=0.2, contrast_std=0.5, hue_max=1.0, saturation_std=1.0)

_BLIT = dict(xflip=1, rotate90=1, xint=1)
_GEOM = dict(scale=1, rotate=1, aniso=1, xfrac=1)
_COLOR = dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
AUGMENT_PRESETS = {"noaug": None, "blit": _BLIT, "geom": _GEOM, "color": _COLOR,
                   "bg": {**_BLIT, **_GEOM}, "bgc": {**_BLIT, **_GEOM, **_COLOR}}


# ---------------------------------------------------------------------------------------------
# Batched homogeneous matrices. Inputs are [B] float tensors; outputs [B, 3, 3] or [B, 4, 4].

def _eye(n: int, batch: int, device) -> torch.Tensor:
    return torch.eye(n, device=device).expand(batch, n, n).clone()


def _affine2d(a, b, c, d, tx, ty) -> torch.Tensor:
    """[[a, b, tx], [c, d, ty], [0, 0, 1]] per sample."""
    m = _eye(3, a.shape[0], a.device)
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = a, b, tx
    m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = c, d, ty
    return m


def _scale2d(sx, sy):
    zero = torch.zeros_like(sx)
    return _affine2d(sx, zero, zero, sy, zero, zero)


def _translate2d(tx, ty):
    one, zero = torch.ones_like(tx), torch.zeros_like(tx)
    return _affine2d(one, zero, zero, one, tx, ty)


def _rotate2d(cos, sin):
    """Rotation by the angle whose cosine/sine are given (cos/sin passed in so 90-degree steps are exact)."""
    zero = torch.zeros_like(cos)
    return _affine2d(cos, -sin, sin, cos, zero, zero)


def _color4(linear: torch.Tensor, offset: Optional[torch.Tensor] = None) -> torch.Tensor:
    """4x4 homogeneous color matrix from a [B, 3, 3] linear part and an optional [B, 3] offset."""
    m = _eye(4, linear.shape[0], linear.device)
    m[:, :3, :3] = linear
    if offset is not None:
        m[:, :3, 3] = offset
    return m


def _is_identity(m: torch.Tensor) -> torch.Tensor:
    """[B] bool: which matrices are exactly the identity."""
    return (m == torch.eye(m.shape[-1], device=m.device)).flatten(1).all(dim=1)


def _no_autocast(device_type: str):
    available = getattr(torch.amp, "is_autocast_available", lambda t: t in ("cpu", "cuda"))
    return torch.autocast(device_type, enabled=False) if available(device_type) else contextlib.nullcontext()


class _Draw:
    """Per-sample random numbers from an optional generator, moved to the images' device."""

    def __init__(self, batch: int, device, generator: Optional[torch.Generator]):
        self.batch, self.device, self.gen = batch, torch.device(device), generator
        self.src = generator.device if generator is not None else self.device

    def uniform(self, *shape):
        return torch.rand((self.batch, *shape), generator=self.gen, device=self.src).to(self.device)

    def normal(self, *shape):
        return torch.randn((self.batch, *shape), generator=self.gen, device=self.src).to(self.device)

    def gate(self, prob: float, value: torch.Tensor, default: float) -> torch.Tensor:
        """`value` for samples whose coin (P = prob) comes up, `default` for the others."""
        hit = (self.uniform() < prob).view(-1, *([1] * (value.ndim - 1)))
        return torch.where(hit, value, torch.full_like(value, default))


# ---------------------------------------------------------------------------------------------

class AugmentPipe(torch.nn.Module):
    """ADA augmentation: multipliers (0 = off, 1 = on at probability p) and optional strengths
    (names in DEFAULT_STRENGTHS). ``forward(images, generator=None)`` on [B, C, H, W], C in {1, 3}."""

    def __init__(self, xflip=0, rotate90=0, xint=0, scale=0, rotate=0, aniso=0, xfrac=0,
                 brightness=0, contrast=0, lumaflip=0, hue=0, saturation=0, **strengths):
        super().__init__()
        unknown = set(strengths) - set(DEFAULT_STRENGTHS)
        if unknown:
            raise TypeError(f"unknown augmentation strength(s) {sorted(unknown)}; "
                            f"known: {sorted(DEFAULT_STRENGTHS)}")
        args = locals()
        for name in GEOMETRIC + COLOR:          # probability multipliers
            setattr(self, name, float(args[name]))
        for name, default in DEFAULT_STRENGTHS.items():
            setattr(self, name, float(strengths.get(name, default)))
        # Overall augmentation probability; starts at 0 (ADA ramps it up). Saved in checkpoints.
        self.register_buffer("p", torch.zeros([]))

    @property
    def geometric_enabled(self) -> bool:
        return any(getattr(self, n) > 0 for n in GEOMETRIC)

    @property
    def color_enabled(self) -> bool:
        return any(getattr(self, n) > 0 for n in COLOR)

    def extra_repr(self) -> str:
        on = [f"{n}={getattr(self, n):g}" for n in GEOMETRIC + COLOR if getattr(self, n) > 0]
        return f"p={float(self.p):.4f}, " + (", ".join(on) or "no transforms")

    # -- parameter sampling ------------------------------------------------------------------

    def _geometry(self, draw: _Draw, p: float, height: int, width: int) -> torch.Tensor:
        """Inverse geometric transform per sample, [B, 3, 3]: output pixel -> input pixel
        (pixel units, origin at the image centre, y down). Content transforms T1, T2, ... are
        applied in the order below, so the inverse is T1^-1 @ T2^-1 @ ..."""
        inv = _eye(3, draw.batch, draw.device)
        one = torch.ones(draw.batch, device=draw.device)
        if self.xflip > 0:
            flip = draw.gate(p * self.xflip, torch.floor(draw.uniform() * 2), 0.0)
            inv = inv @ _scale2d(1 - 2 * flip, one)
        if self.rotate90 > 0:
            k = draw.gate(p * self.rotate90, torch.floor(draw.uniform() * 4), 0.0).long()
            cos = torch.tensor([1.0, 0.0, -1.0, 0.0], device=draw.device)[k]
            sin = torch.tensor([0.0, 1.0, 0.0, -1.0], device=draw.device)[k]
            inv = inv @ _rotate2d(cos, -sin)
        if self.xint > 0:
            t = draw.gate(p * self.xint, (draw.uniform(2) * 2 - 1) * self.xint_max, 0.0)
            inv = inv @ _translate2d(-torch.round(t[:, 0] * width), -torch.round(t[:, 1] * height))
        if self.scale > 0:
            s = draw.gate(p * self.scale, torch.exp2(draw.normal() * self.scale_std), 1.0)
            inv = inv @ _scale2d(1 / s, 1 / s)
        # Rotation is applied before and after aniso, each with p_rot, so that P(rotated) = p * rotate.
        p_rot = 1 - math.sqrt(1 - min(max(p * self.rotate, 0.0), 1.0))
        for stage in ("pre", "post"):
            if self.rotate > 0:
                theta = draw.gate(p_rot, (draw.uniform() * 2 - 1) * math.pi * self.rotate_max, 0.0)
                inv = inv @ _rotate2d(torch.cos(theta), -torch.sin(theta))
            if stage == "pre" and self.aniso > 0:
                s = draw.gate(p * self.aniso, torch.exp2(draw.normal() * self.aniso_std), 1.0)
                inv = inv @ _scale2d(1 / s, s)
        if self.xfrac > 0:
            t = draw.gate(p * self.xfrac, draw.normal(2) * self.xfrac_std, 0.0)
            inv = inv @ _translate2d(-t[:, 0] * width, -t[:, 1] * height)
        return inv

    def _color(self, draw: _Draw, p: float) -> torch.Tensor:
        """Color matrix per sample, [B, 4, 4]: color_out = C @ (r, g, b, 1)."""
        dev, batch = draw.device, draw.batch
        eye3 = torch.eye(3, device=dev).expand(batch, 3, 3)
        luma = torch.full((3,), 1 / math.sqrt(3), device=dev)
        vvt = torch.outer(luma, luma)                                   # projector onto the luma axis
        cross = torch.tensor([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]],
                             device=dev) / math.sqrt(3)                 # v x (.) for v = luma axis
        col = lambda x: x.view(-1, 1, 1)
        mat = _eye(4, batch, dev)
        if self.brightness > 0:
            b = draw.gate(p * self.brightness, draw.normal() * self.brightness_std, 0.0)
            mat = _color4(eye3, b[:, None].expand(batch, 3)) @ mat
        if self.contrast > 0:
            c = draw.gate(p * self.contrast, torch.exp2(draw.normal() * self.contrast_std), 1.0)
            mat = _color4(col(c) * eye3) @ mat
        if self.lumaflip > 0:
            flip = draw.gate(p * self.lumaflip, torch.floor(draw.uniform() * 2), 0.0)
            mat = _color4(eye3 - 2 * col(flip) * vvt) @ mat           # Householder reflection
        if self.hue > 0:
            theta = draw.gate(p * self.hue, (draw.uniform() * 2 - 1) * math.pi * self.hue_max, 0.0)
            cos, sin = col(torch.cos(theta)), col(torch.sin(theta))
            mat = _color4(cos * eye3 + sin * cross + (1 - cos) * vvt) @ mat  # Rodrigues rotation
        if self.saturation > 0:
            s = draw.gate(p * self.saturation, torch.exp2(draw.normal() * self.saturation_std), 1.0)
            mat = _color4(eye3 + (col(s) - 1) * (eye3 - vvt)) @ mat   # scale the chroma plane
        return mat

    def sample_geometry(self, batch: int, height: int, width: int, device="cpu",
                        generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """The [B, 3, 3] inverse geometric matrices `forward` would draw (same RNG order)."""
        return self._geometry(_Draw(batch, device, generator), float(self.p), height, width)

    def sample_color(self, batch: int, device="cpu",
                     generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """The [B, 4, 4] color matrices `forward` would draw after the geometry."""
        return self._color(_Draw(batch, device, generator), float(self.p))

    # -- application ---------------------------------------------------------------------------

    @staticmethod
    def apply_geometry(images: torch.Tensor, inv: torch.Tensor) -> torch.Tensor:
        """Resample `images` once through the inverse matrices `inv` (see `_geometry`)."""
        batch, channels, height, width = images.shape
        with _no_autocast(images.device.type):
            x, inv = images.float(), inv.float().to(images.device)
            # Normalised coords (align_corners=False: pixel centres at (2i + 1) / W - 1) -> centred pixels.
            to_px = torch.diag(torch.tensor([width / 2, height / 2, 1.0], device=x.device))
            to_norm = torch.diag(torch.tensor([2 / width, 2 / height, 1.0], device=x.device))
            theta = (to_norm @ inv @ to_px)[:, :2, :]
            grid = F.affine_grid(theta, [batch, channels, height, width], align_corners=False)
            warped = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
            out = torch.where(_is_identity(inv).view(-1, 1, 1, 1), x, warped)
        return out.to(images.dtype)

    @staticmethod
    def apply_color(images: torch.Tensor, mat: torch.Tensor) -> torch.Tensor:
        """Apply [B, 4, 4] color matrices to RGB or gray images."""
        with _no_autocast(images.device.type):
            x, mat = images.float(), mat.float().to(images.device)
            linear, offset = mat[:, :3, :3], mat[:, :3, 3]
            if x.shape[1] == 3:
                out = torch.einsum("bij,bjhw->bihw", linear, x) + offset[:, :, None, None]
            else:  # gray g -> (g, g, g) -> transform -> mean of the three channels
                gain, shift = linear.sum(dim=2).mean(dim=1), offset.mean(dim=1)
                out = x * gain.view(-1, 1, 1, 1) + shift.view(-1, 1, 1, 1)
            out = torch.where(_is_identity(mat).view(-1, 1, 1, 1), x, out)
        return out.to(images.dtype)

    def forward(self, images: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"expected images [B, 1 or 3, H, W], got {tuple(images.shape)}")
        p = float(self.p)
        if p <= 0 or not (self.geometric_enabled or self.color_enabled):
            return images
        batch, _, height, width = images.shape
        draw = _Draw(batch, images.device, generator)
        with _no_autocast(images.device.type):  # matrices and resampling in float32
            x = images.float()
            if self.geometric_enabled:
                x = self.apply_geometry(x, self._geometry(draw, p, height, width))
            if self.color_enabled:
                x = self.apply_color(x, self._color(draw, p))
        return x.to(images.dtype)


def augment_preset(name: str, **strengths) -> Optional[AugmentPipe]:
    """Pipe for a named preset: 'bgc' (stylegan2-ada default: all 12 transforms), 'bg' (blit + geom),
    'blit', 'geom', 'color'; 'noaug' returns None (no pipe, D sees raw images). p starts at 0."""
    if name not in AUGMENT_PRESETS:
        raise ValueError(f"unknown augmentation preset {name!r}; choose from {sorted(AUGMENT_PRESETS)}")
    spec = AUGMENT_PRESETS[name]
    return None if spec is None else AugmentPipe(**spec, **strengths)


# ---------------------------------------------------------------------------------------------

class AdaController:
    """Steers ``pipe.p`` so that r_t = E[sign(D(real))] stays near `target`.

    ``accumulate(real_logits)`` after every D step; ``update(batch_size)`` once every `interval`
    training steps (the caller keeps the schedule, as the stylegan2-ada loop does), with `batch_size`
    the global batch of one step (all ranks). `update` measures r_t over the signs collected since the
    previous update and moves p by ``sign(r_t - target) * batch_size * interval / (ada_kimg * 1000)``,
    floored at 0 (so p can go from 0 to 1 in `ada_kimg` thousand images; it is not capped at 1).
    Under DDP pass ``all_reduce``: a callable that sums a float64 tensor [sum_of_signs, count] across
    ranks (in place or returning the result), e.g. ``lambda t: torch.distributed.all_reduce(t)``;
    all ranks then compute the same p. torch.distributed itself is never imported here.
    """

    def __init__(self, pipe: AugmentPipe, target: float = 0.6, interval: int = 4, ada_kimg: float = 500,
                 all_reduce: Optional[Callable[[torch.Tensor], Optional[torch.Tensor]]] = None):
        if interval < 1 or ada_kimg <= 0:
            raise ValueError("interval must be >= 1 and ada_kimg > 0")
        self.pipe, self.target, self.interval, self.ada_kimg = pipe, float(target), int(interval), float(ada_kimg)
        self.all_reduce = all_reduce
        self.rt: Optional[float] = None   # last measured E[sign(D(real))]
        self.updates = 0                  # update() calls so far
        self._stats: Optional[torch.Tensor] = None  # pending [sum of signs, count], float64

    @property
    def p(self) -> float:
        return float(self.pipe.p)

    @torch.no_grad()
    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Collect sign(D(real)) (no host sync; stays on the pipe's device)."""
        logits = real_logits.detach()
        stats = torch.stack([logits.sign().sum().double(),
                             torch.tensor(float(logits.numel()), dtype=torch.float64, device=logits.device)])
        stats = stats.to(self.pipe.p.device)
        self._stats = stats if self._stats is None else self._stats + stats

    @torch.no_grad()
    def update(self, batch_size: int) -> bool:
        """Adjust p from the signs collected since the last call; returns False (p unchanged) when no
        signs were collected anywhere. All ranks must call it together when `all_reduce` is set."""
        self.updates += 1
        stats = self._stats if self._stats is not None else torch.zeros(2, dtype=torch.float64,
                                                                        device=self.pipe.p.device)
        self._stats = None
        if self.all_reduce is not None:
            reduced = self.all_reduce(stats)
            if isinstance(reduced, torch.Tensor):
                stats = reduced
        total, count = stats.tolist()
        if count <= 0:
            return False
        self.rt = total / count
        diff = self.rt - self.target
        direction = (diff > 0) - (diff < 0)
        adjust = direction * batch_size * self.interval / (self.ada_kimg * 1000)
        self.pipe.p.fill_(max(self.p + adjust, 0.0))
        return True

    def state_dict(self) -> dict:
        pending = [0.0, 0.0] if self._stats is None else self._stats.tolist()
        return {"p": self.p, "rt": self.rt, "updates": self.updates, "pending": pending, "target": self.target,
                "interval": self.interval, "ada_kimg": self.ada_kimg}

    def load_state_dict(self, state: dict) -> None:
        """Restore p, r_t, the update counter and pending signs (configuration stays as constructed)."""
        with torch.no_grad():
            self.pipe.p.fill_(float(state["p"]))
        self.rt = state.get("rt")
        self.updates = int(state.get("updates", 0))
        pending = state.get("pending", [0.0, 0.0])
        self._stats = (torch.tensor(pending, dtype=torch.float64, device=self.pipe.p.device)
                       if pending[1] > 0 else None)
