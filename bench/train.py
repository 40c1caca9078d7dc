"""Training throughput: images/s of full StyleGAN2 steps (Gmain, Greg/4, Dmain, Dreg/16, G EMA, ADA).

Ours runs the real loop (``stylealign_core.training.loop.train``) on synthetic uint8 data; the
throughput is taken from the difference of two runs of different length, so set-up and the final
snapshot cancel out. ``--reference PATH`` (a stylegan2-ada-pytorch checkout) times that
implementation's loss and phase schedule on the same config, same batch, same augmentation
probability, in the same process, and prints ours / theirs.

    python bench/train.py                                     # default parent config, ours only
    python bench/train.py --reference ../stylegan2-ada-pytorch --configs 64:8192:256
    python bench/train.py --memory 10000,70000                # peak RSS of training from a 256 px zip

``--memory`` writes a synthetic stylegan2-ada-pytorch zip of N 256 px images per size, trains a tiny
network on it for a few steps in a fresh process (the loop reads the data one batch at a time) and prints
that process's peak RSS beside what the old in-memory path needed for the image array alone.
"""
from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stylealign_core.training.config import TrainConfig  # noqa: E402
from stylealign_core.training.loop import train  # noqa: E402

# (resolution, channel_base, channel_max, mapping_layers, z=w dim): the shipped parent's shape and the issue's
CONFIGS = {"default": (64, 2048, 256, 2, 256), "64:8192:256": (64, 8192, 256, 8, 512)}


def our_config(res, cbase, cmax, mapping, zdim, batch, precision, steps, augment_p):
    return TrainConfig.from_dict(dict(
        total_kimg=batch * steps / 1000, batch=batch, snapshot_kimg=1e6, grid_size=1, precision=precision,
        augment="bgc", augment_p=augment_p, ada_kimg=1e9,  # keep p fixed: the same work in every run
        network=dict(z_dim=zdim, w_dim=zdim, mapping_layers=mapping, channel_base=cbase, channel_max=cmax)))


def time_ours(res, cbase, cmax, mapping, zdim, batch, precision, steps, augment_p):
    images = np.random.default_rng(0).integers(0, 256, (256, 3, res, res), dtype=np.uint8)
    times = {}
    for n in (16, 16 + steps):  # both multiples of 16: the same share of R1 and path-length steps
        cfg = our_config(res, cbase, cmax, mapping, zdim, batch, precision, n, augment_p)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            train(cfg, images, tmp, progress=False)
            times[n] = time.perf_counter() - t0
    return steps * batch / (times[16 + steps] - times[16])


