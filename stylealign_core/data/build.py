"""A data set from the pipeline's ``data`` settings: an emoji style or a folder, optionally cut to a prefix.

    request = dataset_request("emoji", style="google", path=None, resolution=64, seed=0,
                              test_fraction=0.1, limit=256)
    if not describes(read_metadata(out), request):          # what the up-to-date check compares
        build_dataset(out, **request)

``limit`` keeps the first N images in data set order (:func:`write_subset`): ids, splits, masks, manifest
columns, label classes, licence files and provenance are kept, so subsets of two emoji styles hold the
same emoji. The full set is built in a scratch directory beside ``out`` and removed afterwards.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..atomic import staging_dir
from .emoji import build_emoji_dataset
from .errors import DataError
from .folder import build_folder_dataset
from .format import DatasetWriter, read_manifest, read_metadata

SOURCES = ("emoji", "folder")
_EXTRA_FILES = ("LICENSE", "ATTRIBUTION.txt")


def dataset_request(source: str, style: str | None, path: str | None, resolution: int, seed: int,
                    test_fraction: float, limit: int | None) -> dict:
    """The settings a data set directory must record to count as built from them."""
    return {"source": source, "style": style, "path": path, "resolution": resolution, "seed": seed,
            "test_fraction": float(test_fraction), "limit": limit}


def describes(meta: dict, request: dict) -> bool:
    """Whether the data set metadata ``meta`` (dataset.json) was built from ``request``."""
    params = (meta.get("provenance") or {}).get("parameters") or {}
    src = meta.get("source") or {}
    same_source = (src.get("style") == request["style"] if request["source"] == "emoji"
                   else src.get("path") == request["path"])
    return (same_source and meta.get("resolution") == request["resolution"]
            and params.get("seed") == request["seed"] and params.get("test_fraction") == request["test_fraction"]
            and (meta.get("subset") or {}).get("limit") == request["limit"])


def _build_full(out: Path, source: str, style: str | None, path: str | None, resolution: int, seed: int,
                test_fraction: float) -> Path:
    if source == "emoji":
        return build_emoji_dataset(style, out, resolution=resolution, seed=seed, test_fraction=test_fraction,
                                   overwrite=True, progress=False)
    if source == "folder":
        return build_folder_dataset(path, out, resolution, seed=seed, test_fraction=test_fraction,
                                    overwrite=True, progress=False)
    raise DataError(f"unknown data source {source!r}", hint=f"use one of {', '.join(SOURCES)}")


def build_dataset(out: str | Path, source: str, style: str | None, path: str | None, resolution: int,
                  seed: int, test_fraction: float, limit: int | None) -> Path:
    """Build (replacing) the data set directory ``out`` from the pipeline's settings; returns its path."""
    out = Path(out)
    if limit is None:
        return _build_full(out, source, style, path, resolution, seed, test_fraction)
    scratch = staging_dir(out)  # a killed run leaves a .NAME.tmp-* that the next publish of `out` removes
    try:
        full = _build_full(scratch / out.name, source, style, path, resolution, seed, test_fraction)  # same name
        return write_subset(full, out, limit)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def write_subset(src: str | Path, out: str | Path, limit: int) -> Path:
    """Copy the first ``limit`` images (data set order) of the data set ``src`` into a new data set ``out``."""
    src = Path(src)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise DataError(f"subset limit {limit!r} is not a positive integer", hint="use e.g. limit: 256")
    meta = read_metadata(src)
    rows = read_manifest(src).head(limit).to_dict("records")
    has_masks = bool(meta.get("has_masks"))
    extra = {name: (src / name).read_text() for name in _EXTRA_FILES if (src / name).exists()}
    with DatasetWriter(out, meta["resolution"], has_masks=has_masks, overwrite=True) as writer:
        for row in rows:
            image_id = row.pop("id")
            row.pop("sha256", None)
            row.pop("mask_sha256", None)
            rgb = (src / "images" / f"{image_id}.png").read_bytes()
            mask = (src / "masks" / f"{image_id}.png").read_bytes() if has_masks else None
            writer.add(image_id, rgb, mask, **{k: _plain(v) for k, v in row.items()})
        keep = {k: v for k, v in meta.items() if k in ("name", "split", "source", "provenance")}
        keep["subset"] = {"limit": int(limit), "of": int(meta["num_images"]), "order": "data set order"}
        return writer.finish(keep, label_columns=meta.get("label_columns") or {}, extra_files=extra)
