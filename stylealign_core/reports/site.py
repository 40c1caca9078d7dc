"""The whole report directory in one call (the pipeline's ``report`` stage; no Prefect/DVC here).

    build_report(ReportInputs(...), "reports", title="...")

writes, each file atomically:

  metrics.json              :mod:`.metrics_json` (DVC metrics)
  plots/training.csv        kimg and losses of the child's training log      (DVC plots)
  plots/fid_kid.csv         FID/KID per model and domain
  plots/weights.csv         relative weight change per component (raw and per unit of lr)
  plots/style_alignment.csv matched vs mismatched effect-map correlation per style layer
  plots/reset_kid.csv       KID of each component reset
  assets/training_curves.png  the child's training curves
  index.html                :mod:`.html` (links relative to the directory)

Every CSV is written even when its source is missing (then with its header only), so the set of DVC
outputs does not depend on which stages ran.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from ..atomic import publish_dir, write_bytes_atomic
from .html import render_report, write_report
from .metrics_json import ReportInputs, build_metrics, read_json, write_metrics

PLOTS = {
    "training.csv": ("kimg", "loss_G", "loss_D", "augment_p", "images_per_s"),
    "fid_kid.csv": ("name", "model", "domain", "fid", "kid", "kid_std", "num_gen", "num_real"),
    "weights.csv": ("component", "relative_change", "relative_change_per_lr"),
    "style_alignment.csv": ("layer", "matched", "mismatched", "margin"),
    "reset_kid.csv": ("model", "kid", "kid_std", "num_gen"),
}


def _csv(columns, rows) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _training_rows(log: Path | None) -> list[dict]:
    if log is None or not log.is_file():
        return []
    import pandas as pd
    frame = pd.read_parquet(log)
    cols = [c for c in PLOTS["training.csv"] if c in frame.columns]
    return frame[cols].to_dict(orient="records")


def plot_rows(inputs: ReportInputs) -> dict[str, list[dict]]:
    """``{csv name: rows}`` of the plot data the inputs hold (empty lists where they hold none)."""
    out = Path(inputs.analyze_out) if inputs.analyze_out else None
    summary = (read_json(out / "summary.json") if out else None) or {}
    fid_kid = [{"name": f"{r['model']} vs {r['domain']} data", **r} for r in summary.get("fid_kid") or []]
    weights = (read_json(out / "tables" / "weights_components.json") if out else None) or []
    layers = (summary.get("style_alignment") or {}).get("per_layer") or {}
    style = [{"layer": k, **v} for k, v in layers.items()]
    resets = [{"model": k, **v} for k, v in (summary.get("reset") or {}).items()]
    log = Path(inputs.finetune_out) / "log.parquet" if inputs.finetune_out else None
    return {"training.csv": _training_rows(log), "fid_kid.csv": fid_kid, "weights.csv": weights,
            "style_alignment.csv": style, "reset_kid.csv": resets}


def build_report(inputs: ReportInputs, out: str | os.PathLike, title: str, source: str = "") -> dict:
    """Write the report directory ``out`` (see the module doc); returns the metrics document."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    metrics = build_metrics(inputs)
    rows = plot_rows(inputs)

    def plots(tmp: Path) -> None:
        for name, columns in PLOTS.items():
            (tmp / name).write_bytes(_csv(columns, rows[name]))

    publish_dir(out / "plots", plots)
    curves = None
    if rows["training.csv"]:
        from .training_curves import plot_training_log

        def assets(tmp: Path) -> None:
            plot_training_log(Path(inputs.finetune_out) / "log.parquet", tmp / "training_curves.png",
                              title="the child's fine-tuning")
        publish_dir(out / "assets", assets)
        curves = out / "assets" / "training_curves.png"
    else:
        publish_dir(out / "assets", lambda tmp: write_bytes_atomic(tmp / "README.txt", b"no training log found\n"))
    write_metrics(out / "metrics.json", metrics)
    write_report(out / "index.html", render_report(inputs, metrics, out, title, curves=curves, source=source))
    return metrics