def time_reference(path, res, cbase, cmax, mapping, zdim, batch, steps, augment_p):
    sys.path.insert(0, str(path))
    from training import augment as ref_augment  # the reference checkout
    from training import loss as ref_loss
    from training import networks as ref_networks

    G = ref_networks.Generator(z_dim=zdim, c_dim=0, w_dim=zdim, img_resolution=res, img_channels=3,
                               mapping_kwargs=dict(num_layers=mapping),
                               synthesis_kwargs=dict(channel_base=cbase, channel_max=cmax)).train()
    D = ref_networks.Discriminator(c_dim=0, img_resolution=res, img_channels=3, channel_base=cbase,
                                   channel_max=cmax).train()
    G_ema = ref_networks.Generator(z_dim=zdim, c_dim=0, w_dim=zdim, img_resolution=res, img_channels=3,
                                   mapping_kwargs=dict(num_layers=mapping),
                                   synthesis_kwargs=dict(channel_base=cbase, channel_max=cmax)).eval()
    G_ema.load_state_dict(G.state_dict())
    pipe = ref_augment.AugmentPipe(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
                                   brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
    pipe.p.copy_(torch.as_tensor(augment_p))
    loss = ref_loss.StyleGAN2Loss(device=torch.device("cpu"), G_mapping=G.mapping, G_synthesis=G.synthesis,
                                  D=D, augment_pipe=pipe, r1_gamma=0.0002 * res ** 2 / batch)
    phases = []
    for name, module, interval in (("G", G, 4), ("D", D, 16)):
        ratio = interval / (interval + 1)
        opt = torch.optim.Adam(module.parameters(), lr=0.0025 * ratio, betas=(0.0, 0.99 ** ratio), eps=1e-8)
        phases += [(name + "main", module, opt, 1), (name + "reg", module, opt, interval)]
    real = torch.rand(batch, 3, res, res) * 2 - 1
    c = torch.zeros(batch, 0)

    def step(i):
        for name, module, opt, interval in phases:
            if i % interval:
                continue
            opt.zero_grad(set_to_none=True)
            module.requires_grad_(True)
            loss.accumulate_gradients(phase=name, real_img=real, real_c=c, gen_z=torch.randn(batch, zdim),
                                      gen_c=c, sync=True, gain=interval)
            module.requires_grad_(False)
            for p in module.parameters():
                if p.grad is not None:
                    torch.nan_to_num(p.grad, nan=0, posinf=1e5, neginf=-1e5, out=p.grad)
            opt.step()
        with torch.no_grad():
            for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                p_ema.copy_(p.lerp(p_ema, 0.99))

    for i in range(16):  # warm-up: the same share of regularisation steps as the timed part
        step(i)
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    return steps * batch / (time.perf_counter() - t0)


MEMORY_RES = 256


def write_synthetic_zip(path: Path, num_images: int, res: int = MEMORY_RES) -> Path:
    """A stylegan2-ada-pytorch dataset zip of ``num_images`` PNGs (16 distinct gradients, stored uncompressed)."""
    from PIL import Image
    yy, xx = np.mgrid[:res, :res]
    pngs = []
    for k in range(16):
        img = np.stack([(xx * (k + 1)) % 256, (yy * (16 - k)) % 256, (xx + yy + 16 * k) % 256], -1).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")
        pngs.append(buf.getvalue())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(num_images):
            zf.writestr(f"{i // 1000:05d}/img{i:08d}.png", pngs[i % 16])
        zf.writestr("dataset.json", json.dumps({"labels": None}))
    return path


def memory_child(zip_path: str, steps: int) -> dict:
    """Train a tiny 256 px network on ``zip_path`` for ``steps`` steps (batch 8, x-flips on); peak RSS in MB."""
    from stylealign_core.training.api import open_training_data
    data = open_training_data(zip_path, xflip=True)
    cfg = TrainConfig.from_dict(dict(total_kimg=8 * steps / 1000, batch=8, snapshot_kimg=1e6, grid_size=2,
                                     augment="noaug", network=dict(z_dim=16, w_dim=16, mapping_layers=2,
                                                                   channel_base=1024, channel_max=16)))
    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, data, tmp, progress=False)
    return {"images": len(data) // 2, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def memory_rows(sizes: list[int], steps: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            zip_path = write_synthetic_zip(Path(tmp) / f"synthetic-{n}.zip", n)
            out = subprocess.run([sys.executable, __file__, "--memory-child", str(zip_path), "--steps", str(steps)],
                                 check=True, capture_output=True, text=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row["old_array_gb"] = 2 * n * 3 * MEMORY_RES ** 2 / 1e9  # the uint8 array + flipped copy
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="default,64:8192:256", help=f"comma list of {list(CONFIGS)}")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=32, help="timed steps (a multiple of 16)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--augment-p", type=float, default=0.2)
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--reference", help="path to a stylegan2-ada-pytorch checkout to time in the same run")
    ap.add_argument("--json", help="also write the table as JSON here")
    ap.add_argument("--memory", help="comma list of data set sizes: peak RSS of training on synthetic 256 px zips")
    ap.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.steps)))
        return
    if args.memory:
        rows = memory_rows([int(n) for n in args.memory.split(",")], min(args.steps, 4))
        print(f"\npeak RSS of a {MEMORY_RES} px training process (tiny network, batch 8, x-flip), MB")
        for r in rows:
            print(f"{r['images']} images: {r['peak_rss_mb']:.0f} MB (old path: {r['old_array_gb']:.1f} GB "
                  "for the image array)")
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=2))
        return
    rows = []
    for name in args.configs.split(","):
        res, cbase, cmax, mapping, zdim = CONFIGS[name]
        row = {"config": f"{name} (res {res}, cbase {cbase}, cmax {cmax}, map {mapping}, z {zdim})"}
        for prec in args.precisions.split(","):
            row[f"ours {prec}"] = time_ours(res, cbase, cmax, mapping, zdim, args.batch, prec, args.steps,
                                            args.augment_p)
        if args.reference:
            row["reference fp32"] = time_reference(args.reference, res, cbase, cmax, mapping, zdim, args.batch,
                                                   args.steps, args.augment_p)
            for prec in args.precisions.split(","):
                row[f"ratio {prec}"] = row[f"ours {prec}"] / row["reference fp32"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    cols = list(dict.fromkeys(k for r in rows for k in r))
    print(f"\ntraining images/s, batch {args.batch}, {args.threads} threads, ADA p={args.augment_p}")
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(str(r.get(c, "")) if c == "config" else f"{r.get(c, float('nan')):.2f}" for c in cols))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
