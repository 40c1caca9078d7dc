"""Build an emoji data set of one style (see :mod:`.styles`) in the format of :mod:`.format`.

Metadata comes from ``package/emoji.json`` of an emoji-datasource npm package: every base emoji
(1,911 in 16.0.0) and every entry of its ``skin_variations`` (1,875) becomes one image, id = its
``unified`` code point sequence (``1F600``, ``1F385-1F3FB``). An entry is kept when the style's
``has_img_<vendor>`` flag allows it and its image really is in the source; flagged images that
are missing or unreadable are listed in ``skipped.json`` (or refused with ``strict``).

The split is by ``base_id`` (a base emoji and all its skin-tone variants on one side) with
:func:`.format.hash_split`, so every style built with the same seed has the same test set.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import images
from .archive import read_files, source_kind
from .convert import convert_many
from .errors import DataError
from .format import DatasetWriter, categorical, check_resolution, hash_split, provenance
from .license_texts import license_text
from .npm_fetch import fetch_npm_tarball, file_integrity
from .styles import EMOJI_RESOLUTIONS, EmojiStyle, get_style

EMOJI_JSON = "package/emoji.json"
PACKAGE_LICENSE = "package/LICENSE"
TONES = {"1F3FB": 1, "1F3FC": 2, "1F3FD": 3, "1F3FE": 4, "1F3FF": 5}
TONE_NAMES = {1: "LIGHT SKIN TONE", 2: "MEDIUM-LIGHT SKIN TONE", 3: "MEDIUM SKIN TONE",
              4: "MEDIUM-DARK SKIN TONE", 5: "DARK SKIN TONE"}
LABEL_COLUMNS = ("category", "subcategory", "skin_tone")


def emoji_records(emoji_json: list[dict]) -> list[dict]:
    """One record per image (base emoji, then its skin-tone variants) in ``sort_order``.

    Each record holds the manifest columns plus ``_image`` (the emoji-datasource file name),
    ``_non_qualified`` and ``_flags`` (its ``has_img_*`` flags).
    """
    out = []
    for e in sorted(emoji_json, key=lambda e: (e.get("sort_order", 0), e["unified"])):
        base = {"base_id": e["unified"], "name": e.get("name") or e.get("short_name") or "",
                "short_name": e.get("short_name") or "", "category": e.get("category") or "",
                "subcategory": e.get("subcategory") or "",
                "sort_order": int(e.get("sort_order") or 0)}
        out.append({"id": e["unified"], **base, "skin_tone": 0, "skin_tone_2": 0,
                    "added_in": str(e.get("added_in") or ""), "_image": e.get("image"),
                    "_non_qualified": e.get("non_qualified"), "_flags": e})
        for key, v in (e.get("skin_variations") or {}).items():
            tones = [TONES.get(t, 0) for t in key.split("-")]
            if not tones or 0 in tones or len(tones) > 2:
                raise DataError(f"unexpected skin variation key {key!r} of {e['unified']} in "
                                f"{EMOJI_JSON}", hint="this emoji-datasource version is not "
                                "supported; use 16.0.0")
            t1, t2 = tones[0], (tones[1] if len(tones) == 2 else 0)
            suffix = ", ".join(dict.fromkeys(TONE_NAMES[t] for t in tones))
            out.append({"id": v["unified"], **base, "name": f"{base['name']}: {suffix}",
                        "skin_tone": t1, "skin_tone_2": t2,
                        "added_in": str(v.get("added_in") or ""), "_image": v.get("image"),
                        "_non_qualified": v.get("non_qualified"), "_flags": v})
    return out


def candidate_paths(style: EmojiStyle, rec: dict) -> list[str]:
    """The paths tried, in order, for the image of ``rec`` in ``style``'s source."""
    uni = rec["id"]
    nq = rec.get("_non_qualified") or uni
    fields = {"image": rec.get("_image") or f"{uni.lower()}.png", "unified": uni,
              "unified_lower": uni.lower(), "non_qualified": nq, "non_qualified_lower": nq.lower()}
    return list(dict.fromkeys(t.format(**fields) for t in style.image_paths))


def _style_source(style: EmojiStyle, cache_dir) -> tuple[Path, dict]:
    if style.package:
        path = fetch_npm_tarball(style.package, style.version, cache_dir, style.integrity)
        return path, {"kind": "npm", "package": style.package, "version": style.version,
                      "integrity": style.integrity or file_integrity(path)}
    path = Path(style.folder).expanduser()
    source_kind(path)  # raises a DataError naming the path when it is missing
    return path, {"kind": "folder", "path": str(path)}


def _load_metadata(style: EmojiStyle, cache_dir) -> tuple[list[dict], str, dict]:
    meta_style = get_style(style.metadata_from) if style.metadata_from else style
    if not meta_style.package:
        raise DataError(f"emoji style {meta_style.key!r} has no npm package with {EMOJI_JSON}",
                        hint="set metadata_from to an emoji-datasource style such as 'google'")
    path, info = _style_source(meta_style, cache_dir)
    files = read_files(path, [EMOJI_JSON, PACKAGE_LICENSE])
    if EMOJI_JSON not in files:
        raise DataError(f"{EMOJI_JSON} not found in {meta_style.spec}", path,
                        hint="the package is not an emoji-datasource package")
    try:
        data = json.loads(files[EMOJI_JSON])
    except ValueError as exc:
        raise DataError(f"{EMOJI_JSON} of {meta_style.spec} is not valid JSON ({exc})", path,
                        hint="delete the cached tarball and fetch again") from None
    return data, files.get(PACKAGE_LICENSE, b"").decode("utf-8", "replace"), info


