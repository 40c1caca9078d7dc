"""StyleGAN2 generator with explicit latent-space handles: Z -> W -> W+ -> S -> image.

    G = Generator(z_dim=512, w_dim=512, img_resolution=64, img_channels=3)
    w     = G.z_to_w(z)                  # [B, w_dim]          mapping network (+ truncation)
    wplus = G.w_to_wplus(w)              # [B, num_ws, w_dim]  one w per style input
    s     = G.wplus_to_s(wplus)          # [B, s_dim]          StyleSpace: every affine output, flat
    img   = G.synthesize(s, space="s")   # [B, C, R, R] in [-1, 1] (also space="z"|"w"|"w+")

``G.style_layout`` (a :class:`stylealign_core.latents.StyleLayout`) names the StyleSpace coordinates:
``G.style_layout.index("b16.conv1", 7)`` is the flat S index of channel 7 of that layer's style.
Synthesis always goes W+ -> S -> image through the same code, so synthesizing from S(W+) equals
synthesizing from W+ exactly. Seeds become z in :mod:`stylealign_core.latents` (the official
``RandomState(seed).randn(z_dim)``).

Parameter and buffer names follow stylegan2-ada-pytorch (``mapping.fc0.weight``,
``synthesis.b16.conv0.affine.bias``, ...), so official weights map one-to-one.
"""
from __future__ import annotations

import torch

from . import ops
from .latents.layout import SPACES, StyleLayer, StyleLayout  # noqa: F401 - re-exported: old names stay valid
from .layers import FullyConnectedLayer, SynthesisLayer, ToRGBLayer
from .registry import register_network


class MappingNetwork(torch.nn.Module):
    """z (and label c) -> w. Tracks ``w_avg`` (the truncation centre) when ``w_avg_beta`` is set."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int | None, num_layers: int = 8,
                 embed_features: int | None = None, layer_features: int | None = None,
                 lr_multiplier: float = 0.01, w_avg_beta: float | None = 0.995):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers, self.w_avg_beta = num_layers, w_avg_beta
        embed_features = (w_dim if embed_features is None else embed_features) if c_dim else 0
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for i in range(num_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(features[i], features[i + 1], activation="lrelu",
                                                        lr_multiplier=lr_multiplier))
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor | None, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, update_w_avg: bool = False) -> torch.Tensor:
        """Returns w [B, w_dim] if ``num_ws`` is None, else W+ [B, num_ws, w_dim] (w repeated)."""
        parts = []
        if self.z_dim:
            parts.append(ops.normalize_2nd_moment(z.float()))
        if self.c_dim:
            if c is None:
                raise ValueError(f"this network is conditional (c_dim={self.c_dim}): pass labels c")
            parts.append(ops.normalize_2nd_moment(self.embed(c.float())))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        if update_w_avg and self.w_avg_beta is not None:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            x = truncate(x, self.w_avg, truncation_psi, truncation_cutoff)
        return x


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
    """Pull w (or the first ``cutoff`` entries of W+) towards ``w_avg``: w_avg + psi * (w - w_avg)."""
    if ws.ndim == 2 or cutoff is None:
        return w_avg.lerp(ws, psi)
    ws = ws.clone()
    ws[:, :cutoff] = w_avg.lerp(ws[:, :cutoff], psi)
    return ws


class SynthesisBlock(torch.nn.Module):
    """One resolution of the skip generator: [const | conv0 (up 2x)], conv1, torgb."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 is_last: bool, resample_filter=(1, 3, 3, 1), conv_clamp=None, use_noise=True):
        super().__init__()
        self.in_channels, self.resolution = in_channels, resolution
        self.register_buffer("resample_filter", ops.setup_filter(resample_filter))
        layer_kw = dict(w_dim=w_dim, resolution=resolution, resample_filter=resample_filter,
                        conv_clamp=conv_clamp, use_noise=use_noise)
        if in_channels == 0:
            self.const = torch.nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, up=2, **layer_kw)
        self.conv1 = SynthesisLayer(out_channels, out_channels, **layer_kw)
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp)
        self.num_conv = 1 if in_channels == 0 else 2
        self.num_torgb = 1

    def conv_layers(self):
        return ([("conv0", self.conv0)] if self.in_channels else []) + [("conv1", self.conv1)]


