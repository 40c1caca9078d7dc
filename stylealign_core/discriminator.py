"""StyleGAN2 residual discriminator with minibatch-stddev epilogue and optional label conditioning.

Parameter names follow stylegan2-ada-pytorch (``b64.fromrgb.weight``, ``b32.skip.weight``,
``b4.conv.weight``, ``b4.fc.weight``, ``b4.out.weight``, ``mapping.*`` when conditional).
"""
from __future__ import annotations

import math

import torch

from . import ops
from .generator import MappingNetwork
from .layers import Conv2dLayer, FullyConnectedLayer
from .registry import register_network


class DiscriminatorBlock(torch.nn.Module):
    """fromrgb (first block only), conv0, conv1 (down 2x), plus a 1x1 down-sampling skip; sum / sqrt(2)."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, img_channels: int,
                 conv_clamp=None, resample_filter=(1, 3, 3, 1)):
        super().__init__()
        self.in_channels = in_channels
        self.register_buffer("resample_filter", ops.setup_filter(resample_filter))  # kept for official key names
        kw = dict(conv_clamp=conv_clamp, resample_filter=resample_filter)
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, kernel_size=1, activation="lrelu", **kw)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, kernel_size=3, activation="lrelu", **kw)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, kernel_size=3, activation="lrelu", down=2, **kw)
        self.skip = Conv2dLayer(tmp_channels, out_channels, kernel_size=1, bias=False, down=2,
                                resample_filter=resample_filter)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor) -> torch.Tensor:
        if self.in_channels == 0:
            x = self.fromrgb(img)
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return y + x


class MinibatchStdLayer(torch.nn.Module):
    """Appends the stddev over groups of ``group_size`` samples (sample i is in group i % (N/G))."""

    def __init__(self, group_size: int = 4, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n) if self.group_size else n
        if n % g:
            raise ValueError(f"minibatch-stddev needs the batch ({n}) to be a multiple of its group size ({g})")
        f = self.num_channels
        y = x.float().reshape(g, -1, f, c // f, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])  # [n/g, f]
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y.to(x.dtype)], dim=1)


class DiscriminatorEpilogue(torch.nn.Module):
    def __init__(self, in_channels: int, cmap_dim: int, resolution: int = 4, mbstd_group_size: int = 4,
                 mbstd_num_channels: int = 1, conv_clamp=None):
        super().__init__()
        self.cmap_dim = cmap_dim
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, kernel_size=3,
                                activation="lrelu", conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution ** 2, in_channels, activation="lrelu")
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: torch.Tensor, cmap: torch.Tensor | None) -> torch.Tensor:
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.out(self.fc(x.flatten(1).float()))
        if self.cmap_dim:
            x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
        return x


@register_network
class Discriminator(torch.nn.Module):
    """Image [B, C, R, R] in [-1, 1] (and labels c) -> realness logits [B, 1]. ``config`` holds the
    constructor arguments (recorded by :func:`~stylealign_core.registry.register_network`)."""

    def __init__(self, img_resolution: int = 64, img_channels: int = 3, c_dim: int = 0,
                 channel_base: int = 32768, channel_max: int = 512, conv_clamp: float | None = None,
                 cmap_dim: int | None = None, mbstd_group_size: int = 4, mbstd_num_channels: int = 1,
                 mapping_layers: int = 8):
        super().__init__()
        if img_resolution < 8 or img_resolution & (img_resolution - 1):
            raise ValueError(f"img_resolution must be a power of two >= 8, got {img_resolution}")
        self.img_resolution, self.img_channels, self.c_dim = img_resolution, img_channels, c_dim
        self.block_resolutions = [2 ** i for i in range(img_resolution.bit_length() - 1, 2, -1)]
        ch = {res: min(channel_base // res, channel_max) for res in self.block_resolutions + [4]}
        cmap_dim = (ch[4] if cmap_dim is None else cmap_dim) if c_dim else 0
        # None = auto (channels_last on CPU and under CUDA autocast, see ops.use_channels_last); True/False force it.
        self.channels_last: bool | None = None
        for res in self.block_resolutions:
            in_channels = ch[res] if res < img_resolution else 0
            setattr(self, f"b{res}", DiscriminatorBlock(in_channels, ch[res], ch[res // 2], img_channels,
                                                        conv_clamp=conv_clamp))
        if c_dim:
            self.mapping = MappingNetwork(z_dim=0, c_dim=c_dim, w_dim=cmap_dim, num_ws=None, w_avg_beta=None,
                                          num_layers=mapping_layers)
        self.b4 = DiscriminatorEpilogue(ch[4], cmap_dim, mbstd_group_size=mbstd_group_size,
                                        mbstd_num_channels=mbstd_num_channels, conv_clamp=conv_clamp)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if ops.use_channels_last(self.channels_last, img.device.type):
            img = ops.to_channels_last(img)
        x = None
        for res in self.block_resolutions:
            x = getattr(self, f"b{res}")(x, img)
        cmap = None
        if self.c_dim:
            if c is None:
                raise ValueError(f"this discriminator is conditional (c_dim={self.c_dim}): pass labels c")
            cmap = self.mapping(None, c)
        return self.b4(x, cmap)
