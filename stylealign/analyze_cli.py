"""`stylealign analyze`: alignment statistics of a parent and its fine-tuned child (the StyleAlign analysis).

    stylealign analyze alignment --parent P.json --child C.json --out reports/alignment
        [--data CHILD_DATA --kid-samples 500]

Writes relative weight change per layer and component (raw and per unit of learning rate), StyleSpace
channel and W-direction alignment (effect-map correlation, matched vs mismatched), and with --data the KID
of each component reset against the child domain: Parquet tables, PNG plots and summary.json, published
atomically. Errors are one line on stderr (exit status 2).
"""
from __future__ import annotations

import argparse
import json

_EPILOG = (
    "Effect maps cost 2 x latents x (channels x style layers) generator passes; the default "
    "(16 latents, 8 channels) on the 64 px default parent is ~3,600 images. KID uses the 2015 Inception "
    "(`pip install 'stylealign[metrics]'`), which runs at a few images/s on 2 CPU cores: 6 models x "
    "--kid-samples images, plus the real images once (cached). Example:\n"
    "  stylealign analyze alignment --parent models/parent/emoji-noto-64/network.json "
    "--child runs/child/network-final.json --data data/emoji-twitter-64 --kid-samples 200 --out reports/alignment")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def cmd_alignment(args) -> int:
    """Handler of `stylealign analyze alignment`."""
    import torch

    from stylealign_core.analysis import EffectSettings, KidSettings, alignment_report, load_pair
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = EffectSettings(num_latents=args.latents, channels_per_layer=args.channels, step_std=args.step_std,
                              std_samples=args.std_samples, seed_start=args.seed_start, truncation_psi=args.trunc,
                              channel_seed=args.channel_seed, batch=args.batch, pool=args.pool)
    kid = None
    if args.data:
        kid = KidSettings(data=args.data, num_gen=args.kid_samples, max_real=args.kid_real, split=args.split,
                          subsets=args.kid_subsets, subset_size=args.kid_subset_size, seed=args.kid_seed,
                          resets=tuple(g.strip() for g in args.resets.split(",") if g.strip()))
    parent, child = load_pair(args.parent, args.child)
    summary = alignment_report(parent, child, args.out, settings=settings, kid=kid, overwrite=args.overwrite,
                               progress=False if args.no_progress else None,
                               sources={"parent": str(args.parent), "child": str(args.child)})
    print(json.dumps(_headline(summary), indent=2))
    print(f"wrote {args.out}")
    return 0


def _headline(summary: dict) -> dict:
    weights, style = summary["weights"], summary["style_alignment"]
    head = {"relative_change": weights["relative_change"],
            "conv_share_vs_mapping_affine": weights["conv_share_vs_mapping_affine"],
            "s_alignment_matched_mean": style["matched_mean"],
            "s_alignment_mismatched_mean": style["mismatched_mean"],
            "w_direction_matched_mean": style["w_directions"]["matched_mean"],
            "w_direction_mismatched_mean": style["w_directions"]["mismatched_mean"]}
    if summary["reset"]:
        head["reset_kid"] = {k: [v["kid"], v["kid_std"]] for k, v in summary["reset"].items()}
    return head


def cmd_controls(args) -> int:
    """Handler of `stylealign analyze controls`."""
    import torch

    from stylealign_core.analysis import EffectSettings, load_pair
    from stylealign_core.analysis.controls_report import controls_report
    from stylealign_core.analysis.errors import AnalysisError
    from stylealign_core.latents import parse_seeds
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = EffectSettings(num_latents=args.latents, step_std=args.step_std, std_samples=args.std_samples,
                              batch=args.batch, pool=args.pool)
    try:
        steps = tuple(float(v) for v in args.steps.split(","))
    except ValueError:
        raise AnalysisError(f"bad --steps {args.steps!r}: use numbers separated by commas, "
                            "e.g. --steps=-2,0,2") from None
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as exc:
        raise AnalysisError(f"--seeds: {exc}") from None
    parent, child = load_pair(args.parent, args.child)
    summary = controls_report(parent, child, args.out, count=args.count, pca_samples=args.pca_samples,
                              seeds=seeds, steps=steps, settings=settings,
                              overwrite=args.overwrite, progress=False if args.no_progress else None)
    print(json.dumps({k: summary[k] for k in ("matched_mean", "mismatched_mean")}, indent=2))
    print(f"wrote {args.out}")
    return 0


