"""The training loop shared by parent training and child fine-tuning.

``train(cfg, images, run_dir, ...)`` runs StyleGAN2 training on uint8 images [N, C, R, R]:
phases Gmain / Greg (every ``pl_interval``) / Dmain / Dreg (every ``r1_interval``) with the lazy
regularisation correction of lr and betas, G EMA, ADA, snapshots every ``snapshot_kimg`` and
exact resume (from a snapshot), or a weights-only resume from any checkpoint.

Determinism: every random draw of a micro-batch (z, style-mixing cutoff, noise maps, augmentation)
comes from the global torch RNG seeded with (seed, step, phase, micro-batch index), and the data
order is a per-epoch permutation seeded with (seed, epoch). Nothing random depends on history, so
a resumed run continues exactly where the snapshot left off, and a data-parallel run with N
processes computes the same micro-batches as one process with ``batch_gpu = batch / N``.
"""
from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import torch

from .. import components
from ..atomic import write_json_atomic
from ..checkpoints import DIR_CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from ..discriminator import Discriminator
from ..generator import Generator
from ..grid import save_image_grid
from ..precision import resolve
from ..reports import plot_training_log
from . import snapshots as snap
from .augment import AdaController, augment_preset
from .config import TrainConfig
from .distributed import DistContext
from .loss import StyleGAN2Loss

PHASES = ("Gmain", "Greg", "Dmain", "Dreg")
CURVES_EVERY_ROWS = 10  # training-curves.png is redrawn every 10 log rows (40 kimg at 4-kimg ticks) and at the end