def _texts(style: EmojiStyle, meta_spec: str, mit_text: str) -> dict[str, str]:
    attribution = (
        f"Images: {style.title}\n{style.attribution}\n\n"
        f"Emoji metadata (names, categories, skin-tone variants) and image packaging: "
        f"{meta_spec}, https://github.com/iamcal/emoji-data, MIT licence:\n\n{mit_text.strip()}\n")
    lic = f"The images of this data set are {style.title} images, licence {style.license}.\n"
    if style.license_file:
        lic += "\n" + license_text(style.license_file)
    else:
        lic += "See ATTRIBUTION.txt for the attribution and licence link.\n"
    return {"ATTRIBUTION.txt": attribution, "LICENSE": lic}


def build_emoji_dataset(style: str | EmojiStyle, out: str | os.PathLike, *, resolution: int = 64,
                        seed: int = 0, test_fraction: float = 0.1,
                        cache_dir: str | os.PathLike | None = None, overwrite: bool = False,
                        strict: bool = False, progress: bool | None = None,
                        workers: int | None = None) -> Path:
    """Fetch ``style``'s images (npm) and write the data set directory ``out``; returns its path.

    ``resolution``: power of two; images are resized from the source size when it differs.
    ``seed``, ``test_fraction``: the split by ``base_id``. ``cache_dir``: npm tarball cache
    (default ``$STYLEALIGN_CACHE/npm``). ``strict``: a missing or unreadable flagged image is an
    error instead of a ``skipped.json`` entry. ``progress``: tqdm bar (None: only on a terminal).
    ``workers``: conversion processes (default: CPU cores, ``$STYLEALIGN_DATA_WORKERS``).
    """
    style = get_style(style) if isinstance(style, str) else style
    resolution = check_resolution(resolution)
    if resolution not in EMOJI_RESOLUTIONS:
        raise DataError(f"emoji images are {max(EMOJI_RESOLUTIONS)} px; resolution {resolution} is not one of "
                        f"{', '.join(map(str, EMOJI_RESOLUTIONS))} (they are never upsampled)",
                        hint="use --resolution 64 (or 32, 16), or build larger images from a folder")
    if not 0.0 <= test_fraction < 1.0:
        raise DataError(f"test fraction {test_fraction} is not in [0, 1)",
                        hint="use e.g. --test-fraction 0.1")
    out = Path(out).expanduser()
    if out.exists() and not overwrite:  # fail before fetching anything
        raise DataError("output directory already exists", out,
                        hint="pass --overwrite or choose another --out")
    emoji_json, mit_text, meta_info = _load_metadata(style, cache_dir)
    meta_spec = get_style(style.metadata_from).spec if style.metadata_from else style.spec
    src, source_info = _style_source(style, cache_dir)
    records = emoji_records(emoji_json)
    wanted = {p for r in records for p in candidate_paths(style, r)}
    files = read_files(src, wanted)

    not_in_style = 0
    jobs = []
    for rec in records:
        if style.has_img_flag and not rec["_flags"].get(style.has_img_flag, False):
            not_in_style += 1
            continue
        paths = candidate_paths(style, rec)
        found = next((p for p in paths if p in files), None)
        missing = f"image missing from {style.spec} (tried {', '.join(paths)})"
        jobs.append(((rec, found or paths[0]), files.get(found), None if found else missing))
    del files

    with DatasetWriter(out, resolution, has_masks=True, overwrite=overwrite) as writer:
        results = convert_many(jobs, resolution, workers, len(jobs))
        for (rec, path), res in tqdm(results, total=len(jobs), unit="img",
                                     desc=f"emoji {style.key} {resolution}px",
                                     disable=(not progress) if progress is not None else None):
            if res[0] == "bad":
                if strict:
                    raise DataError(f"{path} of {style.spec}: {res[1]}", src,
                                    hint="drop --strict to skip it, or fetch the package "
                                         "again")
                writer.skip(path, res[1])
                continue
            _, rgb_png, mask_png, _ = res
            if mask_png is None:  # a source without alpha: all foreground
                mask_png = images.encode_png(np.full((resolution, resolution), 255, np.uint8))
            cols = {k: v for k, v in rec.items() if not k.startswith("_") and k != "id"}
            writer.add(rec["id"], rgb_png, mask_png, **cols,
                       split=hash_split(rec["base_id"], seed, test_fraction), source=path)
        labels = {c: categorical(r[c] for r in writer.rows) for c in LABEL_COLUMNS}
        metadata = {
            "name": f"emoji-{style.key}-{resolution}",
            "split": {"method": "hash", "key": "base_id", "seed": int(seed),
                      "test_fraction": float(test_fraction)},
            "source": {**source_info, "style": style.key, "title": style.title,
                       "license": style.license, "metadata": meta_info,
                       "not_in_style": not_in_style},
            "provenance": provenance(builder="emoji", style=style.key, resolution=resolution,
                                     seed=int(seed), test_fraction=float(test_fraction),
                                     strict=bool(strict)),
        }
        return writer.finish(metadata, label_columns=labels,
                             extra_files=_texts(style, meta_spec, mit_text))
