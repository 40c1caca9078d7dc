"""Everything a training run holds besides its progress: networks, augmentation, loss and optimizers.

``build_training`` makes them for a fresh run (``parent`` None: networks initialised from ``cfg.seed``)
or a fine-tune (copies of a loaded parent's G, D and G_ema), freezes the parts ``cfg.finetune`` names and
broadcasts the weights from rank 0 so every process starts identical.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputMismatch
from .. import components
from ..discriminator import Discriminator
from ..generator import Generator
from ..precision import resolve
from .augment import AdaController, AugmentPipe, augment_preset
from .config import TrainConfig
from .distributed import DistContext
from .loss import StyleGAN2Loss


def derive_seed(*parts: int) -> int:
    """One 32-bit seed from a tuple of integers (run seed, stream, step, ...), independent of history."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


@dataclass
class Networks:
    """The trainable state of a run (what a snapshot saves besides progress)."""
    G: Generator
    D: Discriminator
    G_ema: Generator
    augment_pipe: AugmentPipe | None
    ada: AdaController | None
    loss: StyleGAN2Loss
    opt_G: torch.optim.Optimizer | None
    opt_D: torch.optim.Optimizer | None
    g_params: list
    d_params: list
    frozen: list

    @property
    def augment_p(self) -> float:
        return float(self.augment_pipe.p) if self.ada is not None else 0.0


def build_networks(cfg: TrainConfig, resolution: int, channels: int, c_dim: int):
    net = cfg.network
    G = Generator(z_dim=net.z_dim, w_dim=net.w_dim, img_resolution=resolution, img_channels=channels,
                  c_dim=c_dim, mapping_layers=net.mapping_layers, channel_base=net.channel_base,
                  channel_max=net.channel_max, conv_clamp=net.conv_clamp)
    D = Discriminator(img_resolution=resolution, img_channels=channels, c_dim=c_dim,
                      channel_base=net.channel_base, channel_max=net.channel_max, conv_clamp=net.conv_clamp,
                      mbstd_group_size=net.mbstd_group_size)
    return G, D


def _make_optimizer(params, lr, betas, eps, interval):
    if not params:
        return None  # everything frozen
    ratio = interval / (interval + 1) if interval else 1.0  # lazy regularisation: scale lr and betas
    return torch.optim.Adam(params, lr=lr * ratio, betas=tuple(b ** ratio for b in betas), eps=eps)


def _initial_networks(cfg: TrainConfig, resolution: int, channels: int, c_dim: int, parent):
    if parent is None:
        torch.manual_seed(derive_seed(cfg.seed, 0))
        G, D = build_networks(cfg, resolution, channels, c_dim)
        return G, D, copy.deepcopy(G)
    G, D = copy.deepcopy(parent.networks["G"]), copy.deepcopy(parent.networks["D"])
    G_ema = copy.deepcopy(parent.networks.get("G_ema", G))
    if G.img_resolution != resolution or G.img_channels != channels:
        raise InputMismatch(f"parent makes {G.img_channels}x{G.img_resolution}px images, the data is "
                         f"{channels}x{resolution}px: build the dataset at the parent's resolution")
    if G.c_dim != c_dim:
        raise InputMismatch(f"the parent is conditioned on {G.c_dim} label values, the data gives {c_dim}: "
                         + ("train with the data set's labels (--cond)" if G.c_dim else
                            "fine-tune without labels (drop --cond)"))
    return G, D, G_ema


def build_training(cfg: TrainConfig, resolution: int, channels: int, c_dim: int, parent, ctx: DistContext,
                   device: torch.device, batch_gpu: int) -> Networks:
    """Networks (fresh or copied from ``parent``), ADA, loss and optimizers of a run, on ``device``.

    ``cfg.precision`` is resolved here, against the generator of this run ("auto" may time its layers:
    ``precision.resolve``); ``Networks.loss.precision`` holds the concrete mode, never "auto".
    """
    G, D, G_ema = _initial_networks(cfg, resolution, channels, c_dim, parent)
    precision = resolve(device.type, cfg.precision, G, batch=batch_gpu)
    G, D, G_ema = G.to(device).train(), D.to(device).train(), G_ema.to(device).eval().requires_grad_(False)
    for net in (G.synthesis, D, G_ema.synthesis):
        net.channels_last = cfg.channels_last
    G.requires_grad_(True)
    D.requires_grad_(True)
    frozen = components.freeze(G, D, cfg.finetune.freeze, cfg.finetune.freeze_resolutions, cfg.finetune.freeze_d)
    augment_pipe, ada = augment_preset(cfg.augment), None
    if augment_pipe is not None:
        augment_pipe = augment_pipe.to(device)
        augment_pipe.p.fill_(cfg.augment_p)
        ada = AdaController(augment_pipe, target=cfg.ada_target, interval=cfg.ada_interval,
                            ada_kimg=cfg.ada_kimg, all_reduce=ctx.all_reduce_sum if ctx.enabled else None)
    loss = StyleGAN2Loss(G, D, augment_pipe, r1_gamma=cfg.r1_gamma, style_mixing=cfg.style_mixing,
                         pl_weight=cfg.pl_weight, pl_batch_shrink=cfg.pl_batch_shrink, pl_decay=cfg.pl_decay,
                         precision=precision, device_type=device.type)
    g_params = [p for p in G.parameters() if p.requires_grad]
    d_params = [p for p in D.parameters() if p.requires_grad]
    opt_G = _make_optimizer(g_params, cfg.lr_g, cfg.betas, cfg.eps, cfg.pl_interval if cfg.pl_weight else 0)
    opt_D = _make_optimizer(d_params, cfg.lr_d, cfg.betas, cfg.eps, cfg.r1_interval if cfg.r1_gamma else 0)
    for net in (G, D, G_ema):
        ctx.broadcast_module(net)
    return Networks(G, D, G_ema, augment_pipe, ada, loss, opt_G, opt_D, g_params, d_params, frozen)
