"""Stage `data`: build the parent-domain and child-domain image data sets.

Thin Prefect tasks around :mod:`stylealign_core.data`: ``fetch_source`` downloads an emoji style's
npm tarball into the library's verified cache (the network step, retried), ``build_dataset`` writes
the data set directory (kept when one matching the request is already there).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from stylealign_core.data import DatasetWriter, build_emoji_dataset, build_folder_dataset, get_style
from stylealign_core.data.format import read_manifest, read_metadata
from stylealign_core.data.npm_fetch import fetch_npm_tarball

from ._common import FETCH_RETRIES, FETCH_RETRY_DELAYS, logger


@task(name="data.fetch_source", retries=FETCH_RETRIES, retry_delay_seconds=FETCH_RETRY_DELAYS,
      cache_policy=NO_CACHE)
def fetch_source(source: str, style: str | None) -> list[str]:
    """Fetch the npm tarball(s) an emoji style needs (its images, its metadata); [] for folders.

    The data library caches verified tarballs (``$STYLEALIGN_CACHE/npm``), so a repeat is a re-hash.
    """
    if source != "emoji":
        return []
    paths = []
    s = get_style(style)
    for st in dict.fromkeys([s] + ([get_style(s.metadata_from)] if s.metadata_from else [])):
        if st.package:
            paths.append(str(fetch_npm_tarball(st.package, st.version, None, st.integrity)))
    return paths


def request_of(source: str, style: str | None, path: str | None, resolution: int, seed: int,
               test_fraction: float, limit: int | None) -> dict:
    """What a data set directory must say about itself to count as up to date."""
    return {"source": source, "style": style, "path": path, "resolution": resolution, "seed": seed,
            "test_fraction": float(test_fraction), "limit": limit}


def _describes(meta: dict, req: dict) -> bool:
    params = (meta.get("provenance") or {}).get("parameters") or {}
    src = meta.get("source") or {}
    same_source = (src.get("style") == req["style"] if req["source"] == "emoji"
                   else src.get("path") == req["path"])
    return (same_source and meta.get("resolution") == req["resolution"]
            and params.get("seed") == req["seed"] and params.get("test_fraction") == req["test_fraction"]
            and (meta.get("subset") or {}).get("limit") == req["limit"])


@task(name="data.build_dataset", cache_policy=NO_CACHE)
def build_dataset(out: str, source: str, style: str | None, path: str | None, resolution: int, seed: int,
                  test_fraction: float, limit: int | None) -> dict:
    """Write the data set directory ``out``; returns a summary (name, counts, path)."""
    log = logger()
    out_path = Path(out)
    req = request_of(source, style, path, resolution, seed, test_fraction, limit)
    if (out_path / "dataset.json").exists():
        try:
            meta = read_metadata(out_path)
        except Exception:  # noqa: BLE001 - unreadable: rebuild
            meta = {}
        if _describes(meta, req):
            log.info("%s is up to date (%s images), kept", out_path, meta["num_images"])
            return _summary(out_path, meta, rebuilt=False)

    def build(target: Path):
        if source == "emoji":
            return build_emoji_dataset(style, target, resolution=resolution, seed=seed,
                                       test_fraction=test_fraction, overwrite=True, progress=False)
        return build_folder_dataset(path, target, resolution, seed=seed, test_fraction=test_fraction,
                                    overwrite=True, progress=False)

    if limit is None:
        build(out_path)
    else:
        full = out_path.with_name(f"{out_path.name}.full")
        try:
            build(full)
            write_subset(full, out_path, limit)
        finally:
            shutil.rmtree(full, ignore_errors=True)
    meta = read_metadata(out_path)
    log.info("built %s: %s images %spx (train %s, test %s)", out_path, meta["num_images"], meta["resolution"],
             meta["counts"]["train"], meta["counts"]["test"])
    return _summary(out_path, meta, rebuilt=True)


def write_subset(src: Path, out: Path, limit: int) -> Path:
    """Copy the first ``limit`` images (data set order) of ``src`` into a new data set ``out``.

    Ids, splits, masks, manifest columns, label classes, licence files and provenance are kept, so
    subsets of two emoji styles hold the same emoji. (A candidate for ``stylealign_core.data``.)
    """
    meta = read_metadata(src)
    rows = read_manifest(src).head(limit).to_dict("records")
    has_masks = bool(meta.get("has_masks"))
    extra = {name: (src / name).read_text() for name in ("LICENSE", "ATTRIBUTION.txt") if (src / name).exists()}
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


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def _summary(path: Path, meta: dict, rebuilt: bool) -> dict:
    return {"path": str(path), "name": meta.get("name"), "num_images": meta["num_images"],
            "resolution": meta["resolution"], "train": meta["counts"]["train"], "test": meta["counts"]["test"],
            "skipped": meta["counts"].get("skipped", 0), "rebuilt": rebuilt}
