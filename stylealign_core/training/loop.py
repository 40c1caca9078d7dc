"""The training loop shared by parent training and child fine-tuning.

``train(cfg, data, run_dir, ...)`` runs StyleGAN2 training on a training source (an ``ImageDataset``,
read one batch at a time, or uint8 images [N, C, R, R] in memory): phases Gmain / Greg (every
``pl_interval``) / Dmain / Dreg (every ``r1_interval``) with the lazy regularisation correction of lr and
betas, G EMA, ADA, snapshots every ``snapshot_kimg``, ``on_tick`` / ``on_snapshot`` hooks (see
:mod:`.hooks`), exact resume (from a snapshot) or a weights-only resume from any checkpoint (:mod:`.resume`).
The run directory's files are named by :class:`.rundir.RunDir`.

Determinism: every random draw of a micro-batch (z, style-mixing cutoff, noise maps, augmentation)
comes from the global torch RNG seeded with (seed, step, phase, micro-batch index), and the data
order is a per-epoch permutation seeded with (seed, epoch) (:mod:`.sampler`). Nothing random depends on
history, so a resumed run continues exactly where the snapshot left off, and a data-parallel run with N
processes computes the same micro-batches as one process with ``batch_gpu = batch / N``.
"""
from __future__ import annotations

import math
import time
from types import SimpleNamespace

import numpy as np
import torch

from ..errors import InputMismatch, StylealignError
from .. import latents
from ..atomic import write_json_atomic
from ..checkpoints import save_checkpoint
from ..grid import save_image_grid
from ..reports import plot_training_log
from . import hooks as hk
from . import snapshots as snap
from .build import build_networks, build_training, derive_seed  # noqa: F401 (build_networks: public here)
from .config import TrainConfig
from .distributed import DistContext
from .resume import resume_snapshot, resume_weights
from .rundir import RunDir, snapshot_checkpoint, snapshot_fakes, snapshot_state
from .sampler import as_source, batch_indices, gather, labels_of, step_batches  # noqa: F401 (batch_indices)

PHASES = ("Gmain", "Greg", "Dmain", "Dreg")
CURVES_EVERY_ROWS = 10  # training-curves.png is redrawn every 10 log rows (40 kimg at 4-kimg ticks) and at the end
_seed = derive_seed


class TrainingDiverged(StylealignError, RuntimeError):
    """A loss became NaN/Inf; the message names the step. Earlier snapshots are left intact."""


def _resume_weights(uri: str, G, D, G_ema, augment_pipe, batch: int, device) -> tuple[int, int, list[dict]]:
    """Weights-only resume into bare networks; returns (step, nimg, resumed_from chain). See ``resume_weights``."""
    return resume_weights(uri, SimpleNamespace(G=G, D=D, G_ema=G_ema, augment_pipe=augment_pipe), batch, device)


def _to_float(images_u8: torch.Tensor, device) -> torch.Tensor:
    return images_u8.to(device).float() / 127.5 - 1


def _leg_of(rows: list[dict]) -> int:
    """The number of the leg (process start) about to begin, after the legs recorded in ``rows``."""
    legs = [r["leg"] for r in rows if isinstance(r.get("leg"), (int, float, np.number)) and not math.isnan(r["leg"])]
    return int(max(legs)) + 1 if legs else int(bool(rows))


