"""Data-parallel plumbing: process-group set-up, gradient and statistic reduction, a local launcher.

Launch on GPUs with ``torchrun --nproc_per_node=N -m stylealign.cli train ...`` (NCCL); on CPU the
backend is gloo. Gradients are averaged with one flattened all-reduce per optimizer step — what
DistributedDataParallel does, done explicitly because StyleGAN2's lazy regularisation phases
(double backward for R1 and path length) do not fit DDP's one-backward-per-step hooks.
Rank 0 alone writes snapshots and logs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def barrier(self):
        if self.enabled:
            dist.barrier()

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum over processes (in place, returned for chaining); identity in a single process."""
        if self.enabled:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def average_gradients(self, params, micro_batches: int = 1):
        """Turn per-micro-batch gradient sums into the mean over all micro-batches of all processes:
        one flattened all-reduce (sum), then division by ``micro_batches * world_size``. The same
        arithmetic runs in a single process, so N processes and one process with N micro-batches
        give bit-identical gradients."""
        params = [p for p in params if p.grad is not None]
        divisor = micro_batches * self.world_size
        if not params or (divisor == 1 and not self.enabled):
            return
        if not self.enabled:
            for p in params:
                p.grad /= divisor
            return
        flat = torch.cat([p.grad.flatten() for p in params])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= divisor
        offset = 0
        for p in params:
            n = p.numel()
            p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
            offset += n

    def broadcast_module(self, module: torch.nn.Module):
        """Make every rank start from rank 0's parameters and buffers."""
        if not self.enabled:
            return
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def init_from_env(device: str = "cpu") -> DistContext:
    """Join the process group torchrun describes in RANK/WORLD_SIZE/LOCAL_RANK; single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank)


def init_file(rank: int, world_size: int, path: str) -> DistContext:
    """Join a gloo group through a shared file (loopback-free; used by tests and local CPU runs)."""
    dist.init_process_group("gloo", init_method=f"file://{path}", rank=rank, world_size=world_size)
    return DistContext(rank=rank, world_size=world_size, local_rank=rank)


def shutdown(ctx: DistContext):
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
