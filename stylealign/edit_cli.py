"""`stylealign translate` and `stylealign morph`: editing with an aligned parent/child pair.

Both load the generator (G_ema, else G) of each checkpoint, refuse a pair that is not aligned (naming
the mismatch), and publish their output directory in one step (nothing half-written is ever visible).
"""
from __future__ import annotations

import argparse

from stylealign.checkpoint_cli import _device, parse_seeds

_TRANSLATE_EPILOG = """\
Codes: --seeds (z = RandomState(seed).randn(z_dim), mapped by the SOURCE generator for --space w/w+/s), or
--latents TABLE.parquet from `stylealign invert` (its space; refused when it was inverted in another
generator than the source). Recipe: Z through the target's whole generator at --trunc 0.5 towards the
target's w_avg (StyleAlign's code); W/W+ codes skip the mapping and are truncated towards the target's
w_avg; S codes take --trunc 1. --swap-res R renders with a hybrid: synthesis blocks up to R from the
source, finer ones from the target (Toonify-style; --blend W smooths the step over W resolution levels).

Scoring (--truth DATA: the target-domain data set holding the same ids, e.g. data/emoji-twitter-64 for
Noto -> Twemoji): perceptual distance (--metric), pixel MSE/L1 on [0,1] and mask IoU (truth masks from
alpha, generated ones from non-white pixels) for the translation and four baselines: the input itself,
a random target sample at the same truncation, the nearest target training image to the input, the
target's mean image (w_avg). Means with 95% bootstrap intervals resampling base emoji (base_id).

Examples:
  stylealign translate --parent runs/parent/network.json --child runs/child/network.json --seeds 0-15 --out out/tr
  stylealign translate --parent P.json --child C.json --latents inv/noto-z.parquet --truth data/emoji-twitter-64 \\
      --inputs data/emoji-google-64 --out out/tr-scored
"""

_MORPH_EPILOG = """\
Frame t in [0, 1]: code lerp(a, b, latent_schedule(t)) rendered by a copy of the parent whose synthesis
weights are lerp(parent, child, weight_schedule(t)) per resolution window; the mapping network stays the
parent's. Frame 0 is the parent's image of a, the last frame the child's image of b. Z codes are first
mapped to W by the generator of their --domains entry. --weight-order coarse-to-fine moves the 4x4 block
first; with --weight-steps each block switches at once (every frame a layer-swapped hybrid). --windows
'4:0-0.5,8:0.25-0.75,16:0.5' sets each block's window (RES:S is a step at S).

Examples:
  stylealign morph --parent P.json --child C.json --seeds 3,7 --frames 48 --out out/morph
  stylealign morph --parent P.json --child C.json --latents inv/noto-wplus.parquet --ids 1F600,1F60D --out out/m
"""


def _perceptual(name: str):
    """The perceptual distance for scoring (stylealign_core.editing.evaluate.scoring_distance)."""
    from stylealign_core.editing.evaluate import scoring_distance
    return scoring_distance(name)


def _codes(args, G, sha, space):
    from stylealign_core.editing import codes_from_seeds, codes_from_table
    from stylealign_core.editing.errors import EditError

    if args.seeds is not None:
        codes = codes_from_seeds(G, args.seeds, space or "z")
    else:
        codes = codes_from_table(args.latents, expect_sha256=sha)
        if space and space != codes.space:
            raise EditError(f"--space {space} but {args.latents} holds {codes.space} codes: drop --space or "
                            "invert in that space")
    ids = [i.strip() for i in (args.ids or "").split(",") if i.strip()]
    return codes.select(ids) if ids else codes


def _truncation(args, space: str) -> float:
    from stylealign_core.editing.translate import default_truncation
    return default_truncation(space, args.trunc)


def _check_translate_args(args) -> None:
    from stylealign_core.editing.errors import EditError

    if args.truth and args.seeds is not None:
        raise EditError("--truth scores translations of data-set images by id: use --latents (a table from "
                        "`stylealign invert`), not --seeds")
    if args.inputs and not args.truth:
        raise EditError("--inputs is only used for scoring: add --truth DATA (the target-domain data set)")
    if args.blend and args.swap_res is None:
        raise EditError("--blend sets the width of a layer swap: add --swap-res R")


