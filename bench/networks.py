#!/usr/bin/env python
"""Throughput (images/s) of the stylealign StyleGAN2 networks, optionally beside the official ones.

Measures, per configuration (8 mapping layers, z = w = 512, skip G, resnet D, no conv clamp):
  G fwd         z -> image, no grad (random noise, the default modulated-conv path of each implementation;
                for stylegan2-ada-pytorch that is forced to its unfused path, its faster one on CPU)
  G fwd+bwd     z -> image, backward of image.square().mean() into every parameter (training mode)
  D fwd+bwd     image -> logits, backward of logits.sum()
  D fwd+bwd+R1  the R1 step: logits = D(x), g = grad(logits.sum(), x, create_graph=True), then backward of
                g.square().sum([1, 2, 3]).mean() + logits.mean()

Ours runs in fp32 and under bf16 autocast (fp16/bf16 on CUDA), in the networks' default memory format
unless --memory-format says otherwise. With --reference PATH the official networks of a
stylegan2-ada-pytorch checkout are built with the same config in the same process (fp32: they refuse
autocast; conv_clamp None; num_fp16_res 0), their weights copied into ours, outputs cross-checked, and
timed in the same round-robin as ours, so that machine drift hits every column alike.

Timing: every variant is warmed up, then each repeat times one step of every variant in turn; the figure
is batch / median(step seconds) (with --cpu-time: batch * threads / median process CPU seconds, a proxy a
loaded machine distorts less; see bench/README.md). The load average is printed before and after.

    python bench/networks.py                                  # all four configs, ours only
    python bench/networks.py --configs 64-8192-256 --reference ../stylegan2-ada-pytorch --repeats 5
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from stylealign_core import Discriminator, Generator  # noqa: E402
from stylealign_core.precision import autocast, resolve  # noqa: E402

CONFIGS = {  # name -> (resolution, channel_base, channel_max); ANCHORS.md section 5
    "32-4096-256": (32, 4096, 256),
    "64-4096-256": (64, 4096, 256),
    "64-8192-256": (64, 8192, 256),
    "64-16384-512": (64, 16384, 512),
}
MEASURES = ("G fwd", "G fwd+bwd", "D fwd+bwd", "D fwd+bwd+R1")
Z_DIM = W_DIM = 512
MAPPING_LAYERS = 8


# ---- networks -----------------------------------------------------------------------------------------
def build_ours(res, cbase, cmax, device, memory_format):
    G = Generator(z_dim=Z_DIM, w_dim=W_DIM, img_resolution=res, img_channels=3, mapping_layers=MAPPING_LAYERS,
                  channel_base=cbase, channel_max=cmax).to(device)
    D = Discriminator(img_resolution=res, img_channels=3, channel_base=cbase, channel_max=cmax).to(device)
    if memory_format != "default":
        G.synthesis.channels_last = D.channels_last = memory_format == "channels_last"
    return G, D


def build_reference(path, res, cbase, cmax, device):
    if path not in sys.path:
        sys.path.insert(0, path)
    from training import networks  # the official code, from the checkout named by --reference

    G = networks.Generator(z_dim=Z_DIM, c_dim=0, w_dim=W_DIM, img_resolution=res, img_channels=3,
                           mapping_kwargs=dict(num_layers=MAPPING_LAYERS),
                           synthesis_kwargs=dict(channel_base=cbase, channel_max=cmax, num_fp16_res=0,
                                                 conv_clamp=None))
    D = networks.Discriminator(c_dim=0, img_resolution=res, img_channels=3, channel_base=cbase,
                               channel_max=cmax, num_fp16_res=0, conv_clamp=None)
    return G.to(device), D.to(device)


class Impl:
    """One implementation + precision: uniform G(z) and D(img) calls and an autocast context."""

    def __init__(self, name, G, D, precision, device, official=False):
        self.name, self.G, self.D, self.precision, self.device = name, G, D, precision, device
        self.official = official

    def amp(self):
        return contextlib.nullcontext() if self.official else autocast(self.device.type, self.precision)

    def g(self, z, noise_mode="random"):
        if self.official:  # on CPU its unfused modulated conv is the faster one (ANCHORS.md section 5)
            c = torch.zeros([z.shape[0], 0], device=z.device)
            kw = dict(fused_modconv=False) if z.device.type == "cpu" else {}
            return self.G(z, c, noise_mode=noise_mode, **kw)
        return self.G(z, noise_mode=noise_mode)

    def d(self, img):
        if self.official:
            return self.D(img, torch.zeros([img.shape[0], 0], device=img.device))
        return self.D(img)


# ---- the timed steps ---------------------------------------------------------------------------------
def make_step(impl, measure, batch, device):
    gen = torch.Generator(device=device).manual_seed(0)
    z = torch.randn([batch, Z_DIM], generator=gen, device=device)
    img = torch.randn([batch, 3, impl.G.img_resolution, impl.G.img_resolution], generator=gen, device=device)
    for p in list(impl.G.parameters()) + list(impl.D.parameters()):
        p.grad = None

    if measure == "G fwd":
        def step():
            with torch.no_grad(), impl.amp():
                impl.g(z)
    elif measure == "G fwd+bwd":
        def step():
            with impl.amp():
                out = impl.g(z)
            out.float().square().mean().backward()
    elif measure == "D fwd+bwd":
        def step():
            with impl.amp():
                logits = impl.d(img)
            logits.float().sum().backward()
    elif measure == "D fwd+bwd+R1":
        def step():
            x = img.detach().requires_grad_(True)
            with impl.amp():
                logits = impl.d(x).float()
                (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
            penalty = grad.float().square().sum(dim=[1, 2, 3])
            (penalty.mean() + logits.mean()).backward()
    else:
        raise ValueError(measure)
    return step


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_round_robin(steps, device, warmup, repeats):
    """steps: {variant: fn}. Warm each up, then per repeat time one call of each in turn.
    -> {variant: [wall seconds of each timed call]}, {variant: [process CPU seconds of each]}."""
    for fn in steps.values():
        for _ in range(warmup):
            fn()
        sync(device)
    wall, cpu = {k: [] for k in steps}, {k: [] for k in steps}
    for _ in range(repeats):
        for k, fn in steps.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            sync(device)
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    return wall, cpu


def _loadavg():
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "n/a"


def rel_err(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-30)).item()


def cross_check(ours, ref, device):
    """Load the official weights into ours and compare fp32 outputs (const noise): sanity, not timing."""
    ours.G.load_state_dict(ref.G.state_dict())
    ours.D.load_state_dict(ref.D.state_dict())
    z = torch.randn([4, Z_DIM], device=device)
    with torch.no_grad():
        img_ref = ref.g(z, noise_mode="const")
        e_g = rel_err(ours.g(z, noise_mode="const"), img_ref)
        e_d = rel_err(ours.d(img_ref), ref.d(img_ref))
    return e_g, e_d


# ---- main --------------------------------------------------------------------------------------------
def run_config(name, args, device):
    res, cbase, cmax = CONFIGS[name]
    torch.manual_seed(0)
    G, D = build_ours(res, cbase, cmax, device, args.memory_format)
    impls = {f"ours {p}": Impl(f"ours {p}", G, D, p, device) for p in args.precision}
    if args.reference:
        RG, RD = build_reference(args.reference, res, cbase, cmax, device)
        impls["reference"] = Impl("reference", RG, RD, "fp32", device, official=True)
        e_g, e_d = cross_check(impls[f"ours {args.precision[0]}"], impls["reference"], device)
        print(f"# {name}: ours fp32 vs reference, same weights: rel err G {e_g:.1e}, D {e_d:.1e}", flush=True)
    rows = []
    for measure in args.measures:
        train = measure != "G fwd"
        for impl in impls.values():
            impl.G.train(train)
            impl.D.train(train)
        steps = {k: make_step(impl, measure, args.batch, device) for k, impl in impls.items()}
        wall, cpu = time_round_robin(steps, device, args.warmup, args.repeats)
        row = {"config": name, "measure": measure}
        if args.cpu_time:  # images per (process CPU second / threads): see --cpu-time
            row.update({k: args.batch * args.threads / statistics.median(t) for k, t in cpu.items()})
        else:
            row.update({k: args.batch / statistics.median(t) for k, t in wall.items()})
        row["seconds"], row["cpu_seconds"] = wall, cpu  # every timed step, for the JSON
        if "reference" in row:
            for p in args.precision:
                row[f"{p}/ref"] = row[f"ours {p}"] / row["reference"]
        rows.append(row)
        print(format_row(row, columns(args)), flush=True)
        del steps
    return rows


def columns(args):
    cols = [f"ours {p}" for p in args.precision]
    if args.reference:
        cols += ["reference"] + [f"{p}/ref" for p in args.precision]
    return cols


def format_row(row, cols):
    cells = [f"{row['config']:<13}", f"{row['measure']:<13}"]
    for c in cols:
        v = row.get(c)
        cells.append(f"{'-' if v is None else (f'{v:.2f}x' if '/ref' in c else f'{v:.2f}'):>10}")
    return " | ".join(cells)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"comma list of {', '.join(CONFIGS)}")
    ap.add_argument("--measures", default=",".join(MEASURES), help="comma list of " + ", ".join(MEASURES))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (CPU)")
    ap.add_argument("--repeats", type=int, default=5, help="timed steps per variant (median is reported)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps per variant first")
    ap.add_argument("--precision", default=None,
                    help="comma list of our precisions (default: fp32,bf16 on CPU; fp16,bf16 on CUDA)")
    ap.add_argument("--memory-format", choices=("default", "channels_last", "contiguous"), default="default",
                    help="our activations' layout (default: the networks' own, i.e. channels_last on CPU and "
                         "under CUDA autocast)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    ap.add_argument("--cpu-time", action="store_true",
                    help="CPU only: report batch * threads / median process CPU seconds instead of wall clock, a "
                         "proxy that a loaded machine distorts less (run with OMP_WAIT_POLICY=PASSIVE, so that "
                         "waiting threads do not burn CPU)")
    ap.add_argument("--reference", metavar="PATH", help="a stylegan2-ada-pytorch checkout to compare with")
    ap.add_argument("--json", metavar="PATH", help="also write the table (a list of rows) as JSON")
    args = ap.parse_args(argv)

    device = torch.device(args.device)
    if args.precision is None:
        args.precision = "fp16,bf16" if device.type == "cuda" else "fp32,bf16"
    args.precision = [p.strip() for p in args.precision.split(",") if p.strip()]
    for p in args.precision:
        try:
            resolve(device.type, p)
        except ValueError as exc:
            ap.error(str(exc))
    args.measures = [m.strip() for m in args.measures.split(",") if m.strip()]
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    for c in configs:
        if c not in CONFIGS:
            ap.error(f"unknown config {c!r}; known: {', '.join(CONFIGS)}")
    for m in args.measures:
        if m not in MEASURES:
            ap.error(f"unknown measure {m!r}; known: {', '.join(MEASURES)}")
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        if args.cpu_time:
            ap.error("--cpu-time is for CPU runs")

    cols = columns(args)
    print(f"# torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, batch {args.batch}, "
          f"repeats {args.repeats} (median), warmup {args.warmup}, memory format {args.memory_format}")
    print("# images/s (higher is better); ratios are ours / reference"
          + ("; from process CPU time x threads, not wall clock" if args.cpu_time else ""))
    print(f"# load average before: {_loadavg()}", flush=True)
    print(" | ".join([f"{'config':<13}", f"{'measure':<13}"] + [f"{c:>10}" for c in cols]), flush=True)
    rows = []
    for name in configs:
        rows += run_config(name, args, device)
    print(f"# load average after: {_loadavg()}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads(),
                       "batch": args.batch, "repeats": args.repeats, "memory_format": args.memory_format,
                       "cpu_time": args.cpu_time, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                       "rows": rows}, fh, indent=1)
    return rows


if __name__ == "__main__":
    main()
