"""Equalized-learning-rate layers of StyleGAN2 (parameter names and shapes of stylegan2-ada-pytorch).

Weights are stored unscaled (N(0, 1) / lr_multiplier at init) and multiplied by their He gain at
run time, so that Adam sees every layer at the same scale ("equalized learning rate").
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import ops


class FullyConnectedLayer(torch.nn.Module):
    """Dense layer: ``weight`` [out, in], ``bias`` [out]; gains lr_multiplier / sqrt(in) and lr_multiplier."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.activation = activation
        self.weight = torch.nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = torch.nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        b = None
        if self.bias is not None:
            b = (self.bias * self.bias_gain).to(x.dtype) if self.bias_gain != 1 else self.bias.to(x.dtype)
        if self.activation == "linear":
            return F.linear(x, w, b)
        gain = ops.LRELU_GAIN if self.activation == "lrelu" else 1.0
        return ops.bias_act(F.linear(x, w), b, act=self.activation, gain=gain)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, act={self.activation}"


class Conv2dLayer(torch.nn.Module):
    """Discriminator convolution with optional 2x FIR downsampling: ``weight`` [out, in, k, k], ``bias``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", down: int = 1, resample_filter=(1, 3, 3, 1),
                 conv_clamp: float | None = None):
        super().__init__()
        if down not in (1, 2):
            raise ValueError(f"Conv2dLayer supports down=1 or 2, got {down}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.activation, self.down, self.conv_clamp = activation, down, conv_clamp
        self.register_buffer("resample_filter", ops.setup_filter(resample_filter))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.act_gain = ops.LRELU_GAIN if activation == "lrelu" else 1.0
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        # act(conv(x, w) + b) * g == act(conv(x, w * g) + b * g) for g > 0 (linear, lrelu): the gains go
        # into the (small) weight and bias, the bias into the conv, leaving one activation pass.
        act_gain = self.act_gain * gain
        fold = act_gain if act_gain > 0 else 1.0
        w = self.weight * (self.weight_gain * fold)
        b = None if self.bias is None else (self.bias * fold if fold != 1 else self.bias)
        if self.down == 2:
            x = ops.conv_down2(x, w, self.resample_filter, bias=b)
        else:
            x = ops.conv2d(x, w, b, padding=self.kernel_size // 2)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return ops.scale_bias_act(x, act=self.activation, gain=act_gain / fold, clamp=clamp)

    def extra_repr(self) -> str:
        return f"in={self.in_channels}, out={self.out_channels}, k={self.kernel_size}, down={self.down}"


NOISE_MODES = ("random", "const", "none")


class SynthesisLayer(torch.nn.Module):
    """Modulated 3x3 conv + per-pixel noise + bias + lrelu. ``affine`` maps w to this layer's styles."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: int = 1,
                 use_noise: bool = True, resample_filter=(1, 3, 3, 1), conv_clamp: float | None = None,
                 kernel_size: int = 3):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.resolution, self.up, self.use_noise, self.conv_clamp = resolution, up, use_noise, conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.register_buffer("resample_filter", ops.setup_filter(resample_filter))
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = torch.nn.Parameter(torch.zeros([]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))

    def make_noise(self, x: torch.Tensor, noise_mode: str, noise: torch.Tensor | None):
        """The noise term added after the conv: explicit ``noise`` wins, else per ``noise_mode``."""
        if not self.use_noise or (noise is None and noise_mode == "none"):
            return None
        if noise is None:
            if noise_mode == "random":
                noise = torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device)
            elif noise_mode == "const":
                noise = self.noise_const
            else:
                raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        return noise * self.noise_strength

    def forward(self, x: torch.Tensor, styles: torch.Tensor, noise_mode: str = "random",
                noise: torch.Tensor | None = None, fused: bool = False) -> torch.Tensor:
        # clamp: +-conv_clamp on the activated output, as stylegan2-ada-pytorch (act_clamp = conv_clamp * gain,
        # gain = 1 here; the lrelu gain is not applied to the clamp).
        return ops.modulated_conv2d(x, self.weight, styles, noise=self.make_noise(x, noise_mode, noise),
                                    up=self.up, resample_filter=self.resample_filter, fused=fused,
                                    bias=self.bias, act="lrelu", gain=ops.LRELU_GAIN, clamp=self.conv_clamp)

    def extra_repr(self) -> str:
        return f"in={self.in_channels}, out={self.out_channels}, res={self.resolution}, up={self.up}"


class ToRGBLayer(torch.nn.Module):
    """1x1 modulated conv without demodulation; styles are scaled by 1/sqrt(in_channels) internally."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None):
        super().__init__()
        self.in_channels, self.out_channels, self.conv_clamp = in_channels, out_channels, conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, styles: torch.Tensor, fused: bool = False) -> torch.Tensor:
        return ops.modulated_conv2d(x, self.weight, styles * self.weight_gain, demodulate=False, fused=fused,
                                    bias=self.bias, clamp=self.conv_clamp)

    def extra_repr(self) -> str:
        return f"in={self.in_channels}, out={self.out_channels}"
