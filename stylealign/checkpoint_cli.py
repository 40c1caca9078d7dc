"""`stylealign convert | info | generate`: checkpoint commands.

Every handler returns 0 on success; a refused checkpoint
(:class:`stylealign_core.checkpoints.CheckpointError`) is reported by stylealign.cli as one line on
stderr, exit status 2.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

from stylealign_core.errors import StylealignError

FORMATS_HELP = ("stylealign NAME.json + NAME.safetensors (give either file or NAME), stylegan2-ada-pytorch / "
                "stylegan3 StyleGAN2 .pkl (read without executing it), rosinality stylegan2-pytorch .pt, or an "
                "https:// URL of any of these (cached in $STYLEALIGN_CACHE or ~/.cache/stylealign)")


def parse_seeds(text: str) -> list[int]:
    """``--seeds`` type: '0-15', '1,5,7', '0-3,10' -> seeds (:func:`stylealign_core.latents.parse_seeds`)."""
    from stylealign_core.latents import parse_seeds as parse_seed_list

    try:
        return parse_seed_list(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_CONFIG_KEYS = ("channel_base", "channel_max", "channels", "hidden", "space", "w_dim", "num_ws", "c_dim",
                "conv_clamp")                           # printed when a network's config has them (G, D, encoder)


def _network_line(name: str, module) -> str:
    cfg = module.config
    params = sum(p.numel() for p in module.parameters())
    res = cfg["img_resolution"]
    parts = [f"{name}: {type(module).__name__} {res}x{res}x{cfg['img_channels']}", f"{params:,} params"]
    if "z_dim" in cfg:  # a generator
        parts += [f"z_dim={cfg['z_dim']}", f"mapping_layers={cfg['mapping_layers']}"]
        cfg = {**cfg, "num_ws": module.num_ws}
    parts += [f"{key}={cfg[key]}" for key in _CONFIG_KEYS if cfg.get(key) not in (None, 0, "")]
    return ", ".join(parts)


def _tensor_summary(t):
    """A short, printable value: scalars and tiny tensors as (rounded) numbers, else the shape."""
    if t.numel() == 1:
        return float(f"{t.item():.6g}")
    return [float(f"{v:.6g}") for v in t.flatten().tolist()] if t.numel() <= 4 else f"tensor {list(t.shape)}"


def _device(text: str) -> str:
    """argparse type of --device: a device this torch can use (a CPU-only build has no cuda)."""
    from stylealign_core.training.config import check_device
    try:
        return check_device(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fail(exc) -> int:
    """Only `generate` still reports here; stylealign.cli reports the same way for every command."""
    print(f"stylealign: error: {exc}", file=sys.stderr)
    return 2


def _parse_metadata(pairs: list[str] | None) -> dict:
    meta = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise StylealignError(f"--meta wants KEY=VALUE, got {pair!r}")
        try:
            meta[key] = json.loads(value)
        except json.JSONDecodeError:
            meta[key] = value
    return meta


def cmd_convert(args) -> int:
    from stylealign_core.checkpoints import checkpoint_paths, convert_checkpoint

    networks = [n.strip() for n in args.networks.split(",") if n.strip()] if args.networks else None
    manifest, ckpt = convert_checkpoint(args.src, args.dst, networks=networks, sha256=args.sha256,
                                        metadata=_parse_metadata(args.meta), dtype=args.dtype)
    _, tensors = checkpoint_paths(manifest)
    print(f"converted {args.src} ({ckpt.format}, sha256 {ckpt.sha256[:16]}...)")
    print(f"      -> {manifest} + {tensors.name}")
    for name, module in ckpt.networks.items():
        print("  " + _network_line(name, module))
    for key, t in ckpt.extra.items():
        print(f"  extra: {key} = {_tensor_summary(t)}")
    for note in ckpt.notes:
        print(f"  note: {note}")
    return 0


def cmd_info(args) -> int:
    from stylealign_core.checkpoints import load_checkpoint

    ckpt = load_checkpoint(args.checkpoint, sha256=args.sha256)
    networks = {name: {"class": type(m).__name__, "config": m.config,
                       "num_params": int(sum(p.numel() for p in m.parameters()))}
                for name, m in ckpt.networks.items()}
    extra = {k: _tensor_summary(t) for k, t in ckpt.extra.items()}
    if args.json:
        print(json.dumps({"format": ckpt.format, "source": str(ckpt.source), "sha256": ckpt.sha256,
                          "networks": networks, "extra": extra, "metadata": ckpt.metadata}, indent=2, default=str))
        return 0
    print(f"checkpoint: {ckpt.source}")
    print(f"format:     {ckpt.format}")
    print(f"sha256:     {ckpt.sha256}")
    print("networks:")
    for name, module in ckpt.networks.items():
        print("  " + _network_line(name, module))
    for key, value in extra.items():
        print(f"extra:      {key} = {value}")
    if ckpt.metadata:
        print("metadata:")
        for line in json.dumps(ckpt.metadata, indent=2, default=str).splitlines()[1:-1]:
            print(line)
    return 0


def cmd_generate(args) -> int:
    from stylealign_core.checkpoints import CheckpointError, load_generator
    from stylealign_core.grid import save_image_grid
    from stylealign_core.latents import synthesize_seeds

    try:
        G = load_generator(args.network, device=args.device, sha256=args.sha256)
    except CheckpointError as exc:
        return _fail(exc)
    class_idx = args.class_idx
    if G.c_dim and (class_idx is None or not 0 <= class_idx < G.c_dim):
        print(f"stylealign: error: {args.network}: conditional generator (c_dim={G.c_dim}): pass "
              f"--class-idx in [0, {G.c_dim})", file=sys.stderr)
        return 2
    if not G.c_dim and class_idx is not None:
        print(f"stylealign: note: --class-idx ignored, {args.network} is unconditional", file=sys.stderr)
        class_idx = None
    # z for seed s: RandomState(s).randn(z_dim), as the official generate.py (stylealign_core.latents).
    try:
        grid = synthesize_seeds(G, args.seeds, truncation_psi=args.trunc, class_idx=class_idx, space=args.space,
                                noise_mode=args.noise_mode, batch=args.batch, device=args.device)
    except ValueError as exc:  # e.g. --batch 0
        return _fail(exc)
    out = save_image_grid(grid, args.out, ncols=args.ncols)
    ncols = args.ncols or math.ceil(math.sqrt(len(grid)))
    print(f"wrote {out}: {len(grid)} images {G.img_resolution}x{G.img_resolution}, {ncols} per row, seeds "
          f"{args.seeds[0]}..{args.seeds[-1]}, trunc {args.trunc}, via {args.space} space")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "convert", help="convert any supported checkpoint to the stylealign format",
        description="Convert a checkpoint to the stylealign format (DST.json + DST.safetensors). SRC may be "
                    + FORMATS_HELP + ". Official pickles are read with an allowlisting unpickler: no code in "
                    "the file runs. Prints what was converted.")
    p.add_argument("src", metavar="SRC", help="checkpoint to convert (path or https URL)")
    p.add_argument("dst", metavar="DST", help="output checkpoint: NAME, NAME.json or NAME.safetensors")
    p.add_argument("--networks", metavar="A,B", help="only these networks (e.g. G_ema); default: all present")
    p.add_argument("--sha256", metavar="HEX", help="refuse SRC unless its sha256 is this")
    p.add_argument("--dtype", choices=["float16", "bfloat16"],
                   help="store the network weights at this precision (half the file size; loading gives float32 "
                        "networks). Default: float32, exact")
    p.add_argument("--meta", action="append", metavar="KEY=VALUE",
                   help="add a metadata entry (VALUE parsed as JSON when it is JSON); repeatable")
    p.set_defaults(func=cmd_convert)

    p = subparsers.add_parser(
        "info", help="show a checkpoint's format, networks, parameter counts and metadata",
        description="Show a checkpoint's format, sha256, networks (config, parameter counts), extra tensors "
                    "and metadata. CKPT may be " + FORMATS_HELP + ".")
    p.add_argument("checkpoint", metavar="CKPT", help="checkpoint path or https URL")
    p.add_argument("--sha256", metavar="HEX", help="refuse CKPT unless its sha256 is this")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    p.set_defaults(func=cmd_info)

    p = subparsers.add_parser(
        "generate", help="write a PNG grid of samples from a checkpoint's generator",
        description="Sample the generator (G_ema if present, else G) of a checkpoint at the given seeds and "
                    "write one PNG grid. z for seed s is numpy RandomState(s).randn(z_dim), as in the official "
                    "generate.py, so seeds are comparable across implementations and the same seed gives the "
                    "same image as in exported samples.png and the parent-vs-child grid (at the same --batch).")
    p.add_argument("--network", required=True, metavar="CKPT", help="checkpoint path or https URL: " + FORMATS_HELP)
    p.add_argument("--seeds", type=parse_seeds, default="0-15", metavar="LIST",
                   help="seeds, e.g. 0-15 or 1,5,7 (default: 0-15)")
    p.add_argument("--trunc", type=float, default=1.0, metavar="PSI",
                   help="truncation psi towards w_avg (default: 1 = none; 0.7 is a common choice)")
    p.add_argument("--space", choices=["z", "w", "w+", "s"], default="z",
                   help="latent space the images are synthesized from (all give the same images; w+/s exercise "
                        "the StyleSpace path end to end). Default: z")
    p.add_argument("--noise-mode", choices=["const", "random", "none"], default="const",
                   help="per-pixel noise: the stored constant maps (default), fresh random, or none")
    p.add_argument("--class-idx", type=int, metavar="I", help="class index for conditional generators")
    p.add_argument("--ncols", type=int, metavar="N", help="images per grid row (default: as square as possible)")
    p.add_argument("--batch", type=int, default=16, metavar="N",
                   help="images per forward pass (default: 16; the last pass is padded to N, so an image depends "
                        "on its seed and N only)")
    p.add_argument("--device", default="cpu", type=_device, help="torch device: cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--sha256", metavar="HEX", help="refuse the checkpoint unless its sha256 is this")
    p.add_argument("--out", required=True, metavar="PNG", help="output grid image (PNG)")
    p.set_defaults(func=cmd_generate)
