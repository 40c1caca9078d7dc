"""The latents table: one row per image, one Parquet file; the reader API of the stages that use codes.

    table = read_latents("runs/invert/latents.parquet")
    table.ids              # list[str]
    table.space            # "z" | "w" | "w+" | "s"
    table.latents          # torch.float32: z [N, z_dim], w [N, w_dim], w+ [N, num_ws, w_dim], s [N, s_dim]
    table.generator_sha256, table.metric
    write_latents("out.parquet", table, extra={"label": [...]})   # atomic

Columns: ``id`` (string), ``space`` (string), ``latent`` (``fixed_size_list<float32>``, the code
flattened in C order; S in StyleLayout order), ``metric``, ``generator_sha256``, and any others
(``distance``, ``mse``, ``loss``, ``steps``, ``method``, ``index``, ...). The code's shape, space,
generator and metric are also in the file's schema metadata (key ``stylealign.latents``), so a reader
rebuilds W+ codes as ``[N, num_ws, w_dim]``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from ..atomic import write_atomic
from ..latents import SPACES
from .errors import InversionError

METADATA_KEY = b"stylealign.latents"
FORMAT_VERSION = 1
_CORE_COLUMNS = ("id", "space", "latent", "metric", "generator_sha256")


@dataclass
class LatentsTable:
    """Codes of a set of images in one space of one generator. ``columns``: the other per-row columns
    (losses, steps, method, ...), each a list of ``len(ids)`` values."""
    ids: list[str]
    space: str
    latents: torch.Tensor
    generator_sha256: str
    metric: str
    columns: dict[str, list] = field(default_factory=dict)

    def __post_init__(self):
        if self.space not in SPACES:
            raise InversionError(f"unknown latent space {self.space!r}", f"use one of {', '.join(SPACES)}")
        if len(self.ids) != len(self.latents):
            raise InversionError(f"{len(self.ids)} ids but {len(self.latents)} latents",
                                 "pass one latent row per id")
        if len(set(self.ids)) != len(self.ids):
            raise InversionError("image ids are not unique", "give every image its own id")

    def __len__(self) -> int:
        return len(self.ids)


def _metadata(table: LatentsTable) -> dict:
    return {"format_version": FORMAT_VERSION, "space": table.space,
            "latent_shape": list(table.latents.shape[1:]), "generator_sha256": table.generator_sha256,
            "metric": table.metric}


def to_arrow(table: LatentsTable, extra: dict | None = None) -> pa.Table:
    """The Arrow form of ``table`` (plus ``extra`` columns), with the schema metadata."""
    n = len(table)
    flat = table.latents.detach().cpu().to(torch.float32).reshape(n, -1).numpy()
    width = flat.shape[1] if n else int(np.prod(table.latents.shape[1:]))
    latent = pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1), pa.float32()), width)
    arrays = {"id": pa.array([str(i) for i in table.ids], pa.string()),
              "space": pa.array([table.space] * n, pa.string()), "latent": latent,
              "metric": pa.array([table.metric] * n, pa.string()),
              "generator_sha256": pa.array([table.generator_sha256] * n, pa.string())}
    for name, values in {**table.columns, **(extra or {})}.items():
        if name in _CORE_COLUMNS:
            raise InversionError(f"extra column {name!r} would replace a core column", "rename it")
        if len(values) != n:
            raise InversionError(f"column {name!r} has {len(values)} values for {n} rows", "one value per row")
        arrays[name] = pa.array(list(values))
    out = pa.table(arrays)
    return out.replace_schema_metadata({METADATA_KEY: json.dumps(_metadata(table)).encode()})


def write_latents(path: str | os.PathLike, table: LatentsTable, extra: dict | None = None) -> Path:
    """Write ``table`` (and ``extra`` columns: name -> one value per row) to ``path`` atomically."""
    arrow = to_arrow(table, extra)
    return write_atomic(path, lambda tmp: pq.write_table(arrow, tmp))


def _one_value(column: list, name: str, path) -> str:
    values = set(column)
    if len(values) > 1:
        raise InversionError(f"{path} mixes several {name} values ({sorted(values)[:3]})",
                             "write one table per space, generator and metric")
    return values.pop()


def from_arrow(arrow: pa.Table, source: object = "table") -> LatentsTable:
    """A :class:`LatentsTable` from an Arrow table written by :func:`to_arrow`."""
    missing = [c for c in _CORE_COLUMNS if c not in arrow.column_names]
    if missing:
        raise InversionError(f"{source} is not a latents table (no column {missing[0]!r})",
                             "pass a table written by `stylealign invert`")
    meta = json.loads((arrow.schema.metadata or {}).get(METADATA_KEY, b"{}"))
    n = arrow.num_rows
    data = {name: arrow.column(name).to_pylist() for name in arrow.column_names if name != "latent"}
    space = _one_value(data["space"], "space", source) if n else meta.get("space", "w")
    latent_col = arrow.column("latent").combine_chunks()
    width = latent_col.type.list_size
    flat = latent_col.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(n, width)
    shape = tuple(meta.get("latent_shape") or [width])
    if int(np.prod(shape)) != width:
        raise InversionError(f"{source}: latent shape {list(shape)} does not fit {width} values",
                             "rewrite the table with write_latents")
    return LatentsTable(
        ids=data["id"], space=space, latents=torch.from_numpy(flat.reshape(n, *shape).copy()),
        generator_sha256=_one_value(data["generator_sha256"], "generator_sha256", source) if n
        else meta.get("generator_sha256", ""),
        metric=_one_value(data["metric"], "metric", source) if n else meta.get("metric", ""),
        columns={k: v for k, v in data.items() if k not in _CORE_COLUMNS})


def read_latents(path: str | os.PathLike) -> LatentsTable:
    """Read a latents table written by :func:`write_latents` (or ``stylealign invert``)."""
    path = Path(path)
    if not path.is_file():
        raise InversionError(f"latents table not found: {path}", "run `stylealign invert` first")
    try:
        arrow = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise InversionError(f"unreadable latents table {path} ({exc})", "run `stylealign invert` again") from None
    return from_arrow(arrow, path)


def concat_tables(tables: list[LatentsTable], order_by: str = "index") -> LatentsTable:
    """One table of several (same space, generator, metric and code shape), rows sorted by the
    ``order_by`` column (then id): the same rows give the same table whatever order they came in."""
    if not tables:
        raise InversionError("no latents tables to merge", "pass at least one table")
    first = tables[0]
    for t in tables[1:]:
        for what in ("space", "generator_sha256", "metric"):
            if getattr(t, what) != getattr(first, what):
                raise InversionError(f"tables differ in {what} ({getattr(first, what)!r} vs {getattr(t, what)!r})",
                                     "merge only shards of one run")
        if t.latents.shape[1:] != first.latents.shape[1:]:
            raise InversionError("tables differ in code shape", "merge only shards of one run")
    names = [set(t.columns) for t in tables]
    common = sorted(set.intersection(*names))
    ids = [i for t in tables for i in t.ids]
    columns = {c: [v for t in tables for v in t.columns[c]] for c in common}
    latents = torch.cat([t.latents for t in tables])
    keys = columns.get(order_by, [0] * len(ids))
    order = sorted(range(len(ids)), key=lambda r: (keys[r], ids[r]))
    return LatentsTable(ids=[ids[r] for r in order], space=first.space, latents=latents[order],
                        generator_sha256=first.generator_sha256, metric=first.metric,
                        columns={c: [v[r] for r in order] for c, v in columns.items()})
