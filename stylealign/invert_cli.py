"""`stylealign invert`: project a data set into Z, W, W+ or S of a generator (a Parquet latents table).

--method encode --encoder ENC [--refine K] uses a trained encoder (`stylealign encoder train`) instead of,
or as the start of, the projector.

Writes OUT/latents.parquet (id, space, latent, distance, mse, loss, steps, method, metric,
generator_sha256, ...), OUT/reconstructions/<id>.png, OUT/contact_sheet.png (input | reconstruction)
and OUT/invert.json. With --shard I/N only shard I is inverted (into OUT/shards/); --merge then joins
the finished shards into OUT/latents.parquet.
"""
from __future__ import annotations

import argparse
import sys
import warnings

_EPILOG = (
    "Recipes (--recipe): official (default; the official projector's: 1000 steps of Adam at lr 0.1, 5% "
    "ramp-up, 25% cosine ramp-down, latent noise 0.05 ramped over 75%, noise-map regularisation 1e5, start "
    "at w_avg, here with per-image noise maps) and fast (100 steps, lr 0.2 after a 1% ramp-up, no latent "
    "noise, pixel loss 0.5, the generator's constant noise; README \"Inversion\" has the measurement); "
    "--steps, --lr, --pixel-weight, --latent-noise, --noise override the recipe's values. Batching does not "
    "change a result. Perceptual metric (recorded in every output): stlpips-vgg "
    "(default; shift-tolerant LPIPS, weights from `pip install 'stylealign[invert]'`), stlpips-alex, "
    "lpips-vgg / lpips-alex (lpips package + torchvision backbone weights already in your torch cache), "
    "vgg16-official (--metric-file PATH to NVlabs' vgg16.pt). Nothing is downloaded. Finished images are "
    "cached per (image, generator, settings) in $STYLEALIGN_CACHE/inversion, so reruns and resumed "
    "runs skip them. Examples:\n"
    "  stylealign invert --data data/emoji-google-64 --network runs/parent/network.json --space w+ --out runs/inv\n"
    "  stylealign invert ... --recipe fast --out runs/inv-fast   (100 steps; add --stop-distance D to stop early)\n"
    "  stylealign invert ... --shard 0/4 --out runs/inv   (and 1/4, 2/4, 3/4), then\n"
    "  stylealign invert --merge --out runs/inv\n"
    "  stylealign invert ... --method encode --encoder runs/enc.json --refine 50 --out runs/inv-enc")


def _settings(args):
    from stylealign_core.inversion import recipe_settings
    return recipe_settings(args.recipe, space=args.space, steps=args.steps, lr=args.lr,
                           latent_noise=args.latent_noise, noise_reg_weight=args.noise_reg,
                           pixel_weight=args.pixel_weight, truncation_psi=args.trunc, noise=args.noise,
                           stop_distance=args.stop_distance)


def _merge(args) -> int:
    from stylealign_core.inversion import merge_shards
    table, path = merge_shards(args.out)
    print(f"merged {len(table)} rows ({table.space}, metric {table.metric}) into {path}")
    return 0


def _check_encoder_args(args) -> None:
    """--encoder and --refine belong to --method encode, which needs --encoder."""
    from stylealign_core.inversion import InversionError
    if args.method != "encode":
        if args.encoder or args.refine:
            raise InversionError("--encoder and --refine belong to --method encode", "add --method encode")
    elif not args.encoder:
        raise InversionError("--method encode needs --encoder ENC", "pass an encoder checkpoint written by "
                             "`stylealign encoder train`, or use --method project")


