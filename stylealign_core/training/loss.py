"""StyleGAN2 objective: non-saturating logistic loss, lazy R1 on reals, lazy path-length regularisation.

Phases (as in stylegan2-ada-pytorch): "Gmain" (G adversarial), "Greg" (path length), "Dmain"
(D adversarial on fakes and reals), "Dreg" (R1 on reals). ``accumulate`` runs one phase on one
micro-batch and calls backward with the given ``gain`` (the lazy-regularisation interval); the loop
divides the summed gradients by the number of micro-batches of all processes.

Difference from the reference, on purpose: the path-length penalty is measured against the
running mean from *before* this step, and the mean is updated once per step from the lengths of
the whole (all-process) batch (``pl_update``). That makes data-parallel and single-process runs
compute the same thing; the reference lets each process track its own mean (and differentiates
through it, which moves its path-length gradients by about pl_decay = 1%). Every other phase gives the
reference's gradients to float rounding (tests/test_training_reference.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..precision import autocast


@dataclass
class LossStats:
    """Detached scalars of one phase on one micro-batch (summed by the loop for logging)."""
    values: dict

    def item(self, key):
        return self.values.get(key)


class StyleGAN2Loss:
    def __init__(self, G, D, augment_pipe=None, r1_gamma: float = 10.0, style_mixing: float = 0.9,
                 pl_weight: float = 2.0, pl_batch_shrink: int = 2, pl_decay: float = 0.01,
                 precision: str = "fp32", device_type: str = "cpu"):
        self.G, self.D, self.augment_pipe = G, D, augment_pipe
        self.r1_gamma, self.style_mixing = r1_gamma, style_mixing
        self.pl_weight, self.pl_batch_shrink, self.pl_decay = pl_weight, pl_batch_shrink, pl_decay
        self.precision, self.device_type = precision, device_type
        self.pl_mean = torch.zeros([], device=next(G.parameters()).device)

    def _autocast(self):
        return autocast(self.device_type, self.precision)

    def run_G(self, z, c):
        ws = self.G.mapping(z, c)
        if self.style_mixing > 0:
            ws = self.G.mix_styles(ws, torch.randn_like(z), c, prob=self.style_mixing)
        if torch.is_grad_enabled() and not ws.requires_grad:  # frozen mapping: path length still needs d img / d w
            ws = ws.detach().requires_grad_(True)
        with self._autocast():
            img = self.G.synthesis(ws, noise_mode="random")
        return img.float(), ws

    def run_D(self, img, c):
        if self.augment_pipe is not None:
            img = self.augment_pipe(img)
        with self._autocast():
            return self.D(img, c).float()

    def accumulate(self, phase: str, real_img, real_c, gen_z, gen_c, gain: float) -> dict:
        """One phase on one micro-batch: forward, backward(loss * gain). Returns detached stats."""
        stats = {}
        if phase == "Gmain":
            gen_img, ws = self.run_G(gen_z, gen_c)
            logits = self.run_D(gen_img, gen_c)
            loss = F.softplus(-logits).mean()
            loss.mul(gain).backward()
            stats.update(loss_G=loss.detach(), w_mean=ws[:, 0].detach().mean(0))
        elif phase == "Greg":
            n = max(gen_z.shape[0] // self.pl_batch_shrink, 1)
            gen_img, ws = self.run_G(gen_z[:n], None if gen_c is None else gen_c[:n])
            noise = torch.randn_like(gen_img) / (gen_img.shape[2] * gen_img.shape[3]) ** 0.5
            (grads,) = torch.autograd.grad((gen_img * noise).sum(), ws, create_graph=True)
            lengths = grads.square().sum(2).mean(1).sqrt()
            penalty = (lengths - self.pl_mean).square().mean() * self.pl_weight
            # gen_img * 0 keeps every synthesis parameter in the graph (zero grads rather than None).
            (gen_img[:, 0, 0, 0].mean() * 0 + penalty).mul(gain).backward()
            stats.update(loss_pl=penalty.detach(), pl_length=lengths.detach().mean())
        elif phase == "Dmain":
            with torch.no_grad():
                gen_img, _ = self.run_G(gen_z, gen_c)
            gen_logits = self.run_D(gen_img, gen_c)
            real_logits = self.run_D(real_img, real_c)
            loss_gen, loss_real = F.softplus(gen_logits).mean(), F.softplus(-real_logits).mean()
            (loss_gen + loss_real).mul(gain).backward()
            stats.update(loss_D=(loss_gen + loss_real).detach(), real_signs=real_logits.detach().sign(),
                         score_real=real_logits.detach().mean(), score_fake=gen_logits.detach().mean())
        elif phase == "Dreg":
            real = real_img.detach().requires_grad_(True)
            logits = self.run_D(real, real_c)
            (grads,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
            penalty = grads.square().sum([1, 2, 3]).mean() * (self.r1_gamma / 2)
            (logits.mean() * 0 + penalty).mul(gain).backward()
            stats.update(loss_r1=penalty.detach())
        else:
            raise ValueError(f"unknown phase {phase!r}")
        return stats

    def pl_update(self, mean_length: torch.Tensor):
        """Move the path-length running mean towards this step's batch mean."""
        self.pl_mean.copy_(self.pl_mean.lerp(mean_length.to(self.pl_mean), self.pl_decay))
