"""The model card's quality section: FID and KID of a model directory's exports against kimg.

A model directory (``stylealign export``) keeps ``quality.jsonl``: the records of ``stylealign metrics
--network DIR --card`` (one per metric and evaluation, with the checkpoint's kimg, ADA p and weights
sha256). A later export to the same directory carries the file forward, so the card shows every export's
figures, not only the newest. :func:`refresh_quality` draws them as ``quality.png`` (FID, KID with its std
over subsets, ADA p, against kimg) and writes the table between the card's two markers, with the stopping
rule's verdict (:func:`stopping_rule`) under it.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

from ..atomic import write_atomic, write_bytes_atomic
from ..metrics.errors import MetricsError
from ..metrics.registry import parse_metric
from ..metrics.results import read_records

RECORDS_FILE = "quality.jsonl"
PLOT_FILE = "quality.png"
CARD_FILE = "MODEL_CARD.md"
BEGIN = "<!-- quality: written by `stylealign metrics --card`; edits between the markers are replaced -->"
END = "<!-- /quality -->"
STOP_WINDOW_KIMG, STOP_REL_GAIN, STOP_STDS, STOP_MAX_KIMG = 150.0, 0.05, 2.0, 1500.0
NOT_COMPUTED = "FID/KID: not computed yet (`stylealign metrics --network DIR --data DATA --metrics fid2k,kid2k --card`)."


def quality_rows(records: list[dict]) -> list[dict]:
    """One row per evaluated checkpoint (weights sha256), sorted by kimg: its FID and KID (with std) of the
    most generated images, ADA p, and the counts. The newest record wins where one is repeated."""
    rows: dict[str, dict] = {}
    for record in records:
        try:
            base = parse_metric(record["metric"], num_gen=2).base  # the count is the record's own
        except MetricsError:
            continue  # a metric of another version of the registry: not in the table
        if base not in ("fid", "kid") or record.get("kimg") is None:
            continue
        row = rows.setdefault(record.get("network_sha256") or str(record["kimg"]),
                              {"kimg": float(record["kimg"]), "augment_p": record.get("augment_p")})
        if record.get("num_gen", 0) >= row.get(f"{base}_num_gen", 0):
            row[base], row[f"{base}_num_gen"] = record["value"], record.get("num_gen", 0)
            row["num_real"] = record.get("num_real")
            if base == "kid":
                row["kid_std"], row["kid_subsets"] = record.get("std"), (record.get("subsets"),
                                                                         record.get("subset_size"))
    return sorted(rows.values(), key=lambda r: r["kimg"])


def stopping_rule(rows: list[dict], window_kimg: float = STOP_WINDOW_KIMG, rel_gain: float = STOP_REL_GAIN,
                  stds: float = STOP_STDS, max_kimg: float = STOP_MAX_KIMG) -> dict:
    """The parent's stopping rule on the KID rows of :func:`quality_rows`: stop when KID has not improved by
    more than max(``rel_gain`` x KID, ``stds`` x std) over ``window_kimg``, or at ``max_kimg``.

    A row is a gain when its KID is below the last gain's (the first row is the first 'gain') by more than
    max(rel_gain x that KID, stds x the larger of the two stds). Returns ``met`` (bool), ``reason``, the last
    gain (``best_kimg``, ``best_kid``), the KID a later row must beat (``needed_kid``), the newest row's kimg
    (``last_kimg``) and the kimg at which the rule is decided if no gain comes first (``decided_at``)."""
    kid_rows = [r for r in rows if r.get("kid") is not None]
    if not kid_rows:
        return {"met": False, "reason": "no KID measured yet", "last_kimg": None, "best_kimg": None}
    best = kid_rows[0]

    def needed(ref: dict, row: dict | None = None) -> float:
        std = max(ref.get("kid_std") or 0.0, (row or {}).get("kid_std") or 0.0)
        return ref["kid"] - max(rel_gain * ref["kid"], stds * std)

    for row in kid_rows[1:]:
        if row["kid"] < needed(best, row):
            best = row
    last = kid_rows[-1]["kimg"]
    status = {"best_kimg": best["kimg"], "best_kid": best["kid"], "needed_kid": needed(best),
              "last_kimg": last, "decided_at": min(best["kimg"] + window_kimg, max_kimg)}
    if last >= max_kimg:
        return {**status, "met": True, "reason": f"reached {max_kimg:g} kimg"}
    if last - best["kimg"] >= window_kimg:
        return {**status, "met": True, "reason": f"no KID gain above max({rel_gain:.0%}, {stds:g} std) in the "
                f"{last - best['kimg']:g} kimg since {best['kimg']:g}"}
    return {**status, "met": False, "reason": f"last gain at {best['kimg']:g} kimg; decided at "
            f"{status['decided_at']:g} kimg unless KID goes below {status['needed_kid']:.4f} first"}


def stopping_line(rows: list[dict]) -> str:
    """The card's sentence on the stopping rule (:func:`stopping_rule` on ``rows``)."""
    status = stopping_rule(rows)
    if status["best_kimg"] is None:
        return "Stopping rule: not evaluated (no KID yet)."
    head = (f"Stopping rule (KID gain above max({STOP_REL_GAIN:.0%}, {STOP_STDS:g} std) within "
            f"{STOP_WINDOW_KIMG:g} kimg, or {STOP_MAX_KIMG:g} kimg): ")
    if status["met"]:
        return (head + f"**met** at {status['last_kimg']:g} kimg: {status['reason']} (KID {status['best_kid']:.4f} "
                f"there; a gain needed < {status['needed_kid']:.4f}).")
    return head + f"not met yet: {status['reason']} (KID {status['best_kid']:.4f} at the last gain)."


