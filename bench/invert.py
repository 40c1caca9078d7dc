"""Inversion throughput: images/s to reach a reconstruction distance, batched projector vs the official recipe.

Same generator, same images, same perceptual metric, same process:

1. the official recipe, one image at a time: W space, batch 1, ``--official-steps`` (1000) steps of the
   official schedule (Adam lr 0.1, ramps 5%/25%, latent noise 0.05 over 75%, noise regularisation 1e5);
2. the target distance: the median final distance the official recipe reached (or ``--target``);
3. ours: all images in batches of ``--batch``, in ``--space`` (W+), at most ``--steps`` steps, each image
   leaving its batch once it reaches the target (per-image early stop, checked every 10 steps on the
   distance the code reproduces: G's constant noise, clamped render); ``--noise const`` (default) keeps the
   generator's noise fixed while optimising too.

4. with ``--encoder ENC`` (``stylealign encoder train``): the encoder alone (one forward pass per batch) and
   the encoder + ``--refine`` (50) projector steps from its codes (const noise, no latent noise), in the
   encoder's batches; the quality floor of issue 17 is checked against ours (the batched projector):
   encoder <= 1.5x its distance, encoder + <= 50 refine steps within 10%.

Prints the rates (images/s, wall clock), their ratios to the official recipe, the mean final distances and how
many images of ours reached the target. Final distances are measured on the code rendered with the
generator's constant noise (what a latents table reproduces), for both.

    python bench/invert.py --network /work/shared/relay/emoji-noto-64/network.json --data data/emoji-google-64 \
        --images 4 --official-steps 1000 --steps 300 --threads 2 [--encoder runs/enc.json --refine 50]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stylealign_core.checkpoints import load_checkpoint  # noqa: E402
from stylealign_core.inversion import (ProjectorSettings, check_encoder, image_seed, load_encoder,  # noqa: E402
                                       load_metric, project, quality_floor, refine_settings)
from stylealign_core.inversion.encoder_eval import encode_batches  # noqa: E402
from stylealign_core.inversion.images import list_inputs, load_inputs, to_tensor  # noqa: E402
from stylealign_core.inversion.spaces import space_stats  # noqa: E402


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_official(G, targets, seeds, metric, steps: int):
    settings = ProjectorSettings(space="w", steps=steps)
    stats = space_stats(G, "w", settings.stats_samples)
    distances, t0 = [], time.perf_counter()
    for i in range(len(targets)):
        result = project(G, targets[i:i + 1], seeds[i:i + 1], metric, settings, stats=stats)
        distances.append(float(result.distance[0]))
    return time.perf_counter() - t0, distances


def run_ours(G, targets, seeds, metric, args, target: float):
    settings = ProjectorSettings(space=args.space, steps=args.steps, stop_distance=target,
                                 pixel_weight=args.pixel_weight, noise=args.noise)
    stats = space_stats(G, args.space, settings.stats_samples)
    distances, steps, t0 = [], [], time.perf_counter()
    for start in range(0, len(targets), args.batch):
        rows = slice(start, start + args.batch)
        result = project(G, targets[rows], seeds[rows], metric, settings, stats=stats)
        distances += result.distance.tolist()
        steps += result.steps.tolist()
    return time.perf_counter() - t0, distances, steps


def run_encoder(G, E, targets, seeds, metric, args, refine: int):
    """(seconds, distances) of the encoder's codes refined by ``refine`` steps (0: the encoder alone; its
    time is the encoding only, the distances are measured afterwards, untimed)."""
    settings = refine_settings(ProjectorSettings(space=args.space), refine)
    stats = space_stats(G, args.space, settings.stats_samples)
    seconds, distances = 0.0, []
    for start in range(0, len(targets), args.batch):
        rows = slice(start, start + args.batch)
        t0 = time.perf_counter()
        codes = encode_batches(G, E, targets[rows], args.space)
        if refine:
            result = project(G, targets[rows], seeds[rows], metric, settings, start=codes, stats=stats)
        seconds += time.perf_counter() - t0
        if not refine:
            result = project(G, targets[rows], seeds[rows], metric, settings, start=codes, stats=stats)
        distances += result.distance.tolist()
    return seconds, distances


def encoder_figures(G, ckpt, targets, seeds, metric, args, figures) -> None:
    E, enc_ckpt = load_encoder(args.encoder)
    check_encoder(E, G, ckpt.sha256, args.encoder, args.network)
    for name, refine in (("encoder", 0), ("encoder_refine", args.refine)):
        seconds, distances = run_encoder(G, E, targets, seeds, metric, args, refine)
        figures[name] = {"space": args.space, "batch": args.batch, "refine_steps": refine, "seconds": seconds,
                         "images_per_s": len(targets) / seconds, "mean_distance": statistics.fmean(distances),
                         "encoder_sha256": enc_ckpt.sha256}
        figures[f"ratio_{name}_over_official"] = figures[name]["images_per_s"] / figures["official"]["images_per_s"]
    floor = quality_floor(figures["encoder"]["mean_distance"], figures["encoder_refine"]["mean_distance"],
                          figures["ours"]["mean_distance"], args.refine)
    figures["floor"] = {"passed": floor.passed, "message": floor.message}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--network", default="/work/shared/relay/emoji-noto-64/network.json")
    p.add_argument("--data", required=True, help="images (a stylealign data set or a folder)")
    p.add_argument("--images", type=int, default=4, help="how many images (the first N of the test split)")
    p.add_argument("--split", default="test", help="data set split (default test; 'all' for every image)")
    p.add_argument("--official-steps", type=int, default=1000)
    p.add_argument("--official-images", type=int,
                   help="time the official recipe on only the first K images (its rate is per image; default all)")
    p.add_argument("--steps", type=int, default=300, help="ours: at most this many steps")
    p.add_argument("--batch", type=int, default=16, help="ours: images per batch")
    p.add_argument("--space", default="w+", choices=["z", "w", "w+", "s"], help="ours: latent space")
    p.add_argument("--pixel-weight", type=float, default=0.0, help="ours: pixel MSE weight")
    p.add_argument("--noise", default="const", choices=["const", "optimize"],
                   help="ours: keep the generator's noise fixed (default) or optimise per-image noise maps "
                        "(discarded at the end; the early stop and the final distance use the constant noise)")
    p.add_argument("--metric", default="stlpips-vgg")
    p.add_argument("--target", type=float, help="distance to reach (default: the official recipe's median)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--encoder", help="also time this encoder (alone and + --refine steps)")
    p.add_argument("--refine", type=int, default=50, help="encoder: refine steps (default 50)")
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.network)
    G = ckpt.generator.eval()
    metric = load_metric(args.metric)
    entries = list_inputs(args.data, None if args.split == "all" else args.split)[:args.images]
    images, _ = load_inputs(args.data, entries, G.img_resolution, G.img_channels)
    targets = to_tensor(images)
    seeds = [image_seed(0, im.sha256) for im in images]
    k = min(args.official_images or len(targets), len(targets))
    official_s, official_d = run_official(G, targets[:k], seeds[:k], metric, args.official_steps)
    target = args.target if args.target is not None else statistics.median(official_d)
    ours_s, ours_d, ours_steps = run_ours(G, targets, seeds, metric, args, target)
    n = len(targets)
    figures = {
        "cpu": cpu_name(), "threads": args.threads, "generator_sha256": ckpt.sha256, "metric": metric.name,
        "images": n, "target_distance": target,
        "official": {"space": "w", "batch": 1, "steps": args.official_steps, "seconds": official_s,
                     "images": k, "images_per_s": k / official_s, "mean_distance": statistics.fmean(official_d)},
        "ours": {"space": args.space, "batch": args.batch, "noise": args.noise, "max_steps": args.steps, "seconds": ours_s,
                 "images_per_s": n / ours_s, "mean_distance": statistics.fmean(ours_d),
                 "mean_steps": statistics.fmean(ours_steps),
                 "reached_target": sum(d <= target for d in ours_d)},
    }
    figures["ratio_ours_over_official"] = figures["ours"]["images_per_s"] / figures["official"]["images_per_s"]
    if args.encoder:
        encoder_figures(G, ckpt, targets, seeds, metric, args, figures)
    print(f"cpu {figures['cpu']}, {args.threads} threads; generator {ckpt.sha256[:12]}; metric {metric.name}; "
          f"{n} images; target distance {target:.4f}")
    for name in ("official", "ours"):
        f = figures[name]
        print(f"  {name:8s} {f['space']:>2s} batch {f['batch']:>3d}: {f['images_per_s']:.4f} img/s "
              f"({f['seconds']:.1f} s), mean distance {f['mean_distance']:.4f}")
    print(f"  ours: mean steps {figures['ours']['mean_steps']:.0f}, {figures['ours']['reached_target']}/{n} "
          f"reached the target (final distance, const noise)")
    print(f"ratio ours / official: {figures['ratio_ours_over_official']:.2f}x")
    for name in ("encoder", "encoder_refine") if args.encoder else ():
        f = figures[name]
        print(f"  {name:14s} {f['space']:>2s} refine {f['refine_steps']:>3d}: {f['images_per_s']:.4f} img/s "
              f"({f['seconds']:.2f} s), mean distance {f['mean_distance']:.4f}; "
              f"{figures[f'ratio_{name}_over_official']:.1f}x the official recipe")
    if args.encoder:
        print(f"quality floor vs ours: {figures['floor']['message']}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
