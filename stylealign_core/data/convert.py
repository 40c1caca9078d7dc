"""Decode + square-resize + PNG-encode many images, on several processes, in input order.

Workers are forked (where the OS can fork) so they start in milliseconds without re-importing
torch; they only run Pillow/NumPy code. At most ``2 * workers`` chunks are in flight, so a large
folder is streamed, not held in memory.
"""
from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

from . import images

CHUNK = 32


def default_workers() -> int:
    """``$STYLEALIGN_DATA_WORKERS`` or the number of usable CPU cores (at most 8)."""
    env = os.environ.get("STYLEALIGN_DATA_WORKERS")
    if env:
        return max(1, int(env))
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, min(8, n))


def convert_one(data: bytes | None, error: str | None, resolution: int) -> tuple:
    """``("ok", rgb_png, mask_png or None, (width, height, mode))`` or ``("bad", reason)``."""
    if error is not None:
        return ("bad", error)
    try:
        img = images.open_image(data)
        orig = (img.width, img.height, img.mode)
        rgb, alpha = images.square_resize(*images.to_rgb_alpha(img), resolution)
    except images.BadImage as exc:
        return ("bad", str(exc))
    return ("ok", images.encode_png(rgb), None if alpha is None else images.encode_png(alpha),
            orig)


def _convert_chunk(chunk: list, resolution: int) -> list:
    return [convert_one(data, error, resolution) for data, error in chunk]


def convert_many(items: Iterable[tuple[object, bytes | None, str | None]], resolution: int,
                 workers: int | None = None,
                 total: int | None = None) -> Iterator[tuple[object, tuple]]:
    """Yield ``(key, convert_one(...))`` for each ``(key, bytes, error)`` of ``items``, in order.

    ``total``: number of items when known; up to ``2 * CHUNK`` items are converted in this
    process (starting workers would cost more than it saves).
    """
    workers = default_workers() if workers is None else max(1, int(workers))
    if workers == 1 or (total is not None and total <= 2 * CHUNK):
        for key, data, error in items:
            yield key, convert_one(data, error, resolution)
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    pending: deque = deque()
    it = iter(items)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        while True:
            while len(pending) < 2 * workers:
                chunk = [x for _, x in zip(range(CHUNK), it)]
                if not chunk:
                    break
                keys = [k for k, _, _ in chunk]
                fut = pool.submit(_convert_chunk, [(d, e) for _, d, e in chunk], resolution)
                pending.append((keys, fut))
            if not pending:
                return
            keys, fut = pending.popleft()
            yield from zip(keys, fut.result())
