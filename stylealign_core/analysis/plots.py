"""PNG figures of the alignment statistics (matplotlib object API on the Agg canvas, written atomically).

Every figure carries the sample counts and settings it was computed with in its title or a footnote.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import write_bytes_atomic
from .components import ANALYSIS_COMPONENTS

COLORS = dict(zip(ANALYSIS_COMPONENTS, ("tab:blue", "tab:orange", "tab:red", "tab:green", "tab:gray", "tab:purple")))


def _figure(size):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=size, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return write_bytes_atomic(path, buf.getvalue())


def _positive(values) -> np.ndarray:
    values = np.asarray(values, float)
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def plot_weight_changes(layers: pd.DataFrame, path: str | os.PathLike, title: str = "") -> Path:
    """Bars of the per-layer relative change (top) and per unit of learning rate (bottom), coloured by
    component, in network order; log scale."""
    fig = _figure((max(8.0, 0.22 * len(layers) + 2), 7.5))
    axes = fig.subplots(2, 1, sharex=True)
    x = np.arange(len(layers))
    colors = [COLORS.get(c, "black") for c in layers["component"]]
    for ax, column, label in ((axes[0], "relative_change", "||child - parent|| / ||parent||"),
                              (axes[1], "relative_change_per_lr", "relative change / lr multiplier")):
        values = _positive(layers[column])
        ax.bar(x, np.nan_to_num(values, nan=0.0), color=colors)
        if np.isfinite(values).any():
            ax.set_yscale("log")
        ax.set_ylabel(label, fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
    for component in ANALYSIS_COMPONENTS:
        if (layers["component"] == component).any():
            axes[0].bar([0], [0], color=COLORS[component], label=component)
    axes[0].legend(fontsize=8, ncol=6, loc="upper right")
    labels = [f"{layer} ({c})" if c in ("affine", "noise") else layer
              for layer, c in zip(layers["layer"], layers["component"])]
    axes[1].set_xticks(x, labels, rotation=90, fontsize=7)
    axes[0].set_title(title or "relative weight change, parent -> child", fontsize=10)
    axes[1].set_title("per unit of learning rate: the mapping network learns at lr multiplier 0.01, so its raw "
                      "change (top) is ~100x smaller by construction", fontsize=8)
    return _save(fig, path)


def plot_alignment(layers: pd.DataFrame, path: str | os.PathLike, settings: dict, title: str = "") -> Path:
    """Matched vs mismatched effect-map correlation per style layer (mean +- std over the sampled
    channels), with the raw S correlation (~1 by construction) for contrast."""
    fig = _figure((max(7.0, 0.5 * len(layers) + 2), 4.8))
    ax = fig.subplots()
    x = np.arange(len(layers))
    ax.errorbar(x - 0.1, layers["matched_mean"], yerr=layers["matched_std"], fmt="o", color="tab:red",
                label="matched channel (parent c vs child c)")
    ax.errorbar(x + 0.1, layers["mismatched_mean"], yerr=layers["mismatched_std"], fmt="s", color="tab:gray",
                label="mismatched channels (baseline)")
    if "raw_s_corr_mean" in layers:
        ax.plot(x, layers["raw_s_corr_mean"], "x", color="tab:blue", label="raw S value correlation (not the measure)")
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xticks(x, layers["layer"], rotation=60, fontsize=8)
    ax.set_ylabel("correlation of effect maps")
    ax.set_ylim(-1.05, 1.05)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(title or "StyleSpace channel alignment", fontsize=10)
    fig.text(0.01, 0.005, _settings_line(settings), fontsize=7, color="dimgray")
    return _save(fig, path)


def plot_reset_kid(records: list[dict], path: str | os.PathLike, title: str = "") -> Path:
    """KID (+- std over subsets) to the child domain of the child, the parent and each reset."""
    fig = _figure((7.0, 4.2))
    ax = fig.subplots()
    names = [r["model"] for r in records]
    values = [r["value"] for r in records]
    stds = [r["std"] or 0.0 for r in records]
    ax.bar(np.arange(len(names)), values, yerr=stds, capsize=4,
           color=["tab:green" if n == "child" else "tab:blue" if n == "parent" else "tab:orange" for n in names])
    ax.set_xticks(np.arange(len(names)), names, rotation=20, fontsize=8)
    ax.set_ylabel("KID to the child domain")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title(title or "component reset", fontsize=10)
    first = records[0]
    fig.text(0.01, 0.005, f"KID: {first['num_gen']} generated vs {first['num_real']} real images, "
                          f"{first['subsets']} subsets of {first['subset_size']}, seed {first['seed']}",
             fontsize=7, color="dimgray")
    return _save(fig, path)


def _settings_line(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items())


def plot_domain_metrics(rows: list[dict], path: str | os.PathLike, title: str = "") -> Path:
    """FID (left) and KID +- std (right) of each model against each domain (rows of
    :func:`.domain_metrics.metrics_table`), grouped by domain, with the counts as a footnote."""
    fig = _figure((8.0, 3.8))
    axes = fig.subplots(1, 2)
    domains = list(dict.fromkeys(r["domain"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    width = 0.8 / max(1, len(models))
    for ax, key in zip(axes, ("fid", "kid")):
        for j, model in enumerate(models):
            got = {r["domain"]: r for r in rows if r["model"] == model}
            values = [np.nan if got.get(d, {}).get(key) is None else got[d][key] for d in domains]
            errs = [got.get(d, {}).get("kid_std") or 0.0 for d in domains] if key == "kid" else None
            ax.bar(np.arange(len(domains)) + j * width, values, width, yerr=errs, capsize=3, label=model)
        ax.set_xticks(np.arange(len(domains)) + width * (len(models) - 1) / 2, [f"to {d} data" for d in domains])
        ax.set_ylabel(key.upper())
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title or "FID / KID of each model against each domain", fontsize=10)
    first = rows[0]
    fig.text(0.01, 0.005, f"{first['num_gen']} generated vs {first['num_real']} real images per figure; KID "
                          f"{first.get('kid_subsets')} subsets of <= {first.get('kid_subset_size')}, "
                          f"seed {first.get('kid_seed')}", fontsize=7, color="dimgray")
    return _save(fig, path)
