"""The encoder's quality floor on held-out images: encoder alone, + K refine steps, the projector, a null encoder.

Same generator, images, seeds and metric; mean distances of the code rendered with the generator's constant
noise (what a latents table reproduces). The floor (issue 17): encoder <= 1.5x the projector's distance and
encoder + <= 50 refine steps within 10% of it (``stylealign_core.inversion.quality_floor``). The null
encoder (the mean latent, an untrained :class:`Encoder`) is the baseline that must fail it.

    python bench/encoder_floor.py --network models/parent/emoji-noto-64 --encoder runs/enc.json \\
        --data data/emoji-google-64 --images 16 --refine 50 --projector-steps 1000
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
    figures = evaluate_encoder(G, E, targets, seeds, metric, projector, args.refine, args.batch)
    null = Encoder.for_generator(G, ckpt.sha256, E.space)
    figures["null"] = evaluate_encoder(G, null, targets, seeds, metric, projector, 0, args.batch,
                                       projector_distance=figures["projector"])["encoder"]
    floor = quality_floor(figures["encoder"], figures["refined"], figures["projector"], args.refine)
    null_floor = quality_floor(figures["null"], figures["null"], figures["projector"], 0)
    figures.update(generator_sha256=ckpt.sha256, encoder_sha256=enc_ckpt.sha256, floor=floor.message,
                   floor_passed=floor.passed, null_floor_passed=null_floor.passed)
    print(f"generator {ckpt.sha256[:12]}, encoder {enc_ckpt.sha256[:12]} ({E.space}); {len(targets)} {args.split} "
          f"images; metric {metric.name}; projector {args.space} {args.projector_steps} steps")
    print(f"  null encoder (w_avg)     {figures['null']:.4f}")
    print(f"  encoder                  {figures['encoder']:.4f}  ({figures['encoder_seconds']:.2f} s)")
    print(f"  encoder + {args.refine:3d} refine     {figures['refined']:.4f}  ({figures['refined_seconds']:.1f} s)")
    print(f"  projector                {figures['projector']:.4f}  ({figures['projector_seconds']:.1f} s)")
    print(f"quality floor: {floor.message}; null encoder passes: {null_floor.passed}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
