"""Training curves: the Parquet training log of a run drawn as one PNG (losses, regularisers, ADA, speed).

``plot_training_log(log, path)`` takes the log as a ``log.parquet`` path, a DataFrame or the list of row
dicts the training loop keeps, and writes a 2x2 figure against kimg:

* losses: ``loss_G`` and ``loss_D`` (the non-saturating logistic losses);
* regularisers: ``loss_r1`` (R1 penalty) and ``loss_pl`` (path-length penalty), log scale;
* ADA: the augmentation probability ``augment_p`` and the overfitting heuristic ``ada_rt`` against its
  target (dashed) when given (a run without ADA logs ``ada_rt`` as NaN: no r_t line, no target);
* throughput: ``images_per_s``.

Where the log records legs (``leg`` and ``leg_start_kimg``: each process start or resume begins a leg), every
panel marks where a leg began, after the start of training, with a dotted vertical line.

A panel whose columns the log lacks says so instead of failing (a run without ADA has no ``augment_p``).
The PNG is written atomically. Uses matplotlib's object API with the Agg canvas, so it never touches the
global pyplot state or needs a display.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputMismatch
from ..atomic import write_bytes_atomic

PANELS = (  # (title, columns, log-scale y)
    ("losses", ("loss_G", "loss_D"), False),
    ("regularisers", ("loss_r1", "loss_pl"), True),
    ("ADA", ("augment_p", "ada_rt"), False),
    ("throughput (images/s)", ("images_per_s",), False),
)


def _as_frame(log) -> pd.DataFrame:
    if isinstance(log, pd.DataFrame):
        frame = log
    elif isinstance(log, (str, os.PathLike)):
        path = Path(log)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no training log here; a run writes log.parquet at its first snapshot")
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # truncated or not Parquet
            raise InputMismatch(f"{path}: not a readable Parquet training log ({type(exc).__name__}: {exc}); "
                             "pass the log.parquet of a `stylealign train|finetune` run") from exc
    else:
        frame = pd.DataFrame(list(log))
    if frame.empty or "kimg" not in frame.columns:
        name = log if isinstance(log, (str, os.PathLike)) else "the training log"
        raise InputMismatch(f"{name}: no rows with a 'kimg' column yet; a run writes its first row at its first "
                         "tick (4 kimg or the snapshot interval, whichever is shorter)")
    return frame.sort_values("kimg")


def leg_starts(frame: pd.DataFrame) -> list[float]:
    """kimg at which each leg (process start or resume) after the start of training began, in order."""
    if "leg_start_kimg" not in frame.columns:
        return []
    starts = frame["leg_start_kimg"].dropna().to_numpy(float)
    return sorted({float(k) for k in starts if k > 0})


def plot_training_log(log, path: str | os.PathLike, title: str | None = None,
                      ada_target: float | None = None) -> Path:
    """Draw the training log ``log`` (path, DataFrame or row dicts) as a PNG at ``path``; returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    frame = _as_frame(log)
    kimg = frame["kimg"].to_numpy(float)
    fig = Figure(figsize=(10, 6.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2, sharex=True).ravel()
    legs = leg_starts(frame)
    for ax, (panel, columns, log_y) in zip(axes, PANELS):
        for i, start in enumerate(legs):
            ax.axvline(start, color="tab:purple", ls=":", lw=1, alpha=0.7, label="resumed" if i == 0 else None)
        present = [c for c in columns if c in frame.columns and frame[c].notna().any()]
        ax.set_title(panel, fontsize=10)
        ax.grid(True, alpha=0.3)
        if not present:
            ax.text(0.5, 0.5, "not in this log", ha="center", va="center", transform=ax.transAxes, color="gray")
            continue
        for column in present:
            values = frame[column].to_numpy(float)
            if log_y:
                values = np.where(values > 0, values, np.nan)
            ax.plot(kimg, values, lw=1.2, label=column)
        if panel == "ADA" and ada_target is not None and "ada_rt" in present:
            ax.axhline(ada_target, color="gray", ls="--", lw=1, label=f"r_t target {ada_target:g}")
        if log_y and np.isfinite(frame[present].to_numpy(float)).any():
            ax.set_yscale("log")
        ax.legend(fontsize=8, loc="best")
    for ax in axes[2:]:
        ax.set_xlabel("kimg")
    fig.suptitle(title or f"training log, {kimg[-1]:g} kimg", fontsize=11)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return write_bytes_atomic(path, buf.getvalue())