class SynthesisNetwork(torch.nn.Module):
    """W+ [B, num_ws, w_dim] -> image [B, C, R, R], through StyleSpace."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, **block_kwargs):
        super().__init__()
        if img_resolution < 4 or img_resolution & (img_resolution - 1):
            raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.block_resolutions = [2 ** i for i in range(2, img_resolution.bit_length())]
        self.channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        # None = auto (channels_last on CPU and under CUDA autocast, see ops.use_channels_last); True/False force it.
        self.channels_last: bool | None = None
        self.num_ws = 0
        layers, offset = [], 0
        for res in self.block_resolutions:
            block = SynthesisBlock(self.channels[res // 2] if res > 4 else 0, self.channels[res], w_dim, res,
                                   img_channels, is_last=res == img_resolution, **block_kwargs)
            setattr(self, f"b{res}", block)
            for i, (name, layer) in enumerate(block.conv_layers()):
                layers.append(StyleLayer(f"b{res}.{name}", self.num_ws + i, layer.in_channels, offset))
                offset += layer.in_channels
            layers.append(StyleLayer(f"b{res}.torgb", self.num_ws + block.num_conv, block.torgb.in_channels, offset))
            offset += block.torgb.in_channels
            self.num_ws += block.num_conv
        self.num_ws += 1  # the last block's torgb
        self.style_layout = StyleLayout(layers)

    def blocks(self):
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def _affine(self, name: str):
        block, layer = name.split(".")
        return getattr(getattr(self, block), layer).affine

    def ws_to_styles(self, ws: torch.Tensor) -> torch.Tensor:
        """W+ [B, num_ws, w_dim] -> flat S [B, s_dim] (float32)."""
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"W+ must have shape [B, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        ws = ws.float()
        with torch.autocast(ws.device.type, enabled=False):
            return torch.cat([self._affine(l.name)(ws[:, l.w_index]) for l in self.style_layout.layers], dim=1)

    def forward(self, ws: torch.Tensor, noise_mode: str = "random", noise: dict | None = None,
                fused: bool | None = None) -> torch.Tensor:
        return self.from_styles(self.ws_to_styles(ws), noise_mode=noise_mode, noise=noise, fused=fused)

    def from_styles(self, s: torch.Tensor, noise_mode: str = "random", noise: dict | None = None,
                    fused: bool | None = None) -> torch.Tensor:
        """Flat S [B, s_dim] -> image. ``noise`` maps layer names ("b8.conv0") to explicit noise maps."""
        styles = dict(zip((l.name for l in self.style_layout.layers), self.style_layout.split(s)))
        noise = noise or {}
        if fused is None:  # grouped conv wins on GPUs at inference; the unfused path wins on CPU and in training
            fused = s.device.type == "cuda" and not torch.is_grad_enabled()
        channels_last = ops.use_channels_last(self.channels_last, s.device.type)
        x = img = None
        for res, block in zip(self.block_resolutions, self.blocks()):
            if x is None:
                x = block.const.unsqueeze(0).repeat([s.shape[0], 1, 1, 1])
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
            for name, layer in block.conv_layers():
                key = f"b{res}.{name}"
                x = layer(x, styles[key], noise_mode=noise_mode, noise=noise.get(key), fused=fused)
            y = block.torgb(x, styles[f"b{res}.torgb"], fused=fused).float()
            img = y if img is None else ops.upsample2d(img, block.resample_filter) + y
        return img.contiguous()  # a plain NCHW image whatever the internal layout (3 channels: cheap)


@register_network
class Generator(torch.nn.Module):
    """StyleGAN2 generator (skip architecture). ``config`` holds the constructor arguments (recorded by
    :func:`~stylealign_core.registry.register_network`)."""

    def __init__(self, z_dim: int = 512, w_dim: int = 512, img_resolution: int = 64, img_channels: int = 3,
                 c_dim: int = 0, mapping_layers: int = 8, channel_base: int = 32768, channel_max: int = 512,
                 conv_clamp: float | None = None, mapping_lr_multiplier: float = 0.01,
                 w_avg_beta: float = 0.995, layer_features: int | None = None, use_noise: bool = True):
        super().__init__()
        self.z_dim, self.w_dim, self.c_dim = z_dim, w_dim, c_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, channel_base=channel_base,
                                          channel_max=channel_max, conv_clamp=conv_clamp, use_noise=use_noise)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, num_ws=self.num_ws, num_layers=mapping_layers,
                                      layer_features=layer_features, lr_multiplier=mapping_lr_multiplier,
                                      w_avg_beta=w_avg_beta)

    # ---- latent-space handles -------------------------------------------------------------------
    @property
    def style_layout(self) -> StyleLayout:
        return self.synthesis.style_layout

    def z_to_w(self, z, c=None, truncation_psi: float = 1.0) -> torch.Tensor:
        """Z [B, z_dim] -> W [B, w_dim] (optionally truncated towards ``w_avg``)."""
        w = self.mapping(z, c)[:, 0]
        return truncate(w, self.mapping.w_avg, truncation_psi) if truncation_psi != 1 else w

    def w_to_wplus(self, w: torch.Tensor) -> torch.Tensor:
        """W [B, w_dim] -> W+ [B, num_ws, w_dim]: the same w for every style input."""
        return w.unsqueeze(1).repeat([1, self.num_ws, 1])

    def wplus_to_s(self, wplus: torch.Tensor) -> torch.Tensor:
        """W+ -> StyleSpace S [B, s_dim] (the per-layer affine outputs, ToRGB styles included)."""
        return self.synthesis.ws_to_styles(wplus)

    def to_s(self, latent: torch.Tensor, space: str, c=None, truncation_psi: float = 1.0) -> torch.Tensor:
        """Any space -> S."""
        if space not in SPACES:
            raise ValueError(f"latent space must be one of {SPACES}, got {space!r}")
        if space == "s":
            return latent
        if space == "z":
            latent, space = self.z_to_w(latent, c, truncation_psi), "w"
        if space == "w":
            latent = self.w_to_wplus(latent)
        return self.wplus_to_s(latent)

    def synthesize(self, latent: torch.Tensor, space: str = "w+", c=None, truncation_psi: float = 1.0,
                   noise_mode: str = "const", noise: dict | None = None, fused: bool | None = None):
        """Image [B, C, R, R] in [-1, 1] from a code in ``space`` (one of "z", "w", "w+", "s")."""
        s = self.to_s(latent, space, c=c, truncation_psi=truncation_psi)
        return self.synthesis.from_styles(s, noise_mode=noise_mode, noise=noise, fused=fused)

    # ---- training-time helpers ------------------------------------------------------------------
    def mix_styles(self, ws: torch.Tensor, z2: torch.Tensor, c=None, prob: float = 0.9) -> torch.Tensor:
        """Style mixing regularisation: with probability ``prob`` replace W+ entries from a random
        cutoff on with those of a second code ``z2`` (one cutoff per batch, as in stylegan2-ada)."""
        if prob <= 0 or torch.rand([]).item() >= prob:
            return ws
        cutoff = int(torch.randint(1, self.num_ws, []).item())
        ws = ws.clone()
        ws[:, cutoff:] = self.mapping(z2, c)[:, cutoff:]
        return ws

    def forward(self, z, c=None, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                noise_mode: str = "random", update_w_avg: bool = False, fused: bool | None = None):
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                          update_w_avg=update_w_avg)
        return self.synthesis(ws, noise_mode=noise_mode, fused=fused)
