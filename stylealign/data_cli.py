"""`stylealign data ...`: build and inspect image data sets (see stylealign_core.data.format).

Subcommands: ``emoji`` (an emoji style fetched with npm), ``folder`` (your own images) and
``info`` (print a data set's metadata, optionally re-hash its files). Handlers return an exit
code: 0 success; a :class:`stylealign_core.data.DataError` is reported by stylealign.cli (one line
on stderr, exit status 2).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from stylealign_core.data.errors import DataError
from stylealign_core.data.license_texts import LICENSE_TEXTS
from stylealign_core.data.styles import EMOJI_RESOLUTIONS, STYLES

_FORMAT_NOTE = (
    "Output: DIR/dataset.json, DIR/manifest.parquet, DIR/images/<id>.png (RGB on white), "
    "DIR/masks/<id>.png (alpha, when present), DIR/skipped.json. DIR appears only when complete "
    "(built in the hidden .DIR.tmp-*, then swapped in).")


def _progress(args) -> bool | None:
    return False if args.quiet else None


def _summary(path, t0: float) -> str:
    meta = json.loads((path / "dataset.json").read_text())
    c = meta["counts"]
    skipped = (f", {c['skipped']} inputs skipped (listed in {path / 'skipped.json'})"
               if c["skipped"] else "")
    return (f"wrote {path}: {meta['num_images']} images {meta['resolution']}x"
            f"{meta['resolution']} (train {c['train']}, test {c['test']}), masks "
            f"{'yes' if meta['has_masks'] else 'no'}{skipped}, {time.time() - t0:.1f} s")


def cmd_emoji(args) -> int:
    """Handler of `stylealign data emoji`."""
    from stylealign_core.data.emoji import build_emoji_dataset
    t0 = time.time()
    path = build_emoji_dataset(args.style, args.out, resolution=args.resolution,
                               seed=args.seed, test_fraction=args.test_fraction,
                               cache_dir=args.cache_dir, overwrite=args.overwrite,
                               strict=args.strict, progress=_progress(args),
                               workers=args.workers)
    print(_summary(path, t0))
    return 0


def cmd_folder(args) -> int:
    """Handler of `stylealign data folder`."""
    from stylealign_core.data.folder import build_folder_dataset
    t0 = time.time()
    path = build_folder_dataset(args.src, args.out, args.resolution, seed=args.seed,
                                test_fraction=args.test_fraction, strict=args.strict,
                                overwrite=args.overwrite, masks=args.masks,
                                progress=_progress(args), workers=args.workers,
                                license=args.license, attribution=args.attribution)
    print(_summary(path, t0))
    return 0


def cmd_info(args) -> int:
    """Handler of `stylealign data info`."""
    from stylealign_core.data.dataset import open_dataset
    from stylealign_core.data.format import is_dataset_dir, verify_dataset
    ds, meta = open_dataset(args.path, preload=False)
    print(json.dumps({k: v for k, v in meta.items() if k != "label_columns"}, indent=2))
    print(ds)
    if args.verify:
        if not is_dataset_dir(args.path):
            raise DataError("--verify needs a stylealign data set directory", args.path)
        problems = verify_dataset(args.path)
        for p in problems[:20]:
            print(f"  {p}", file=sys.stderr)
        if problems:
            raise DataError(f"{len(problems)} files do not match the manifest", args.path,
                            hint="rebuild the data set")
        print(f"verified: all {meta['num_images']} images match their sha256")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output data set directory (must not exist unless --overwrite)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the hash-based train/test split (default: 0)")
    p.add_argument("--test-fraction", type=float, default=0.1, metavar="F",
                   help="fraction of split keys in the test split (default: 0.1)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing DIR (swapped in only once the new one is complete)")
    p.add_argument("--strict", action="store_true",
                   help="stop with an error at the first unusable input instead of skipping it "
                        "and listing it in DIR/skipped.json")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="image conversion processes (default: CPU cores, max 8, or "
                        "$STYLEALIGN_DATA_WORKERS)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_data_parser(subparsers) -> argparse.ArgumentParser:
    """Register `data` (with `emoji`, `folder`, `info`) on an argparse subparsers object."""
    data = subparsers.add_parser(
        "data", help="build and inspect image data sets",
        description="Build image data sets in the stylealign format, or inspect one. "
                    + _FORMAT_NOTE)
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")

    styles = ", ".join(f"{k} ({s.title}, {s.license}, {s.spec})" for k, s in STYLES.items())
    emoji = sub.add_parser(
        "emoji", help="emoji images of one vendor style, fetched with npm",
        description="Fetch an emoji style with `npm pack` (verified against its sha512 "
                    "integrity, cached in $STYLEALIGN_CACHE/npm, default ~/.cache/stylealign/npm) "
                    "and build a data set: one image per emoji and skin-tone variant (3,786 for "
                    "16.0.0), composited on white, alpha kept as mask, manifest with id, name, "
                    "category, subcategory, skin_tone, base_id, split and sha256. The split keeps "
                    "all skin tones of an emoji together and is identical for every style. "
                    f"Styles: {styles}. The licence and attribution are written to DIR/LICENSE "
                    "and DIR/ATTRIBUTION.txt. " + _FORMAT_NOTE,
        epilog="example: stylealign data emoji --style twitter --resolution 64 "
               "--out data/emoji-twitter-64")
    emoji.add_argument("--style", required=True, choices=sorted(STYLES),
                       help="emoji style (registry: stylealign_core/data/styles.py)")
    emoji.add_argument("--resolution", type=int, default=64, choices=EMOJI_RESOLUTIONS,
                       help="image size in pixels (default: 64, the source size; smaller sizes "
                            "are downsampled with Lanczos on premultiplied alpha)")
    emoji.add_argument("--cache-dir", default=None, metavar="DIR",
                       help="npm tarball cache (default: $STYLEALIGN_CACHE/npm or "
                            "~/.cache/stylealign/npm)")
    _common(emoji)
    emoji.set_defaults(func=cmd_emoji)

    folder = sub.add_parser(
        "folder", help="your own images (a folder searched recursively, a .zip or a .tgz)",
        description="Build a data set from your own images. Each image is centre-cropped to a "
                    "square and resized to --resolution (Lanczos); RGBA/LA/P-with-transparency "
                    "are composited on white with the alpha kept as a mask; L, P, CMYK, 16-bit "
                    "(I;16) and other modes are converted to 8-bit RGB. Empty, truncated, corrupt "
                    "and non-image files are skipped and listed in DIR/skipped.json (or refused "
                    "with --strict). The first sub-folder becomes the class_name column. "
                    + _FORMAT_NOTE,
        epilog="example: stylealign data folder ~/photos --resolution 64 --out data/photos-64 "
               "--license CC-BY-4.0 --attribution 'Photos by A. Author, https://example.org/photos'")
    folder.add_argument("src", metavar="SRC", help="folder, .zip or .tgz of images")
    folder.add_argument("--resolution", type=int, required=True, metavar="R",
                        help="output size in pixels, a power of two (e.g. 32, 64, 256)")
    folder.add_argument("--masks", choices=["auto", "always", "never"], default="auto",
                        help="write masks: when any input has transparency (auto, default), "
                             "always, or never")
    folder.add_argument("--license", default=None, metavar="ID_OR_FILE",
                        help="licence of the images, written to DIR/LICENSE and dataset.json: an SPDX "
                             "identifier (e.g. CC-BY-4.0; the stored licence text is added for "
                             f"{', '.join(LICENSE_TEXTS)}) or a licence text file")
    folder.add_argument("--attribution", default=None, metavar="TEXT_OR_FILE",
                        help="attribution the licence requires (e.g. 'Photos by A. Author, "
                             "https://...'), or a text file holding it; written to DIR/ATTRIBUTION.txt")
    _common(folder)
    folder.set_defaults(func=cmd_folder)

    info = sub.add_parser(
        "info", help="print a data set's metadata (stylealign directory or stylegan2-ada zip)",
        description="Print dataset.json and the Dataset summary; --verify re-hashes every file "
                    "against the manifest.")
    info.add_argument("path", metavar="PATH", help="data set directory or .zip")
    info.add_argument("--verify", action="store_true", help="re-hash every image and mask")
    info.set_defaults(func=cmd_info)
    return data


add_parser = add_data_parser  # the name stylealign/cli.py looks for first