class TrainingDiverged(RuntimeError):
    """A loss became NaN/Inf; the message names the step. Earlier snapshots are left intact."""


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def batch_indices(seed: int, step: int, batch: int, num_images: int) -> np.ndarray:
    """Dataset indices of the global batch at ``step``: walks a fresh permutation each epoch."""
    positions = np.arange(step * batch, (step + 1) * batch)
    out = np.empty(batch, dtype=np.int64)
    for epoch in np.unique(positions // num_images):
        perm = np.random.default_rng(_seed(seed, 1, epoch)).permutation(num_images)
        sel = positions // num_images == epoch
        out[sel] = perm[positions[sel] % num_images]
    return out


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


def _resume_weights(uri: str, G, D, G_ema, augment_pipe, batch: int, device) -> tuple[int, int, dict]:
    """Weights-only resume, as stylegan2-ada-pytorch's ``--resume PKL``: G, D and G_ema (G where the file
    has no G_ema) and the ADA p from any checkpoint the loader reads (ours, an exported model, an official
    .pkl, a rosinality .pt); the optimizer states and the path-length mean start fresh. Progress continues
    from the checkpoint's recorded kimg and step (0 where it records none). Returns (step, nimg, lineage)."""
    ckpt = load_checkpoint(uri, device=str(device))
    missing = sorted({"G", "D"} - set(ckpt.networks))
    if missing:
        raise ValueError(f"{uri}: resuming training needs G and D; this checkpoint lacks {missing} (it holds "
                         f"{sorted(ckpt.networks)}); resume from a snapshot, an exported model or a training pickle")
    for name, net in (("G", G), ("D", D), ("G_ema", G_ema)):
        try:
            net.load_state_dict(ckpt.networks.get(name, ckpt.networks["G"]).state_dict())
        except RuntimeError as exc:
            raise ValueError(f"{uri}: its {name} does not fit this run's network settings; pass the settings it "
                             f"was trained with (stylealign info {uri})\n{exc}") from exc
    meta = ckpt.metadata or {}
    p = ckpt.extra.get("augment_pipe.p", meta.get("augment_p"))
    if augment_pipe is not None and p is not None:
        augment_pipe.p.fill_(float(p))
    nimg = int(round(float(meta.get("kimg", 0)) * 1000))
    step = int(meta.get("step", nimg // batch))
    return step, nimg, dict(ckpt.lineage(), kimg=nimg / 1000)


def _to_float(images_u8: np.ndarray, device) -> torch.Tensor:
    return torch.from_numpy(images_u8).to(device).float() / 127.5 - 1


def train(cfg: TrainConfig, images: np.ndarray, run_dir, labels: np.ndarray | None = None,
          parent=None, resume=None, dist_ctx: DistContext | None = None, metadata: dict | None = None,
          progress: bool = True) -> dict:
    """Train (or fine-tune from ``parent``, a loaded Checkpoint) and return a summary dict.

    ``images``: uint8 [N, C, R, R]. ``labels``: float [N, c_dim] or None. ``resume``: None, "latest", a
    snapshot directory (exact resume) or a checkpoint path/URL (weights only: ``_resume_weights``).
    ``metadata`` is recorded in every checkpoint (e.g. the recipe; ``resumed_from`` after a weights resume).
    On CPU it turns on ``torch.set_flush_denormal`` for the process (denormals are slow on x86).
    """
    ctx = dist_ctx or DistContext()
    run_dir = Path(run_dir)
    device = torch.device(cfg.device if cfg.device != "cuda" else f"cuda:{ctx.local_rank}")
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 [N, C, R, R], got {images.dtype} {list(images.shape)}")
    num_images, channels, resolution = images.shape[0], images.shape[1], images.shape[2]
    cfg = cfg.resolved(resolution)
    world, batch = ctx.world_size, cfg.batch
    batch_gpu = cfg.batch_gpu or batch // world
    if batch % (batch_gpu * world):
        raise ValueError(f"batch {batch} is not divisible by batch_gpu {batch_gpu} x {world} processes")
    rounds = batch // (batch_gpu * world)
    precision = resolve(device.type, cfg.precision)
    if device.type == "cpu":
        # Denormal floats take a slow microcode path on x86: fine-tuning a trained parent ran at 9.4 images/s
        # with them and 13 without (default child, 2-core AMD EPYC). Values below 1.2e-38 become 0.
        torch.set_flush_denormal(True)
    c_dim = 0 if labels is None else labels.shape[1]

    # ---- networks ------------------------------------------------------------------------------
    if parent is not None:
        G, D = copy.deepcopy(parent.networks["G"]), copy.deepcopy(parent.networks["D"])
        G_ema = copy.deepcopy(parent.networks.get("G_ema", G))
        if G.img_resolution != resolution or G.img_channels != channels:
            raise ValueError(f"parent makes {G.img_channels}x{G.img_resolution}px images, the data is "
                             f"{channels}x{resolution}px: build the dataset at the parent's resolution")
    else:
        torch.manual_seed(_seed(cfg.seed, 0))
        G, D = build_networks(cfg, resolution, channels, c_dim)
        G_ema = copy.deepcopy(G)
    G, D, G_ema = G.to(device).train(), D.to(device).train(), G_ema.to(device).eval().requires_grad_(False)
    for net in (G.synthesis, D):
        net.channels_last = cfg.channels_last
    G_ema.synthesis.channels_last = cfg.channels_last
    G.requires_grad_(True)
    D.requires_grad_(True)
    frozen = components.freeze(G, D, cfg.finetune.freeze, cfg.finetune.freeze_resolutions, cfg.finetune.freeze_d)
    augment_pipe = augment_preset(cfg.augment)
    ada = None
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
    ctx.broadcast_module(G)
    ctx.broadcast_module(D)
    ctx.broadcast_module(G_ema)

    # ---- resume -----------------------------------------------------------------------------------
    step, nimg, log_rows, resumed_from = 0, 0, [], None
    resume_from = snap.resolve_resume(run_dir, resume)
    if isinstance(resume_from, str):  # a checkpoint, not a snapshot: weights only
        step, nimg, resumed_from = _resume_weights(resume_from, G, D, G_ema, augment_pipe, batch, device)
        metadata = dict(metadata or {}, resumed_from=resumed_from)
        log_rows = snap.read_log(run_dir / "log.parquet", up_to_nimg=nimg)
    elif resume_from is not None:
        ckpt = load_checkpoint(resume_from / DIR_CHECKPOINT_NAME, device=str(device))
        for name, net in (("G", G), ("D", D), ("G_ema", G_ema)):
            net.load_state_dict(ckpt.networks[name].state_dict())
        state = snap.load_state(resume_from / "training_state.pt")
        if "resumed_from" in (ckpt.metadata or {}):  # keep the lineage of an earlier weights-only resume
            resumed_from = ckpt.metadata["resumed_from"]
            metadata = dict(metadata or {}, resumed_from=resumed_from)
        for opt, key in ((opt_G, "opt_G"), (opt_D, "opt_D")):
            if opt is not None:
                settings = [{k: g[k] for k in ("lr", "betas", "eps")} for g in opt.param_groups]
                opt.load_state_dict(state[key])
                for group, setting in zip(opt.param_groups, settings):  # the current config wins
                    group.update(setting)
        loss.pl_mean.copy_(state["pl_mean"])
        if ada is not None:
            ada.load_state_dict(state["ada"])
        step, nimg = int(state["step"]), int(state["nimg"])
        log_rows = snap.read_log(run_dir / "log.parquet", up_to_nimg=nimg)

    # ---- fixed sample grid -------------------------------------------------------------------
    grid_n = cfg.grid_size ** 2
    grid_z = torch.randn(grid_n, G.z_dim, generator=torch.Generator().manual_seed(cfg.seed + 12345)).to(device)
    grid_c = None
    if c_dim:
        pick = np.random.default_rng(cfg.seed).integers(0, num_images, grid_n)
        grid_c = torch.from_numpy(labels[pick]).float().to(device)
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "samples").mkdir(exist_ok=True)
        write_json_atomic(run_dir / "config.json", {"train": cfg.to_dict(), "world_size": world,
                                                    "frozen": frozen, "metadata": metadata or {}})
        reals = images[np.random.default_rng(cfg.seed).permutation(num_images)[:grid_n]]
        save_image_grid(_to_float(reals, "cpu"), run_dir / "reals.png", ncols=cfg.grid_size)

    def sample_grid():
        with torch.no_grad():
            return torch.cat([G_ema(grid_z[i:i + batch_gpu], None if grid_c is None else grid_c[i:i + batch_gpu],
                                    noise_mode="const").cpu() for i in range(0, grid_n, batch_gpu)])

    curves_at = [0]  # redraw training-curves.png once the log has grown this long, and at the end

    def save_snapshot():
        meta = dict(metadata or {}, kimg=nimg / 1000, step=step, augment_p=float(augment_pipe.p) if ada else 0.0)
        state = dict(opt_G=opt_G.state_dict() if opt_G else {}, opt_D=opt_D.state_dict() if opt_D else {}, pl_mean=loss.pl_mean.cpu(),
                     ada=ada.state_dict() if ada else {}, step=step, nimg=nimg,
                     torch_rng=torch.get_rng_state(), config=cfg.to_dict())
        fakes = sample_grid()  # every rank runs G_ema identically; only rank 0 writes

        def write(tmp: Path):
            extra = {"augment_pipe.p": augment_pipe.p.detach().cpu()} if ada else None
            save_checkpoint(tmp / DIR_CHECKPOINT_NAME, {"G": G, "D": D, "G_ema": G_ema}, metadata=meta, extra_tensors=extra)
            snap.save_state(tmp / "training_state.pt", state)
            save_image_grid(fakes, tmp / "fakes.png", ncols=cfg.grid_size)

        if ctx.is_main:
            path = snap.write_snapshot(run_dir, nimg, write)
            save_image_grid(fakes, run_dir / "samples" / f"fakes{nimg:09d}.png", ncols=cfg.grid_size)
            snap.write_log(run_dir / "log.parquet", log_rows)
            if log_rows and (len(log_rows) >= curves_at[0] or nimg >= total_nimg):
                plot_training_log(log_rows, run_dir / "training-curves.png", title=f"{run_dir.name}: training log",
                                  ada_target=cfg.ada_target)
                curves_at[0] = len(log_rows) + CURVES_EVERY_ROWS
            snap.prune_snapshots(run_dir, cfg.keep_snapshots)
            ctx.barrier()
            return path
        ctx.barrier()
        return None

    # ---- main loop -------------------------------------------------------------------------------
    total_nimg = int(round(cfg.total_kimg * 1000))
    snapshot_nimg = max(int(round(cfg.snapshot_kimg * 1000)), 1)
    tick_nimg = max(min(snapshot_nimg, 4000), batch)
    next_tick = (nimg // tick_nimg + 1) * tick_nimg
    next_snapshot = (nimg // snapshot_nimg + 1) * snapshot_nimg
    intervals = {"Gmain": 1, "Greg": cfg.pl_interval if cfg.pl_weight else 0,
                 "Dmain": 1, "Dreg": cfg.r1_interval if cfg.r1_gamma else 0}
    tick_stats, tick_start, tick_start_nimg = {}, time.time(), nimg
    bar = None
    if progress and ctx.is_main:
        from tqdm.auto import tqdm
        bar = tqdm(total=total_nimg, initial=nimg, unit="img", unit_scale=True, desc="train", dynamic_ncols=True)
    last_snapshot = None
    while nimg < total_nimg:
        idx = batch_indices(cfg.seed, step, batch, num_images)
        for phase_idx, phase in enumerate(PHASES):
            interval = intervals[phase]
            if not interval or step % interval:
                continue
            opt = opt_G if phase.startswith("G") else opt_D
            params = g_params if phase.startswith("G") else d_params
            if opt is None:
                continue
            net_fixed = D if phase.startswith("G") else G
            net_fixed.requires_grad_(False)
            for p in params:
                p.requires_grad_(True)
            opt.zero_grad(set_to_none=False)
            phase_stats = []
            for r in range(rounds):
                micro = ctx.rank * rounds + r
                torch.manual_seed(_seed(cfg.seed, 2, step, phase_idx, micro))
                sl = idx[micro * batch_gpu:(micro + 1) * batch_gpu]
                real = _to_float(images[sl], device)
                real_c = None if labels is None else torch.from_numpy(labels[sl]).float().to(device)
                gen_z = torch.randn(batch_gpu, G.z_dim, device=device)
                gen_c = None
                if c_dim:
                    gen_c = torch.from_numpy(labels[np.random.default_rng(_seed(cfg.seed, 3, step, micro))
                                                    .integers(0, num_images, batch_gpu)]).float().to(device)
                stats = loss.accumulate(phase, real, real_c, gen_z, gen_c, gain=interval)
                for key in ("loss_G", "loss_pl", "loss_D", "loss_r1"):
                    if key in stats and not torch.isfinite(stats[key]):
                        raise TrainingDiverged(
                            f"{key} became {stats[key].item()} at step {step} (kimg {nimg / 1000:.3f}, phase "
                            f"{phase}); snapshots up to kimg {(next_snapshot - snapshot_nimg) / 1000:.3f} in "
                            f"{run_dir / 'snapshots'} are intact: lower the learning rate or raise r1_gamma "
                            f"and resume from one")
                phase_stats.append(stats)
            ctx.average_gradients(params, micro_batches=rounds)
            opt.step()
            for p in params:
                p.requires_grad_(False)
            _after_phase(phase, phase_stats, G, loss, ada, ctx, tick_stats, rounds)
        # EMA of G (ramped up over the first images, as in stylegan2-ada)
        ema_nimg = cfg.ema_kimg * 1000
        if cfg.ema_rampup:
            ema_nimg = min(ema_nimg, nimg * cfg.ema_rampup)
        beta = 0.5 ** (batch / max(ema_nimg, 1e-8))
        with torch.no_grad():
            for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                p_ema.copy_(p.detach().lerp(p_ema, beta))
            for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                b_ema.copy_(b)
        if ada is not None and step % cfg.ada_interval == 0:
            ada.update(batch)
        nimg += batch
        step += 1
        if bar is not None:
            bar.update(batch)
        if nimg >= next_tick or nimg >= total_nimg:
            elapsed = max(time.time() - tick_start, 1e-9)
            row = {"nimg": nimg, "kimg": nimg / 1000, "step": step,
                   "images_per_s": (nimg - tick_start_nimg) / elapsed, "augment_p": float(augment_pipe.p) if ada else 0.0,
                   "ada_rt": float(ada.rt) if ada and ada.rt is not None else float("nan")}
            row.update({k: float(np.mean(v)) for k, v in tick_stats.items()})
            log_rows.append(row)
            if bar is not None:
                bar.set_postfix({k: f"{row[k]:.3f}" for k in ("loss_G", "loss_D", "augment_p") if k in row})
            tick_stats, tick_start, tick_start_nimg = {}, time.time(), nimg
            next_tick += tick_nimg
        if nimg >= next_snapshot or nimg >= total_nimg:
            last_snapshot = save_snapshot()
            next_snapshot = (nimg // snapshot_nimg + 1) * snapshot_nimg
    if bar is not None:
        bar.close()
    return {"run_dir": str(run_dir), "kimg": nimg / 1000, "steps": step, "snapshot": str(last_snapshot or ""),
            "G_ema": G_ema, "G": G, "D": D, "frozen": frozen, "log": log_rows, "resumed_from": resumed_from}


def _after_phase(phase, phase_stats, G, loss, ada, ctx, tick_stats, rounds):
    """Reduce per-micro-batch statistics over rounds and processes; update w_avg, pl_mean and ADA."""
    def mean_over_all(key):
        total = torch.stack([s[key].float() for s in phase_stats]).sum(0)
        return ctx.all_reduce_sum(total) / (rounds * ctx.world_size)

    if phase == "Gmain":
        with torch.no_grad():
            w_mean = mean_over_all("w_mean")
            mapping = G.mapping
            if mapping.w_avg_beta is not None:
                mapping.w_avg.copy_(w_mean.lerp(mapping.w_avg, mapping.w_avg_beta))
    if phase == "Greg":
        loss.pl_update(mean_over_all("pl_length"))
    if phase == "Dmain" and ada is not None:
        ada.accumulate(torch.cat([s["real_signs"].flatten() for s in phase_stats]))
    for key in ("loss_G", "loss_pl", "loss_D", "loss_r1", "score_real", "score_fake"):
        if key in phase_stats[0]:
            tick_stats.setdefault(key, []).append(mean_over_all(key).item())
