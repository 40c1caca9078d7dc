"""`stylealign encoder train`: train an inversion encoder (image -> W+ or W) for one generator.

The encoder (a small CNN, sized for CPU) learns from the generator's own samples (known codes: latent
loss + image loss) and from real images (reconstruction through the frozen generator: perceptual distance
+ pixel error). It is saved as a stylealign checkpoint (OUT.json + OUT.safetensors, network "E") whose
config records the generator's sha256 and the space; `stylealign invert --method encode --encoder OUT.json`
refuses it for any other generator.
"""
from __future__ import annotations

import argparse

_EPILOG = (
    "Examples:\n"
    "  stylealign encoder train --network models/parent/emoji-noto-64 --data data/emoji-google-64 "
    "--out runs/enc-parent --kimg 20\n"
    "  stylealign encoder train ... --resume          (continue OUT from its last snapshot)\n"
    "  stylealign encoder train --network runs/child/network-final.json --data data/emoji-twitter-64 "
    "--init models/encoder/emoji-noto-64/encoder.json --kimg 2 --out runs/enc-child\n"
    "                                               (a child's encoder from its parent's)\n"
    "  stylealign invert --data DIR --network G --method encode --encoder runs/enc-parent.json --refine 50 "
    "--out runs/inv")


def cmd_train(args) -> int:
    """Handler of `stylealign encoder train`."""
    import torch

    from stylealign_core.checkpoints import load_checkpoint
    from stylealign_core.inversion import EncoderTrainSettings, load_metric, load_reals, train_encoder
    from stylealign_core.inversion.encoder_train import ARCHITECTURE, init_architecture
    if args.threads:
        torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.network)
    init, meta = None, {"generator": {"uri": str(args.network), "sha256": ckpt.sha256}, "data": args.data,
                        "split": args.split}
    if args.init:
        from stylealign_core.inversion import load_init
        init, _, meta["init_from"] = load_init(args.init)
    inherited = init_architecture(init) if init is not None else {}
    architecture = {k: getattr(args, k) if getattr(args, k) is not None     # a flag, else --init's, else the default
                    else inherited.get(k, getattr(EncoderTrainSettings, k))
                    for k in ARCHITECTURE if k != "space"}                  # --space is a flag of its own
    settings = EncoderTrainSettings(space=args.space, kimg=args.kimg, batch=args.batch, lr=args.lr,
                                    real_fraction=args.real_fraction if args.data else 0.0,
                                    latent_weight=args.latent_weight, perceptual_weight=args.perceptual_weight,
                                    pixel_weight=args.pixel_weight, truncation_psi=args.trunc,
                                    sample_source=args.sample_source, **architecture,
                                    xflip=args.xflip, seed=args.seed,
                                    snapshot_kimg=args.snapshot_kimg)
    G = ckpt.generator.eval().to(args.device)
    metric = load_metric(args.metric, args.metric_file).to(args.device) if args.perceptual_weight else None
    reals = None
    if args.data:
        reals = load_reals(args.data, G, None if args.split == "all" else args.split, args.limit)
    summary = train_encoder(G, ckpt.sha256, metric, settings, reals, args.out, resume=args.resume,
                            progress=not args.no_progress, metadata=meta, init=init)
    losses = ", ".join(f"{k} {v:.4f}" for k, v in summary["losses"].items())
    print(f"encoder ({settings.space}) for generator {ckpt.sha256[:12]}: {summary['step']} steps, "
          f"{summary['kimg']:.1f} kimg, {summary['real_images']} real images; last losses: {losses or '-'}; "
          f"saved {summary['path']}")
    return 0


def add_parser(subparsers) -> None:
    from stylealign_core.inversion.encoder_train import SAMPLE_SOURCES
    from stylealign_core.inversion.perceptual import DEFAULT_METRIC, METRICS
    group = subparsers.add_parser("encoder", help="train an inversion encoder (image -> W+/W) for a generator",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = group.add_subparsers(dest="encoder_command", metavar="SUBCOMMAND")
    group.set_defaults(func=lambda args: group.print_help() or 2)
    p = sub.add_parser("train", help="train an encoder on generator samples and real images",
                       description=__doc__.splitlines()[0], epilog=_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--network", required=True, help="generator checkpoint (any format `stylealign checkpoint` reads)")
    p.add_argument("--data", help="real images (a stylealign data set or a folder); without: generator samples only")
    p.add_argument("--split", default="train", help="data set split of the real images (default train; 'all')")
    p.add_argument("--limit", type=int, help="only the first N real images")
    p.add_argument("--out", required=True, help="encoder checkpoint to write: NAME (NAME.json + NAME.safetensors)")
    p.add_argument("--space", default="w+", choices=["w+", "w"], help="predicted space (default w+)")
    p.add_argument("--kimg", type=float, default=20.0, help="thousands of training images (default 20)")
    p.add_argument("--batch", type=int, default=16, help="images per step (default 16)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--real-fraction", type=float, default=0.5, help="share of real images per batch (default 0.5)")
    p.add_argument("--latent-weight", type=float, default=1.0, help="latent loss weight (samples; default 1)")
    p.add_argument("--perceptual-weight", type=float, default=1.0,
                   help="perceptual distance weight (default 1; 0 skips loading a metric)")
    p.add_argument("--pixel-weight", type=float, default=1.0, help="pixel MSE weight (default 1)")
    p.add_argument("--metric", default=DEFAULT_METRIC, choices=METRICS, help=f"perceptual distance ({DEFAULT_METRIC})")
    p.add_argument("--metric-file", help="NVlabs vgg16.pt for --metric vgg16-official")
    p.add_argument("--xflip", action="store_true",
                   help="mirror each real image with probability 1/2 (twice the real images; like --mirror)")
    p.add_argument("--trunc", type=float, default=1.0, help="truncation psi of the generator samples (default 1)")
    p.add_argument("--sample-source", default="prior", choices=SAMPLE_SOURCES,
                   help="codes of the generator samples: prior (z -> w, default) or reals (the encoder's own codes "
                        "of two real images, style-mixed at a random layer: new images near the real ones, each "
                        "with a known code; needs --data)")
    p.add_argument("--channels", type=int, help="features of the first conv (default: --init's, else 32)")
    p.add_argument("--channel-max", type=int, help="most features of a block (default: --init's, else 128)")
    p.add_argument("--hidden", type=int, help="units of the head's hidden layer (default: --init's, else 256)")
    p.add_argument("--refine-iterations", type=int,
                   help="K > 0: train only a feedback refiner (ReStyle-like: image + the generator's render of the "
                        "codes -> a correction) applied K times at inference, on top of the --init encoder "
                        "(default: --init's, else 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples and real-image draws (default 0)")
    p.add_argument("--snapshot-kimg", type=float, default=5.0, help="save OUT every this many kimg (default 5)")
    p.add_argument("--resume", action="store_true", help="continue OUT from its last save (same generator, space)")
    p.add_argument("--init", help="start from this encoder's weights (one trained for an aligned generator, e.g. "
                                  "the parent of --network; same space; its architecture unless given: a --hidden "
                                  "wider than its own widens its head without changing its output)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)