def _add_controls(sub) -> None:
    p = sub.add_parser("controls", help="the parent's top W (PCA) directions in the child: strips, GIFs, alignment",
                       description="The parent's principal W directions applied in the parent and the child: "
                                   "strips (PNG) and GIFs per direction, and each direction's effect-map "
                                   "alignment (matched vs mismatched directions).")
    p.add_argument("--parent", required=True, help="parent checkpoint")
    p.add_argument("--child", required=True, help="child checkpoint fine-tuned from --parent")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--count", type=_positive, default=5, help="principal directions (5)")
    p.add_argument("--pca-samples", type=_positive, default=2000, help="W samples for the PCA (2000)")
    p.add_argument("--seeds", default="0-3", help="seeds shown in the strips (0-3)")
    p.add_argument("--steps", default="-3,-1.5,0,1.5,3", help="steps along a direction, in its std; a leading minus needs '=': --steps=-2,0,2 "
                        "(default -3,-1.5,0,1.5,3)")
    p.add_argument("--latents", type=_positive, default=16, help="latents of the alignment's effect maps (16)")
    p.add_argument("--step-std", type=float, default=3.0, help="alignment edit size in std (3)")
    p.add_argument("--std-samples", type=_positive, default=1000, help="latents the std is measured over (1000)")
    p.add_argument("--pool", type=int, default=0, help="correlate effect maps averaged to POOL x POOL px (0: full)")
    p.add_argument("--batch", type=_positive, default=16, help="generator batch size (16)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_controls)


def _add_alignment(sub) -> None:
    p = sub.add_parser("alignment", help="weight change, component reset, StyleSpace/W alignment of a pair",
                       description=__doc__.splitlines()[0], epilog=_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parent", required=True, help="parent checkpoint (any format `stylealign checkpoint` reads)")
    p.add_argument("--child", required=True, help="child checkpoint fine-tuned from --parent")
    p.add_argument("--out", required=True, help="output directory (tables, plots, summary.json)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--data", help="child-domain data set: score each component reset by KID against it")
    p.add_argument("--split", default="train", choices=["train", "test", "all"], help="split of --data (train)")
    p.add_argument("--kid-samples", type=_positive, default=500, help="generated images per model for KID (500)")
    p.add_argument("--kid-real", type=_positive, help="use only the first N real images (default: all)")
    p.add_argument("--kid-subsets", type=_positive, default=100, help="KID subsets (100)")
    p.add_argument("--kid-subset-size", type=_positive, default=1000, help="KID max subset size (1000)")
    p.add_argument("--kid-seed", type=int, default=0, help="seed of the KID subsets (0)")
    p.add_argument("--resets", default="mapping,affine,synthesis,torgb",
                   help="comma list of components to reset and score: mapping, affine, synthesis (convs, noise "
                        "strengths, const), torgb (default: these four), noise (noise strengths alone)")
    p.add_argument("--latents", type=_positive, default=16, help="latents the effect maps are computed over (16)")
    p.add_argument("--channels", type=int, default=8,
                   help="StyleSpace channels sampled per layer, and random W directions (8; 0: every channel)")
    p.add_argument("--step-std", type=float, default=3.0, help="edit size k: +k std of the coordinate (3)")
    p.add_argument("--std-samples", type=_positive, default=1000, help="latents the std is measured over (1000)")
    p.add_argument("--seed-start", type=int, default=0, help="latent i uses seed START+i (0)")
    p.add_argument("--channel-seed", type=int, default=0, help="seed of the channel / direction sample (0)")
    p.add_argument("--pool", type=int, default=0,
                   help="correlate effect maps averaged down to POOL x POOL px (0: full resolution, the default)")
    p.add_argument("--trunc", type=float, default=1.0, help="truncation psi of the latents (1: none)")
    p.add_argument("--batch", type=_positive, default=16, help="generator batch size (16)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_alignment)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("analyze", help="alignment statistics of a parent/child pair",
                              description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="analysis", metavar="ANALYSIS")
    _add_alignment(sub)
    _add_controls(sub)
    p.set_defaults(func=lambda args: p.print_help() or 2)
