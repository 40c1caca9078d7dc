"""Metric results as JSON lines: one record per metric and evaluation, appended (as stylegan2-ada-pytorch
appends ``metric-<name>.jsonl``); the file is rewritten atomically so a reader never sees half a line."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..atomic import write_atomic

# Keys of a record (evaluate.evaluate_metrics); "seed" is the KID subset seed, "gen_seeds" the
# generator seeds (first-last), "gen_data_sha256" appears instead when a second image set is compared;
# `stylealign metrics --card` adds the checkpoint's "augment_p" (and fills "kimg").
RECORD_KEYS = ("metric", "value", "std", "num_real", "num_gen", "detector", "detector_sha256", "resize",
               "seed", "subsets", "subset_size", "gen_seeds", "network_sha256", "network", "kimg",
               "data", "data_sha256", "split", "truncation_psi", "noise_mode", "timestamp")


def append_records(path: str | os.PathLike, records: list[dict]) -> Path:
    """Append ``records`` (one JSON object per line) to ``path``."""
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    new = "".join(json.dumps(r, sort_keys=False, default=str) + "\n" for r in records)
    return write_atomic(path, lambda tmp: tmp.write_text(old + new, encoding="utf-8"))


def read_records(path: str | os.PathLike) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def format_record(record: dict) -> str:
    """One line for a terminal: the figure, its std and the counts it used."""
    std = f" +- {record['std']:.6g}" if record.get("std") is not None else ""
    return (f"{record['metric']}: {record['value']:.6g}{std} (real {record['num_real']}, "
            f"generated {record['num_gen']}"
            + (f", {record['subsets']} subsets of {record['subset_size']}, seed {record['seed']}"
               if record.get("subsets") else "") + ")")
