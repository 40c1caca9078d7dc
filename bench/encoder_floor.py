"""The encoder's quality floor on held-out images: encoder alone, + K refine steps, the projector, a null encoder.

Same generator, images, seeds and metric; mean distances of the code rendered with the generator's constant
noise (what a latents table reproduces). The floor (issue 17): encoder <= 1.5x the projector's distance and
encoder + <= 50 refine steps within 10% of it (``stylealign_core.inversion.quality_floor``). The null
encoder (the mean latent, an untrained :class:`Encoder`) is the baseline that must fail it.

    python bench/encoder_floor.py --network models/parent/emoji-noto-64 --encoder runs/enc.json \\
        --data data/emoji-google-64 --images 16 --refine 50 --projector-steps 1000 --json runs/floor.json

The projector is by far the slowest part (~25 min for 16 images at one thread); to compare another encoder
for the same generator, images and metric, ``--projector-from runs/floor.json`` reuses its distance (the
file's generator sha256, images, split, space, steps and metric must match).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stylealign_core.checkpoints import load_checkpoint  # noqa: E402
from stylealign_core.inversion import (Encoder, ProjectorSettings, check_encoder, evaluate_encoder,  # noqa: E402
                                       image_seed, load_encoder, load_metric, quality_floor)
from stylealign_core.inversion.images import list_inputs, load_inputs, to_tensor  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--network", required=True)
    p.add_argument("--encoder", required=True)
    p.add_argument("--data", required=True, help="images (a stylealign data set or a folder)")
    p.add_argument("--split", default="test", help="held-out split (default test; 'all' for every image)")
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--refine", type=int, default=50)
    p.add_argument("--projector-steps", type=int, default=1000)
    p.add_argument("--space", default="w+", choices=["w", "w+", "s"])
    p.add_argument("--metric", default="stlpips-vgg")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("--projector-from", type=Path,
                   help="an earlier --json of this bench: reuse its projector distance instead of rerunning it")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.network)
    G = ckpt.generator.eval()
    E, enc_ckpt = load_encoder(args.encoder)
    check_encoder(E, G, ckpt.sha256, args.encoder, args.network)
    metric = load_metric(args.metric)
    entries = list_inputs(args.data, None if args.split == "all" else args.split)[:args.images]
    images, _ = load_inputs(args.data, entries, G.img_resolution, G.img_channels)
    targets, seeds = to_tensor(images), [image_seed(0, im.sha256) for im in images]
    projector = ProjectorSettings(space=args.space, steps=args.projector_steps)
    settings = {"generator_sha256": ckpt.sha256, "images": len(targets), "split": args.split, "space": args.space,
                "projector_steps": args.projector_steps, "metric": metric.name}
    measured = projector_from(args.projector_from, settings) if args.projector_from else None
    figures = evaluate_encoder(G, E, targets, seeds, metric, projector, args.refine, args.batch,
                               projector_distance=measured)
    null = Encoder.for_generator(G, ckpt.sha256, E.space)
    figures["null"] = evaluate_encoder(G, null, targets, seeds, metric, projector, 0, args.batch,
                                       projector_distance=figures["projector"])["encoder"]
    floor = quality_floor(figures["encoder"], figures["refined"], figures["projector"], args.refine)
    null_floor = quality_floor(figures["null"], figures["null"], figures["projector"], 0)
    figures.update(settings, encoder_sha256=enc_ckpt.sha256, floor=floor.message,
                   projector_from=str(args.projector_from) if args.projector_from else None,
                   floor_passed=floor.passed, null_floor_passed=null_floor.passed)
    print(f"generator {ckpt.sha256[:12]}, encoder {enc_ckpt.sha256[:12]} ({E.space}); {len(targets)} {args.split} "
          f"images; metric {metric.name}; projector {args.space} {args.projector_steps} steps")
    print(f"  null encoder (w_avg)     {figures['null']:.4f}")
    print(f"  encoder                  {figures['encoder']:.4f}  ({figures['encoder_seconds']:.2f} s)")
    print(f"  encoder + {args.refine:3d} refine     {figures['refined']:.4f}  ({figures['refined_seconds']:.1f} s)")
    reused = f"from {args.projector_from}" if args.projector_from else f"{figures['projector_seconds']:.1f} s"
    print(f"  projector                {figures['projector']:.4f}  ({reused})")
    print(f"quality floor: {floor.message}; null encoder passes: {null_floor.passed}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def projector_from(path: Path, settings: dict) -> float:
    """The projector distance recorded in an earlier ``--json`` of this bench, refused unless it was measured with
    the same ``settings`` (a file written before 'split' was recorded measured the default test split)."""
    try:
        recorded = json.loads(path.read_text())
        distance = float(recorded["projector"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"--projector-from {path}: not a readable --json of this bench ({exc}); rerun without it")
    recorded.setdefault("split", "test")
    differ = {k: (recorded.get(k), v) for k, v in settings.items() if recorded.get(k) != v}
    if differ:
        details = ", ".join(f"{k}: file {a!r} vs this run {b!r}" for k, (a, b) in differ.items())
        raise SystemExit(f"--projector-from {path} was measured differently ({details}); rerun without it")
    return distance


if __name__ == "__main__":
    sys.exit(main())
