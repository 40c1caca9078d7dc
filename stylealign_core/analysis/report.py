"""The alignment analysis of a parent/child pair, written as one directory of tables, plots and a summary.

    from stylealign_core.analysis import alignment_report, EffectSettings, KidSettings
    summary = alignment_report(parent, child, "reports/alignment", kid=KidSettings(data="data/tw", num_gen=500))

Files (all Parquet tables have one row per item, in network order):

  weights_tensors.parquet / weights_layers.parquet / weights_components.parquet   relative weight change
  weights.png                       per-layer bars, raw and per unit of learning rate
  style_channels.parquet / style_layers.parquet / style_alignment.png   StyleSpace channel alignment
  w_directions.parquet              W-direction alignment (random unit directions)
  reset_kid.parquet / reset_kid.png KID of the child, the parent and each component reset (with --data)
  summary.json                      the headline numbers, the settings and sample counts behind them

The directory is published atomically (built beside ``out`` and swapped in when complete).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..atomic import publish_dir, write_json_atomic
from ..errors import OutputExists
from . import plots
from .components import RESET_GROUPS, RESETS
from .directions import w_direction_alignment
from .errors import AnalysisError
from .reset import score_resets_kid
from .style_alignment import EffectSettings, layer_alignment, style_channel_alignment
from .weights import component_changes, layer_changes, tensor_changes, weight_change_headline

SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class KidSettings:
    """KID of the component resets against ``data`` (the child domain); counts are recorded with the figures."""
    data: str
    num_gen: int = 500
    max_real: int | None = None
    split: str = "train"
    subsets: int = 100
    subset_size: int = 1000
    seed: int = 0
    cache_dir: str | None = None
    resets: tuple[str, ...] = tuple(RESET_GROUPS)  # which reset generators are scored (the child and parent always)

    def __post_init__(self):
        unknown = [g for g in self.resets if g not in RESETS]
        if unknown or not self.resets:
            raise AnalysisError(f"unknown or no reset component(s) {unknown}; choose from {', '.join(RESETS)}")
        if self.num_gen < 2:
            raise AnalysisError(f"KID needs at least 2 generated images per model, got {self.num_gen}")


def _finite(value):
    return float(value) if value is not None and np.isfinite(value) else None


def _style_summary(layers, directions, settings: EffectSettings) -> dict:
    return {
        "settings": settings.as_dict(),
        "per_layer": {row.layer: {"matched": _finite(row.matched_mean), "mismatched": _finite(row.mismatched_mean),
                                  "margin": _finite(row.margin), "channels": int(row.channels)}
                      for row in layers.itertuples()},
        "matched_mean": _finite(layers["matched_mean"].mean()),
        "mismatched_mean": _finite(layers["mismatched_mean"].mean()),
        "raw_s_corr_mean": _finite(layers["raw_s_corr_mean"].mean()),
        "w_directions": {"count": len(directions), "matched_mean": _finite(directions["matched_corr"].mean()),
                         "mismatched_mean": _finite(directions["mismatched_corr"].mean())},
        "measure": "Pearson correlation of parent's and child's effect maps (image change for s_c + k std), "
                   "mismatched channels of the same layer as the baseline",
    }


def _reset_summary(records: list[dict]) -> dict:
    out = {}
    for r in records:
        key = r["model"].removeprefix("reset_")
        out[key] = {"kid": r["value"], "kid_std": r["std"], "num_gen": r["num_gen"], "num_real": r["num_real"],
                    "subsets": r["subsets"], "subset_size": r["subset_size"], "seed": r["seed"]}
    return out


def _write_tables(tmp: Path, tables: dict) -> None:
    for name, frame in tables.items():
        frame.to_parquet(tmp / f"{name}.parquet", index=False)


def alignment_report(parent, child, out: str | os.PathLike, settings: EffectSettings = EffectSettings(),
                     kid: KidSettings | None = None, overwrite: bool = False, progress: bool | None = None,
                     sources: dict | None = None) -> dict:
    """Compute every alignment statistic of (parent, child) and publish them to ``out``; returns the summary.
    ``sources``: what the networks were loaded from (recorded in the summary)."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputExists(f"{out} already exists; pass --overwrite to replace it or choose another --out")
    tensors = tensor_changes(parent, child)
    layers, components = layer_changes(tensors), component_changes(tensors)
    channels = style_channel_alignment(parent, child, settings, progress=progress)
    style_layers = layer_alignment(channels)
    directions = w_direction_alignment(parent, child, settings=settings, progress=progress)
    records = None
    if kid is not None:
        records = score_resets_kid(parent, child, kid.data, num_gen=kid.num_gen, max_real=kid.max_real,
                                   split=kid.split, kid_subsets=kid.subsets, kid_subset_size=kid.subset_size,
                                   kid_seed=kid.seed, groups=kid.resets, cache_dir=kid.cache_dir,
                                   progress=progress)
    summary = {"sources": sources or {}, "weights": weight_change_headline(components),
               "style_alignment": _style_summary(style_layers, directions, settings),
               "reset": _reset_summary(records) if records else None,
               "kid_settings": asdict(kid) if kid else None}

    def build(tmp: Path) -> None:
        import pandas as pd
        tables = {"weights_tensors": tensors, "weights_layers": layers, "weights_components": components,
                  "style_channels": channels, "style_layers": style_layers, "w_directions": directions}
        if records:
            tables["reset_kid"] = pd.DataFrame(records)
        _write_tables(tmp, tables)
        plots.plot_weight_changes(layers, tmp / "weights.png")
        plots.plot_alignment(style_layers, tmp / "style_alignment.png", settings.as_dict())
        if records:
            plots.plot_reset_kid(records, tmp / "reset_kid.png")
        write_json_atomic(tmp / SUMMARY_FILE, summary)

    publish_dir(out, build, overwrite=overwrite)
    return summary