def cmd_translate(args) -> int:
    from stylealign_core.editing import load_aligned_pair
    from stylealign_core.editing.jobs import run_translate

    _check_translate_args(args)
    pair = load_aligned_pair(args.parent, args.child, device=args.device)
    source, _ = pair.roles(args.reverse)
    codes = _codes(args, source, pair.child_sha256 if args.reverse else pair.parent_sha256, args.space)
    psi = _truncation(args, codes.space)
    distance, note = _perceptual(args.metric) if args.truth else (None, None)
    if note:
        print(f"stylealign translate: note: {note}")
    record = run_translate(pair, codes, args.out, truncation_psi=psi, reverse=args.reverse,
                           swap_res=args.swap_res, blend=args.blend, truth_path=args.truth,
                           inputs_path=args.inputs, distance=distance, sheet_rows=args.sheet_rows,
                           batch=args.batch, n_boot=args.boot, prefilter=args.prefilter,
                           overwrite=args.overwrite, progress=not args.no_progress,
                           settings={"parent": args.parent, "child": args.child})
    print(f"wrote {args.out}: {len(codes.ids)} translations ({record['direction']}, {codes.space} space, "
          f"trunc {psi}{f', swap at {args.swap_res}' if args.swap_res else ''}) + contact_sheet.png")
    if "summary" in record:
        info = record["scoring"]
        print(f"scores vs {args.truth} ({info['n_items']} items, {info['n_groups']} {info['groups']} groups, "
              f"perceptual: {info['perceptual_metric']}; masks: truth {info['truth_mask']}, "
              f"images {info['output_mask']}):")
        for row in record["summary"].to_dict("records"):
            print(f"  {row['method']:<14} {row['metric']:<10} {row['mean']:.4f} "
                  f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]")
    return 0


def cmd_morph(args) -> int:
    from stylealign_core.editing import load_aligned_pair
    from stylealign_core.editing.errors import EditError
    from stylealign_core.editing.morph import morph_windows

    pair = load_aligned_pair(args.parent, args.child, device=args.device)
    domains = tuple(d.strip() for d in args.domains.split(","))
    models = {"parent": (pair.parent, pair.parent_sha256), "child": (pair.child, pair.child_sha256)}
    if len(domains) != 2 or any(d not in models for d in domains):
        raise EditError(f"--domains wants two of parent/child, e.g. parent,child; got {args.domains!r}")
    ends = []
    for k, domain in enumerate(domains):
        G, sha = models[domain]
        if args.seeds is not None:
            if len(args.seeds) != 2:
                raise EditError(f"--seeds wants exactly two seeds A,B for a morph, got {len(args.seeds)}")
            from stylealign_core.editing import codes_from_seeds
            ends.append(codes_from_seeds(G, [args.seeds[k]], args.space or "z"))
            continue
        ids = [i.strip() for i in (args.ids or "").split(",") if i.strip()]
        if len(ids) != 2:
            raise EditError("--latents needs --ids A,B (two ids of the table(s))")
        table = args.latents_b if (k == 1 and args.latents_b) else args.latents
        ends.append(_codes(argparse.Namespace(seeds=None, latents=table, ids=ids[k]), G, sha, args.space))
    if ends[0].space != ends[1].space:
        raise EditError(f"the two codes are in different spaces ({ends[0].space}, {ends[1].space})")
    resolutions = list(pair.parent.synthesis.block_resolutions)
    windows = morph_windows(resolutions, args.windows, args.weight_order, step=args.weight_steps)
    from stylealign_core.editing.jobs import run_morph
    space = ends[0].space
    record = run_morph(pair, ends[0].latents[0], ends[1].latents[0], space, args.out, frames=args.frames,
                       fps=args.fps, scale=args.scale, strip_frames=args.strip_frames, overwrite=args.overwrite,
                       progress=not args.no_progress, latent_schedule=args.latent_schedule,
                       weight_schedule=args.weight_schedule, windows=windows,
                       truncation_psi=_truncation(args, space), domains=domains,
                       settings={"parent": args.parent, "child": args.child, "a": ends[0].ids[0],
                                 "b": ends[1].ids[0]})
    print(f"wrote {args.out}: morph.gif ({args.frames} frames), strip.png, "
          + ("morph.mp4" if record["mp4"] == "morph.mp4" else record["mp4"]))
    return 0


