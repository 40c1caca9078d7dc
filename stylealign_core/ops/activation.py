"""Bias + activation epilogues (stylegan2 ``bias_act`` and the fused ``scale_bias_act``) and pixel norm."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


def bias_act(x: torch.Tensor, bias: torch.Tensor | None, act: str = "linear", gain: float = 1.0,
             clamp: float | None = None, dim: int = 1) -> torch.Tensor:
    """x + bias, then activation, times gain, then optional symmetric clamp (stylegan2 ``bias_act``)."""
    if bias is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + bias.to(x.dtype).reshape(shape)
    if act == "lrelu":
        x = F.leaky_relu(x, LRELU_SLOPE)
    elif act != "linear":
        raise ValueError(f"unknown activation {act!r} (expected 'linear' or 'lrelu')")
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def scale_bias_act(x: torch.Tensor, scale: torch.Tensor | None = None, noise: torch.Tensor | None = None,
                   bias: torch.Tensor | None = None, act: str = "linear", gain: float = 1.0,
                   clamp: float | None = None) -> torch.Tensor:
    """act(x * scale + noise + bias) * gain, then an optional symmetric clamp, in few passes.

    ``scale`` is [B, C] (per sample and channel, e.g. demodulation coefficients), ``noise`` broadcasts
    to x, ``bias`` is [C]. A positive ``gain`` is folded into scale, noise and bias before the
    activation (lrelu(g t) = g lrelu(t) for g > 0), so the epilogue is a multiply(-add), a bias add and
    an activation, the adds and the activation in place on the fresh tensor. (addcmul fuses the
    multiply and the noise add, but its autograd backward spends an extra full pass, so it is used for
    inference only.) Equal to ``bias_act`` of the unfused sum up to float rounding.
    """
    if act not in ("linear", "lrelu"):
        raise ValueError(f"unknown activation {act!r} (expected 'linear' or 'lrelu')")
    post = 1.0
    if gain <= 0:
        post, gain = gain, 1.0
    dtype = x.dtype
    s = None if scale is None else (scale * gain if gain != 1 else scale).to(dtype).reshape(*scale.shape, 1, 1)
    if s is None and gain != 1:
        s = gain
    n = None if noise is None else (noise * gain if gain != 1 else noise).to(dtype)
    b = None if bias is None else (bias * gain if gain != 1 else bias).to(dtype).reshape(1, -1, 1, 1)
    fresh = True
    if s is None:
        if n is not None:
            y = x + n
        elif b is not None:
            y, b = x + b, None
        else:
            y, fresh = x, False
    elif isinstance(s, torch.Tensor) and (n is not None or b is not None) and not _needs_grad(x, s):
        # inference: one fused multiply-add (autograd's addcmul backward would spend an extra full pass)
        if n is not None:
            y = torch.addcmul(n, x, s)
        else:
            y, b = torch.addcmul(b, x, s), None
    elif n is not None and not isinstance(s, torch.Tensor):
        y = torch.add(n, x, alpha=s)
    else:
        y = x * s
        if n is not None:
            y = y.add_(n)
    if b is not None:
        y = y.add_(b)
    if act == "lrelu":
        y = F.leaky_relu(y, LRELU_SLOPE, inplace=fresh)
        fresh = True
    if post != 1:
        y = y * post
    if clamp is not None:  # out of place: lrelu_'s backward needs its result
        y = y.clamp(-clamp, clamp)
    return y


def _needs_grad(*tensors) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Pixel norm: x / sqrt(mean(x^2) + eps) along ``dim`` (applied to z and to label embeddings)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()
