"""Stage `data`: build the parent-domain and child-domain image data sets.

Thin Prefect tasks around :mod:`stylealign_core.data`: ``fetch_source`` downloads an emoji style's
npm tarball into the library's verified cache (the network step, retried), ``build_dataset`` writes
the data set directory with :func:`stylealign_core.data.build.build_dataset` (kept when one matching
the request is already there).
"""
from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from stylealign_core.data import get_style
from stylealign_core.data.build import build_dataset as write_dataset, dataset_request, describes
from stylealign_core.data.format import read_metadata
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


@task(name="data.build_dataset", cache_policy=NO_CACHE)
def build_dataset(out: str, source: str, style: str | None, path: str | None, resolution: int, seed: int,
                  test_fraction: float, limit: int | None) -> dict:
    """Write the data set directory ``out``; returns a summary (name, counts, path)."""
    log = logger()
    out_path = Path(out)
    request = dataset_request(source, style, path, resolution, seed, test_fraction, limit)
    if (out_path / "dataset.json").exists():
        try:
            meta = read_metadata(out_path)
        except Exception:  # noqa: BLE001 - unreadable: rebuild
            meta = {}
        if describes(meta, request):
            log.info("%s is up to date (%s images), kept", out_path, meta["num_images"])
            return _summary(out_path, meta, rebuilt=False)
    write_dataset(out_path, **request)
    meta = read_metadata(out_path)
    log.info("built %s: %s images %spx (train %s, test %s)", out_path, meta["num_images"], meta["resolution"],
             meta["counts"]["train"], meta["counts"]["test"])
    return _summary(out_path, meta, rebuilt=True)


def _summary(path: Path, meta: dict, rebuilt: bool) -> dict:
    return {"path": str(path), "name": meta.get("name"), "num_images": meta["num_images"],
            "resolution": meta["resolution"], "train": meta["counts"]["train"], "test": meta["counts"]["test"],
            "skipped": meta["counts"].get("skipped", 0), "rebuilt": rebuilt}
