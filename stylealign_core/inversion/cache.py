"""The latents cache: a finished inversion of one image, keyed by what determines it.

Key: sha256 of (image file sha256, generator sha256, method, metric, every projector setting, seed),
so re-running a data set with the same generator and settings does no optimisation at all, and a run
that was killed continues where it stopped (every finished batch is in the cache). Entries live in
``$STYLEALIGN_CACHE/inversion`` (default ``~/.cache/stylealign/inversion``) as small ``.npz`` files,
written atomically.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..atomic import write_atomic
from ..data.npm_fetch import cache_root

FIELDS = ("latent", "distance", "mse", "loss", "steps")


def inversion_cache_dir(override: str | os.PathLike | None = None) -> Path:
    return Path(override).expanduser() if override else cache_root() / "inversion"


def cache_key(image_sha256: str, generator_sha256: str, method: str, settings: dict) -> str:
    # "figures": entries made before the reported distance/mse were measured on the clamped image differ
    text = json.dumps({"image": image_sha256, "generator": generator_sha256, "method": method,
                       "settings": settings, "figures": "clamped"}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class LatentsCache:
    """``get(key)`` -> dict of :data:`FIELDS` or None; ``put(key, entry)``. ``enabled=False``: a no-op."""

    def __init__(self, directory: str | os.PathLike | None = None, enabled: bool = True):
        self.directory, self.enabled = inversion_cache_dir(directory), enabled

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict | None:
        path = self.path(key)
        if not self.enabled or not path.is_file():
            return None
        try:
            with np.load(path) as stored:
                if str(stored["key"]) != key:
                    return None
                entry = {name: stored[name].item() for name in FIELDS if name != "latent"}
                return {**entry, "latent": stored["latent"].copy()}
        except (OSError, ValueError, KeyError):  # a damaged entry is recomputed, then overwritten
            return None

    def put(self, key: str, entry: dict) -> None:
        if not self.enabled:
            return

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, key=key, **{name: np.asarray(entry[name]) for name in FIELDS})
        write_atomic(self.path(key), write)
