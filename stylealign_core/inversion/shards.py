"""Shards of an inversion run and their deterministic merge.

Shard ``i/n`` (0 <= i < n) holds the images at positions i, i+n, i+2n, ... of the input listing, so
shards are balanced and each image's shard depends only on its position. A shard run writes
``OUT/shards/shard-IIIII-of-NNNNN.parquet`` atomically (and only when it is complete); :func:`merge_shards`
refuses an incomplete set and sorts the rows by their input position, so merging gives the same table
whatever order the shards finished in, and the same rows as a whole run.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import InversionError
from .table import LatentsTable, concat_tables, read_latents, write_latents

SHARDS_DIR = "shards"
TABLE_NAME = "latents.parquet"
_SHARD_RE = re.compile(r"^shard-(\d{5})-of-(\d{5})\.parquet$")


def parse_shard(text: str) -> tuple[int, int]:
    """'2/8' -> (2, 8); shards are numbered 0 .. n-1."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match or not 0 <= int(match[1]) < int(match[2]):
        raise InversionError(f"bad shard {text!r}", "use I/N with 0 <= I < N, e.g. --shard 0/4")
    return int(match[1]), int(match[2])


def shard_entries(entries: list, shard: tuple[int, int] | None) -> list:
    if shard is None:
        return list(entries)
    index, count = shard
    return list(entries[index::count])


def shard_table_path(out: str | os.PathLike, shard: tuple[int, int] | None) -> Path:
    """Where a run writes its table: ``OUT/latents.parquet``, or its shard file for a shard run."""
    if shard is None:
        return Path(out) / TABLE_NAME
    return Path(out) / SHARDS_DIR / f"shard-{shard[0]:05d}-of-{shard[1]:05d}.parquet"


def finished_shards(out: str | os.PathLike) -> dict[int, dict[int, Path]]:
    """``{n: {i: path}}`` of the complete shard tables under ``OUT/shards``."""
    found: dict[int, dict[int, Path]] = {}
    folder = Path(out) / SHARDS_DIR
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            match = _SHARD_RE.match(path.name)
            if match:
                found.setdefault(int(match[2]), {})[int(match[1])] = path
    return found


def merge_shards(out: str | os.PathLike, write: bool = True) -> tuple[LatentsTable, Path]:
    """Merge the ``n`` shard tables of ``OUT`` into ``OUT/latents.parquet`` (rows in input order)."""
    found = finished_shards(out)
    if not found:
        raise InversionError(f"no shard tables in {Path(out) / SHARDS_DIR}",
                             "run `stylealign invert --shard I/N ...` for every I first")
    if len(found) > 1:
        raise InversionError(f"{out} holds shards of several splits ({sorted(found)} shards)",
                             "keep the shards of one run in one --out directory")
    count, shards = next(iter(found.items()))
    missing = [i for i in range(count) if i not in shards]
    if missing:
        raise InversionError(f"shard(s) {', '.join(map(str, missing[:10]))} of {count} are not finished in {out}",
                             f"run `stylealign invert --shard {missing[0]}/{count} ...` (and the others), then merge")
    merged = concat_tables([read_latents(shards[i]) for i in range(count)], order_by="index")
    target = Path(out) / TABLE_NAME
    if write:
        write_latents(target, merged)
    return merged, target