def _common(p) -> None:
    p.add_argument("--parent", required=True, metavar="CKPT", help="parent checkpoint (any format `stylealign "
                   "info` reads; its G_ema, else G)")
    p.add_argument("--child", required=True, metavar="CKPT", help="child checkpoint fine-tuned from the parent")
    p.add_argument("--space", choices=["z", "w", "w+", "s"],
                   help="latent space (default: z for --seeds; the table's space for --latents)")
    p.add_argument("--trunc", type=float, metavar="PSI",
                   help="truncation towards the rendering generator's w_avg (default: 0.5 in z, as StyleAlign; "
                        "1 = none in w/w+/s)")
    p.add_argument("--device", default="cpu", type=_device, help="torch device: cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (published in one step)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "translate", help="render parent codes with the child (or back), optionally scored against ground truth",
        description="Translate images between aligned models: the same code rendered by the child (parent -> "
                    "child) or, with --reverse, child codes rendered by the parent. Writes source/ and "
                    "translation/ PNGs, contact_sheet.png ([input |] source | translation [| truth]), translations.parquet "
                    "and run.json; with --truth also scores.parquet and summary.parquet/json.",
        epilog=_TRANSLATE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(p)
    codes = p.add_mutually_exclusive_group(required=True)
    codes.add_argument("--seeds", type=parse_seeds, metavar="LIST", help="seeds, e.g. 0-15 or 1,5,7")
    codes.add_argument("--latents", metavar="TABLE", help="inversion table (Parquet) from `stylealign invert`")
    p.add_argument("--ids", metavar="A,B,...", help="only these ids of --latents (default: all)")
    p.add_argument("--reverse", action="store_true", help="child codes -> parent images")
    p.add_argument("--swap-res", type=int, metavar="R", help="layer-swapped hybrid: blocks up to R from the source")
    p.add_argument("--blend", type=float, default=0.0, metavar="W",
                   help="with --swap-res: logistic blend width in resolution levels (default 0: a hard swap)")
    p.add_argument("--truth", metavar="DATA", help="target-domain data set with the same ids: score against it")
    p.add_argument("--inputs", metavar="DATA", help="source-domain data set with the same ids: the 'input' "
                   "baseline and nearest-image query (default: the source generator's rendering of each code)")
    p.add_argument("--metric", default="auto", metavar="NAME",
                   help="perceptual distance for scoring, from the inversion package (auto: its default; none: "
                        "pixel error and mask IoU only)")
    p.add_argument("--boot", type=int, default=1000, metavar="N", help="bootstrap resamples (default 1000)")
    p.add_argument("--prefilter", type=int, default=32, metavar="K",
                   help="nearest-image baseline: perceptual search among the K pixel-nearest (0: all; default 32)")
    p.add_argument("--sheet-rows", type=int, default=16, metavar="N",
                   help="rows of the contact sheet, 4 items per row (default 16: the first 64 items)")
    p.add_argument("--batch", type=int, default=16, metavar="N", help="images per forward pass (default 16)")
    p.set_defaults(func=cmd_translate)

    p = subparsers.add_parser(
        "morph", help="morph parent(a) into child(b): interpolate the code and the synthesis weights",
        description="Morph between two codes of the same or different domains: the code and the synthesis "
                    "weights move from the parent's to the child's (mapping kept). Writes morph.gif, "
                    "morph.mp4 (when an ffmpeg is installed: pip install imageio-ffmpeg), strip.png, run.json.",
        epilog=_MORPH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(p)
    codes = p.add_mutually_exclusive_group(required=True)
    codes.add_argument("--seeds", type=parse_seeds, metavar="A,B", help="two seeds")
    codes.add_argument("--latents", metavar="TABLE", help="inversion table holding code a (and b)")
    p.add_argument("--latents-b", metavar="TABLE", help="another table holding code b (e.g. inverted in the child)")
    p.add_argument("--ids", metavar="A,B", help="with --latents: the two ids")
    p.add_argument("--domains", default="parent,child", metavar="DA,DB",
                   help="generator each code belongs to (maps z codes, checks tables); default parent,child")
    p.add_argument("--frames", type=int, default=32, metavar="N", help="frames (default 32)")
    p.add_argument("--fps", type=float, default=12.0, help="frames per second of GIF/MP4 (default 12)")
    p.add_argument("--scale", type=int, default=4, metavar="K", help="enlarge GIF/MP4 frames K times (default 4)")
    p.add_argument("--strip-frames", type=int, default=9, metavar="N", help="frames in strip.png (default 9)")
    p.add_argument("--latent-schedule", default="linear", choices=["linear", "cosine", "smoothstep"])
    p.add_argument("--weight-schedule", default="linear", choices=["linear", "cosine", "smoothstep"])
    p.add_argument("--weight-order", default="together", choices=["together", "coarse-to-fine", "fine-to-coarse"],
                   help="per-resolution weight windows (default together: one shared t, as StyleAlign)")
    p.add_argument("--weight-steps", action="store_true", help="each block switches at once (layer swapping)")
    p.add_argument("--windows", metavar="SPEC", help="explicit windows, e.g. '4:0-0.5,8:0.25-0.75,16:0.5'")
    p.set_defaults(func=cmd_morph)