class _Training:
    """One process's part of a run: ``__init__`` builds and resumes, ``run`` steps, ticks and snapshots."""

    def __init__(self, cfg: TrainConfig, source, run_dir, parent, resume, ctx: DistContext, metadata: dict | None,
                 on_tick, on_snapshot):
        self.ctx, self.source, self.run_dir = ctx, source, RunDir(run_dir)
        self.device = torch.device(cfg.device if cfg.device != "cuda" else f"cuda:{ctx.local_rank}")
        channels, resolution, width = source.image_shape
        if resolution != width:
            raise InputMismatch(f"images must be square, got {resolution}x{width}")
        self.cfg = cfg = cfg.resolved(resolution)
        self.batch_gpu = cfg.batch_gpu or cfg.batch // ctx.world_size
        if cfg.batch % (self.batch_gpu * ctx.world_size):
            raise InputMismatch(f"batch {cfg.batch} is not divisible by batch_gpu {self.batch_gpu} x {ctx.world_size} "
                             "processes")
        self.rounds = cfg.batch // (self.batch_gpu * ctx.world_size)
        if self.device.type == "cpu":
            # Denormal floats take a slow microcode path on x86: fine-tuning a trained parent ran at 9.4 images/s
            # with them and 13 without (default child, 2-core AMD EPYC). Values below 1.2e-38 become 0.
            torch.set_flush_denormal(True)
        self.c_dim = int(source.label_dim)
        self.nets = build_training(cfg, resolution, channels, self.c_dim, parent, ctx, self.device, self.batch_gpu)
        self.precision = self.nets.loss.precision  # what precision.resolve chose for this network, never "auto"
        self.on_tick, self.on_snapshot = hk.as_hooks(on_tick, "on_tick"), hk.as_hooks(on_snapshot, "on_snapshot")
        self.metadata = dict(metadata or {})
        self._resume(resume)
        self.leg, self.leg_start_nimg = _leg_of(self.log_rows), self.nimg
        self.total_nimg = int(round(cfg.total_kimg * 1000))
        self.snapshot_nimg = max(int(round(cfg.snapshot_kimg * 1000)), 1)
        self.tick_nimg = max(min(self.snapshot_nimg, 4000), cfg.batch)
        self.curves_at = 0  # redraw training-curves.png once the log has grown this long, and at the end
        self._start_grid()

    # ---- resume ------------------------------------------------------------------------------------
    def _resume(self, resume):
        self.step, self.nimg, self.resumed_from = 0, 0, []
        resume_from = snap.resolve_resume(self.run_dir.root, resume)
        if resume_from is None:
            self.log_rows = []
            return
        if isinstance(resume_from, str):  # a checkpoint, not a snapshot: weights only
            self.step, self.nimg, self.resumed_from = resume_weights(resume_from, self.nets, self.cfg.batch,
                                                                     self.device)
        else:
            self.step, self.nimg, self.resumed_from = resume_snapshot(resume_from, self.nets, self.cfg.to_dict(),
                                                                      self.metadata, self.device)
        if self.resumed_from:
            self.metadata["resumed_from"] = self.resumed_from
        self.log_rows = snap.read_log(self.run_dir.log, up_to_nimg=self.nimg)  # the log and the hooks' records
        if self.ctx.is_main:                                                    # rewind to where this leg starts
            hk.truncate_records(self.run_dir.metrics, self.nimg / 1000)

    # ---- fixed sample grid, reals, config.json --------------------------------------------------------
    def _start_grid(self):
        cfg, num_images, device = self.cfg, len(self.source), self.device
        grid_n = cfg.grid_size ** 2
        self.grid_z = latents.z_from_seeds(latents.grid_seeds(grid_n), self.nets.G.z_dim, device=device)
        self.grid_c = None
        if self.c_dim:
            pick = np.random.default_rng(cfg.seed).integers(0, num_images, grid_n)
            self.grid_c = torch.from_numpy(labels_of(self.source, pick)).to(device)
        if not self.ctx.is_main:
            return
        self.run_dir.samples.mkdir(parents=True, exist_ok=True)
        train_settings = dict(self.cfg.to_dict(), precision=self.precision)  # what resolve() chose, never "auto"
        write_json_atomic(self.run_dir.config, {"train": train_settings, "world_size": self.ctx.world_size,
                                                "frozen": self.nets.frozen, "metadata": self.metadata})
        reals, _ = gather(self.source, np.random.default_rng(cfg.seed).permutation(num_images)[:grid_n])
        save_image_grid(_to_float(reals, "cpu"), self.run_dir.reals, ncols=cfg.grid_size)

    def _sample_grid(self) -> torch.Tensor:
        G_ema, z, c, n = self.nets.G_ema, self.grid_z, self.grid_c, self.batch_gpu
        with torch.no_grad():
            return torch.cat([G_ema(z[i:i + n], None if c is None else c[i:i + n], noise_mode="const").cpu()
                              for i in range(0, len(z), n)])

    # ---- main loop ------------------------------------------------------------------------------------
    def run(self, progress: bool, workers: int = 0) -> dict:
        bar = None
        if progress and self.ctx.is_main:
            from tqdm.auto import tqdm
            bar = tqdm(total=self.total_nimg, initial=self.nimg, unit="img", unit_scale=True, desc="train",
                       dynamic_ncols=True)
        next_tick = (self.nimg // self.tick_nimg + 1) * self.tick_nimg
        next_snapshot = (self.nimg // self.snapshot_nimg + 1) * self.snapshot_nimg
        self.tick_stats, self.tick_start, self.tick_start_nimg = {}, time.time(), self.nimg
        last_snapshot = None
        batches = step_batches(self.source, self.cfg.seed, self.cfg.batch, self.step, self.ctx.rank,
                               self.rounds * self.batch_gpu, workers) if self.nimg < self.total_nimg else None
        while self.nimg < self.total_nimg:
            self._step(*next(batches), last_snapshot_nimg=next_snapshot - self.snapshot_nimg)
            if bar is not None:
                bar.update(self.cfg.batch)
            final = self.nimg >= self.total_nimg
            if self.nimg >= next_tick or final:
                row = self._tick(final)
                if bar is not None:
                    bar.set_postfix({k: f"{row[k]:.3f}" for k in ("loss_G", "loss_D", "augment_p") if k in row})
                next_tick += self.tick_nimg
            if self.nimg >= next_snapshot or final:
                last_snapshot = self._snapshot(final)
                next_snapshot = (self.nimg // self.snapshot_nimg + 1) * self.snapshot_nimg
        if bar is not None:
            bar.close()
        nets = self.nets
        return {"run_dir": str(self.run_dir.root), "kimg": self.nimg / 1000, "steps": self.step,
                "snapshot": str(last_snapshot or ""), "G_ema": nets.G_ema, "G": nets.G, "D": nets.D,
                "frozen": nets.frozen, "log": self.log_rows, "resumed_from": self.resumed_from,
                "precision": self.precision}

    def _step(self, images: torch.Tensor, labels: torch.Tensor, last_snapshot_nimg: int):
        """One global batch: the four phases (where due), G EMA, ADA."""
        cfg, nets = self.cfg, self.nets
        intervals = {"Gmain": 1, "Greg": cfg.pl_interval if cfg.pl_weight else 0,
                     "Dmain": 1, "Dreg": cfg.r1_interval if cfg.r1_gamma else 0}
        for phase_idx, phase in enumerate(PHASES):
            interval = intervals[phase]
            is_g = phase.startswith("G")
            opt, params = (nets.opt_G, nets.g_params) if is_g else (nets.opt_D, nets.d_params)
            if not interval or self.step % interval or opt is None:
                continue
            (nets.D if is_g else nets.G).requires_grad_(False)
            for p in params:
                p.requires_grad_(True)
            opt.zero_grad(set_to_none=False)
            phase_stats = [self._micro_batch(phase, phase_idx, r, interval, images, labels, last_snapshot_nimg)
                           for r in range(self.rounds)]
            self.ctx.average_gradients(params, micro_batches=self.rounds)
            opt.step()
            for p in params:
                p.requires_grad_(False)
            _after_phase(phase, phase_stats, nets.G, nets.loss, nets.ada, self.ctx, self.tick_stats, self.rounds)
        self._update_ema()
        if nets.ada is not None and self.step % cfg.ada_interval == 0:
            nets.ada.update(cfg.batch)
        self.nimg += cfg.batch
        self.step += 1

    def _micro_batch(self, phase, phase_idx, r, interval, images, labels, last_snapshot_nimg) -> dict:
        cfg, bg, device, G = self.cfg, self.batch_gpu, self.device, self.nets.G
        micro = self.ctx.rank * self.rounds + r
        torch.manual_seed(_seed(cfg.seed, 2, self.step, phase_idx, micro))
        real = _to_float(images[r * bg:(r + 1) * bg], device)
        real_c = labels[r * bg:(r + 1) * bg].float().to(device) if self.c_dim else None
        gen_z = torch.randn(bg, G.z_dim, device=device)
        gen_c = None
        if self.c_dim:
            pick = np.random.default_rng(_seed(cfg.seed, 3, self.step, micro)).integers(0, len(self.source), bg)
            gen_c = torch.from_numpy(labels_of(self.source, pick)).float().to(device)
        stats = self.nets.loss.accumulate(phase, real, real_c, gen_z, gen_c, gain=interval)
        for key in ("loss_G", "loss_pl", "loss_D", "loss_r1"):
            if key in stats and not torch.isfinite(stats[key]):
                raise TrainingDiverged(
                    f"{key} became {stats[key].item()} at step {self.step} (kimg {self.nimg / 1000:.3f}, phase "
                    f"{phase}); snapshots up to kimg {last_snapshot_nimg / 1000:.3f} in {self.run_dir.snapshots} "
                    f"are intact: lower the learning rate or raise r1_gamma and resume from one")
        return stats

    def _update_ema(self):
        """EMA of G (ramped up over the first images, as in stylegan2-ada)."""
        cfg, G, G_ema = self.cfg, self.nets.G, self.nets.G_ema
        ema_nimg = cfg.ema_kimg * 1000
        if cfg.ema_rampup:
            ema_nimg = min(ema_nimg, self.nimg * cfg.ema_rampup)
        beta = 0.5 ** (cfg.batch / max(ema_nimg, 1e-8))
        with torch.no_grad():
            for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                p_ema.copy_(p.detach().lerp(p_ema, beta))
            for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                b_ema.copy_(b)

    # ---- ticks and snapshots ----------------------------------------------------------------------------
    def _tick(self, final: bool) -> dict:
        """Append a log row (means of this tick's statistics) and run the on_tick hooks."""
        nets, elapsed = self.nets, max(time.time() - self.tick_start, 1e-9)
        ada = nets.ada
        row = {"nimg": self.nimg, "kimg": self.nimg / 1000, "step": self.step,
               "images_per_s": (self.nimg - self.tick_start_nimg) / elapsed, "augment_p": nets.augment_p,
               "ada_rt": float(ada.rt) if ada and ada.rt is not None else float("nan"),
               "leg": self.leg, "leg_start_kimg": self.leg_start_nimg / 1000, "precision": self.precision}
        row.update({k: float(np.mean(v)) for k, v in self.tick_stats.items()})
        self.log_rows.append(row)
        self.tick_stats, self.tick_start, self.tick_start_nimg = {}, time.time(), self.nimg
        if self.on_tick and self.ctx.is_main:
            hk.run_hooks(self.on_tick, hk.context("tick", self.run_dir, self.nimg, self.step, nets.G_ema, None,
                                                  row, final))
        return row

    def _snapshot_contents(self):
        """The snapshot's writer (a function of its temporary directory) and its sample grid."""
        cfg, nets = self.cfg, self.nets
        meta = dict(self.metadata, kimg=self.nimg / 1000, step=self.step, augment_p=nets.augment_p)
        state = dict(opt_G=nets.opt_G.state_dict() if nets.opt_G else {},
                     opt_D=nets.opt_D.state_dict() if nets.opt_D else {}, pl_mean=nets.loss.pl_mean.cpu(),
                     ada=nets.ada.state_dict() if nets.ada else {}, step=self.step, nimg=self.nimg,
                     torch_rng=torch.get_rng_state(), config=cfg.to_dict())
        fakes = self._sample_grid()  # every rank runs G_ema identically; only rank 0 writes

        def write(tmp):
            extra = {"augment_pipe.p": nets.augment_pipe.p.detach().cpu()} if nets.ada else None
            save_checkpoint(snapshot_checkpoint(tmp), {"G": nets.G, "D": nets.D, "G_ema": nets.G_ema}, metadata=meta,
                            extra_tensors=extra)
            snap.save_state(snapshot_state(tmp), state)
            save_image_grid(fakes, snapshot_fakes(tmp), ncols=cfg.grid_size)
        return write, fakes

    def _snapshot(self, final: bool):
        """Write a snapshot, the sample grid, the log and (now and then) the curves; run on_snapshot hooks."""
        write, fakes = self._snapshot_contents()
        path, run_dir, rows = None, self.run_dir, self.log_rows
        if self.ctx.is_main:
            path = snap.write_snapshot(run_dir.root, self.nimg, write)
            save_image_grid(fakes, run_dir.sample_grid(self.nimg), ncols=self.cfg.grid_size)
            snap.write_log(run_dir.log, rows)
            if rows and (len(rows) >= self.curves_at or final):
                plot_training_log(rows, run_dir.curves, title=f"{run_dir.name}: training log",
                                  ada_target=self.cfg.ada_target)
                self.curves_at = len(rows) + CURVES_EVERY_ROWS
            snap.prune_snapshots(run_dir.root, self.cfg.keep_snapshots)
            if self.on_snapshot:
                hk.run_hooks(self.on_snapshot, hk.context("snapshot", run_dir, self.nimg, self.step, self.nets.G_ema,
                                                          path, rows[-1] if rows else None, final))
        self.ctx.barrier()
        return path


def train(cfg: TrainConfig, images, run_dir, labels: np.ndarray | None = None, parent=None, resume=None,
          dist_ctx: DistContext | None = None, metadata: dict | None = None, progress: bool = True,
          on_tick=None, on_snapshot=None, data_workers: int = 0) -> dict:
    """Train (or fine-tune from ``parent``, a loaded Checkpoint) and return a summary dict.

    ``images``: an ``ImageDataset`` (or any training source, see :mod:`.sampler`: labels and x-flips come
    from it), or uint8 [N, C, R, R] in memory with ``labels`` float [N, c] or None. A source with labels
    trains a class-conditional model (c_dim = label_dim). ``resume``: None, "latest", a snapshot directory
    (exact resume) or a checkpoint path/URL (weights only). ``metadata`` is recorded in every checkpoint
    (e.g. the recipe; ``resumed_from`` after a weights resume). ``on_tick`` / ``on_snapshot``: hooks (a
    callable or a list), see :mod:`.hooks`. ``data_workers``: processes decoding batches ahead (0: inline).
    On CPU it turns on ``torch.set_flush_denormal`` for the process (denormals are slow on x86).
    """
    training = _Training(cfg, as_source(images, labels), run_dir, parent, resume, dist_ctx or DistContext(), metadata,
                         on_tick, on_snapshot)
    return training.run(progress, data_workers)


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