def _fmt(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def quality_section(rows: list[dict]) -> str:
    """The card's section (markers included): the table and the plot, or a line saying how to fill it."""
    if not rows:
        return "\n".join([BEGIN, NOT_COMPUTED, END])
    counts = sorted({(r.get("fid_num_gen") or r.get("kid_num_gen"), r.get("num_real")) for r in rows})
    subsets = sorted({r["kid_subsets"] for r in rows if r.get("kid_subsets", (None,))[0]})
    lines = [BEGIN, "Quality (G_ema samples at seeds 0..N-1 against the training images; Inception 2015 through "
             "`stylealign_core.metrics`; " + "; ".join(f"{g:,} samples vs {n:,} reals" for g, n in counts if g)
             + "; KID's std over " + (", ".join(f"{k} subsets of {m:,}" for k, m in subsets) or "its subsets")
             + "):", "", "| kimg | fid | kid | kid_std | augment_p |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['kimg']:g} | {_fmt(r.get('fid'), '.1f')} | {_fmt(r.get('kid'), '.4f')} | "
                     f"{_fmt(r.get('kid_std'), '.4f')} | {_fmt(r.get('augment_p'), '.4f')} |")
    lines += ["", stopping_line(rows), "", f"![FID and KID against kimg]({PLOT_FILE})", END]
    return "\n".join(lines)


def plot_quality(rows: list[dict], path: str | os.PathLike, title: str = "") -> Path:
    """FID, KID (error bars: its std) and ADA p against kimg, one panel each; written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3, sharex=True)
    for ax, key in zip(axes, ("fid", "kid", "augment_p")):
        points = [r for r in rows if r.get(key) is not None]
        x, y = [r["kimg"] for r in points], [r[key] for r in points]
        if key == "kid":
            ax.errorbar(x, y, yerr=[r.get("kid_std") or 0.0 for r in points], marker="o", capsize=3)
        else:
            ax.plot(x, y, marker="o")
        ax.set_title({"fid": "FID", "kid": "KID", "augment_p": "ADA p"}[key])
        ax.set_xlabel("kimg")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return write_bytes_atomic(path, buf.getvalue())


def with_section(card: str, section: str) -> str:
    """``card`` with its quality section replaced (between the markers, or the 'not computed' line), or
    appended when it has neither."""
    if BEGIN in card and END in card:
        head, rest = card.split(BEGIN, 1)
        return head + section + rest.split(END, 1)[1]
    for old in (NOT_COMPUTED, "FID/KID: not computed yet."):
        if old in card:
            return card.replace(old, section, 1)
    return card.rstrip("\n") + "\n\n" + section + "\n"


def refresh_quality(model_dir: str | os.PathLike, title: str | None = None) -> list[dict]:
    """Redraw ``quality.png`` and the card's quality section from ``quality.jsonl``; returns the rows.
    ``title``: the plot's (default: the directory's name)."""
    model_dir = Path(model_dir)
    records_path = model_dir / RECORDS_FILE
    rows = quality_rows(read_records(records_path)) if records_path.is_file() else []
    if rows:
        plot_quality(rows, model_dir / PLOT_FILE, title=title or model_dir.name)
    card_path = model_dir / CARD_FILE
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else f"# {model_dir.name}\n"
    new = with_section(card, quality_section(rows))
    write_atomic(card_path, lambda tmp: tmp.write_text(new, encoding="utf-8"))
    return rows