def cmd_invert(args) -> int:
    """Handler of `stylealign invert`."""
    if args.merge:
        return _merge(args)
    if not args.data or not args.network:
        from stylealign_core.inversion import InversionError
        raise InversionError("--data and --network are needed to invert", "pass both, or --merge to merge shards")
    import torch

    from stylealign_core.checkpoints import load_checkpoint
    from stylealign_core.inversion import InvertOptions, LatentsCache, invert_dataset, load_metric, parse_shard
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = _settings(args)  # bad settings fail before anything is loaded
    shard = parse_shard(args.shard) if args.shard else None
    _check_encoder_args(args)
    ckpt = load_checkpoint(args.network)
    G = ckpt.generator.eval().to(args.device)
    encoder_args = {}
    if args.method == "encode":  # refuse an encoder of another generator before reading any image
        from stylealign_core.inversion import encoder_options
        encoder_args = encoder_options(args.encoder, G, ckpt.sha256, args.refine, str(args.network), args.device)
    metric = load_metric(args.metric, args.metric_file).to(args.device)
    options = InvertOptions(settings=settings, batch=args.batch, seed=args.seed, split=args.split, shard=shard,
                            limit=args.limit,
                            strict=args.strict, cache=LatentsCache(args.cache_dir, enabled=not args.no_cache),
                            progress=not args.no_progress, generator_uri=str(args.network), **encoder_args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = invert_dataset(G, ckpt.sha256, args.data, args.out, metric, options)
    for warning in caught:
        print(f"stylealign invert: warning: {warning.message}", file=sys.stderr)
    for name, reason in result.skipped:
        print(f"stylealign invert: skipped {name}: {reason}", file=sys.stderr)
    distances = result.table.columns["distance"]
    print(f"inverted {len(result.table)} image(s) into {settings.space} by {options.method} "
          f"({result.computed} optimised, "
          f"{result.cached} from cache, {len(result.skipped)} skipped); mean {metric.name} distance "
          f"{sum(distances) / len(distances):.4f}; table {result.table_path}")
    return 0


def _by_recipe(field: str) -> str:
    """A setting's value in each recipe, e.g. 'official 0.1, fast 0.2' (from RECIPES, for the help)."""
    from stylealign_core.inversion import RECIPES, recipe_settings
    return ", ".join(f"{name} {getattr(recipe_settings(name), field)}" for name in RECIPES)


def add_parser(subparsers) -> None:
    from stylealign_core.inversion import RECIPES
    from stylealign_core.inversion.perceptual import DEFAULT_METRIC, METRICS
    p = subparsers.add_parser("invert", help="invert a data set into Z/W/W+/S (Parquet latents table)",
                              description=__doc__.splitlines()[0], epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="images: a stylealign data set, a stylegan2-ada zip, or a folder of images")
    p.add_argument("--network", help="generator checkpoint (any format `stylealign checkpoint` reads)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--space", default="w+", choices=["z", "w", "w+", "s"], help="latent space (default w+)")
    p.add_argument("--method", default="project", choices=["project", "encode"],
                   help="project: optimise each code (default); encode: one pass of an encoder (--encoder)")
    p.add_argument("--encoder", help="encoder checkpoint (from `stylealign encoder train`) for --method encode; "
                                     "refused unless trained for --network")
    p.add_argument("--refine", type=int, default=0,
                   help="--method encode: then K projector steps from the encoder's codes (const noise, no latent "
                        "noise, the --lr schedule; method 'encode+refine'); default 0")
    p.add_argument("--recipe", default="official", choices=sorted(RECIPES),
                   help="projector recipe: official (default) or fast (see below); the flags below override it")
    p.add_argument("--steps", type=int, help=f"optimisation steps per image ({_by_recipe('steps')})")
    p.add_argument("--lr", type=float, help=f"peak learning rate ({_by_recipe('lr')})")
    p.add_argument("--batch", type=int, default=16, help="images optimised together (default 16)")
    p.add_argument("--metric", default=DEFAULT_METRIC, choices=METRICS, help=f"perceptual distance ({DEFAULT_METRIC})")
    p.add_argument("--metric-file", help="NVlabs vgg16.pt for --metric vgg16-official")
    p.add_argument("--pixel-weight", type=float, help=f"weight of the pixel MSE loss ({_by_recipe('pixel_weight')})")
    p.add_argument("--noise-reg", type=float, help="noise-map regularisation weight (default 1e5)")
    p.add_argument("--latent-noise", type=float, help=f"initial latent noise ({_by_recipe('latent_noise')})")
    p.add_argument("--noise", choices=["optimize", "const"],
                   help=f"optimize: per-image noise maps, const: the generator's noise kept fixed "
                        f"({_by_recipe('noise')})")
    p.add_argument("--trunc", type=float, help="truncation psi applied to the code (default 1)")
    p.add_argument("--stop-distance", type=float, help="stop an image once the distance of its code as written "
                        "(constant noise, clamped; checked every 10 steps) is at most this")
    p.add_argument("--seed", type=int, default=0, help="run seed (each image's noise: this and its content)")
    p.add_argument("--split", choices=["train", "test"], help="only this split of a stylealign data set")
    p.add_argument("--limit", type=int, help="only the first N images of the input")
    p.add_argument("--shard", help="invert only shard I/N (0 <= I < N) into OUT/shards/")
    p.add_argument("--merge", action="store_true", help="merge the finished shards in --out and exit")
    p.add_argument("--strict", action="store_true", help="refuse unreadable images instead of skipping them")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the latents cache")
    p.add_argument("--cache-dir", help="latents cache directory (default $STYLEALIGN_CACHE/inversion)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_invert)
