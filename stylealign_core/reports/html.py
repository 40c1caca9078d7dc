"""The static HTML report (``reports/index.html``): one self-contained page, opened from disk.

Images, GIFs and videos are linked with paths relative to the page (so the page works from ``file://``
and from any copy of the repository with its run outputs); nothing is fetched from the network. A part
whose inputs are missing says "not run" and why. :func:`render_report` returns the HTML text;
:func:`write_report` publishes it atomically.
"""
from __future__ import annotations

import html
import os
from pathlib import Path
from urllib.parse import quote

from .metrics_json import REQUIRED, ReportInputs, get, read_json

CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.not-run{color:#a33;font-style:italic}figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}
figcaption{font-size:.85em;color:#555;max-width:40em}img{image-rendering:pixelated;max-width:100%}
.pixel{width:512px}"""


class Page:
    """Builds the page; ``base`` is the directory the page is written to (links are relative to it)."""

    def __init__(self, base: Path):
        self.base = Path(base).resolve()
        self.parts: list[str] = []

    def add(self, text: str) -> None:
        self.parts.append(text)

    def link(self, path: Path) -> str:
        rel = os.path.relpath(Path(path).resolve(), self.base)
        return quote(rel.replace(os.sep, "/"))

    def heading(self, text: str, level: int = 2) -> None:
        self.add(f"<h{level}>{html.escape(text)}</h{level}>")

    def para(self, text: str) -> None:
        self.add(f"<p>{html.escape(text)}</p>")

    def not_run(self, reason: str) -> None:
        self.add(f'<p class="not-run">not run: {html.escape(reason)}</p>')

    def image(self, path: Path, caption: str, pixel: bool = False) -> bool:
        """An <img> of ``path`` when it exists (else a "not run" line); returns whether it was added."""
        if path is None or not Path(path).is_file():
            self.not_run(f"{caption}: {path} is missing")
            return False
        cls = ' class="pixel"' if pixel else ""
        self.add(f'<figure><a href="{self.link(path)}"><img src="{self.link(path)}"{cls} '
                 f'alt="{html.escape(caption)}"></a><figcaption>{html.escape(caption)}</figcaption></figure>')
        return True

    def table(self, rows: list[dict], columns: list[str] | None = None) -> None:
        if not rows:
            self.not_run("no rows")
            return
        columns = columns or list(dict.fromkeys(k for r in rows for k in r))
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = "".join("<tr>" + "".join(_cell(r.get(c)) for c in columns) + "</tr>" for r in rows)
        self.add(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def html(self, title: str) -> str:
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
                f"<style>{CSS}</style></head><body>\n" + "\n".join(self.parts) + "\n</body></html>\n")


def _cell(value) -> str:
    if value is None:
        return '<td class="not-run">null</td>'
    if isinstance(value, float):
        return f'<td class="num">{value:.4g}</td>'
    if isinstance(value, (int, bool)):
        return f'<td class="num">{value}</td>'
    if isinstance(value, (dict, list)):
        value = ", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else ", ".join(map(str, value))
    return f"<td>{html.escape(str(value))}</td>"


def _headline(page: Page, metrics: dict) -> None:
    page.heading("Headline numbers (reports/metrics.json)")
    rows = []
    for key in REQUIRED:
        value = get(metrics, key)
        rows.append({"key": key, "value": value, "note": "" if value is not None else
                     f"not run: {get(metrics, key + '_reason')}"})
    page.table(rows, ["key", "value", "note"])


def _finetune(page: Page, inputs: ReportInputs, metrics: dict, curves: Path | None) -> None:
    page.heading("Parent and child")
    out = Path(inputs.finetune_out) if inputs.finetune_out else None
    page.image(out / "parent_vs_child.png" if out else None, "parent (top row) vs child (bottom row), same z",
               pixel=True)
    if curves is not None:
        page.image(curves, "training curves of the child (losses, regularisers, ADA, speed against kimg)")
    else:
        page.not_run(f"training curves: no training log in {out}")
    ft = metrics.get("finetune") or {}
    if ft.get("kimg") is None:
        page.not_run(ft.get("kimg_reason", "fine-tuning metrics missing"))
    else:
        page.table([ft])


def _analysis(page: Page, inputs: ReportInputs) -> None:
    out = Path(inputs.analyze_out) if inputs.analyze_out else None
    summary = read_json(out / "summary.json") if out else None
    page.heading("FID and KID")
    if summary is None:
        page.not_run(f"no analysis summary in {out}: the `analyze` stage has not run")
        return
    page.table(summary.get("fid_kid") or [], ["model", "domain", "fid", "kid", "kid_std", "num_gen", "num_real",
                                              "kid_subsets", "kid_subset_size"])
    page.image(out / "fid_kid.png", "FID / KID of the parent and the child against both domains")
    page.heading("Alignment: which weights fine-tuning changed")
    weights = read_json(out / "tables" / "weights_components.json") or []
    page.table(weights, [c for c in ("component", "relative_change", "relative_change_per_lr", "lr_multiplier",
                                     "share_of_relative_change") if any(c in r for r in weights)] or None)
    page.para((summary.get("weights") or {}).get("note", ""))
    page.image(out / "alignment" / "weights.png", "relative weight change per layer, raw and per unit of lr")
    page.heading("Component reset (KID to the child domain, translation quality)")
    resets = summary.get("reset")
    if resets:
        scored = (summary.get("reset_translation") or {}).get("models") or {}
        page.table([{"model": k, **v, **{f"translation_{m}": scored.get(k, {}).get(m) for m in
                                         ("perceptual", "mse", "mask_iou")}} for k, v in resets.items()])
        page.image(out / "reset_kid.png", "KID of the child with one component reset to the parent's")
        if scored:
            info = summary["reset_translation"]["info"]
            page.para(f"translation: {info['n_items']} parent latents ({info['codes']}) rendered at truncation "
                      f"{info['truncation_psi']}, scored against {info['truth']} (perceptual distance: "
                      f"{info['perceptual_metric'] or 'none'})")
        else:
            page.not_run((summary.get("not_run") or {}).get("reset_translation", "translation not scored"))
    else:
        page.not_run((summary.get("not_run") or {}).get("reset", "reset not scored"))
    page.heading("StyleSpace channel alignment")
    style = summary.get("style_alignment") or {}
    page.table([{"layer": k, **v} for k, v in (style.get("per_layer") or {}).items()])
    page.para(style.get("measure", ""))
    page.image(out / "alignment" / "style_alignment.png", "matched vs mismatched channel effect-map correlation")
    _controls(page, out, summary)


def _controls(page: Page, out: Path, summary: dict) -> None:
    page.heading("Shared semantic controls (the parent's top W directions in the child)")
    directions = (read_json(out / "controls" / "summary.json") or {}).get("directions") or []
    page.table([{"direction": f"pca_{i}", **d} for i, d in enumerate(directions)])
    for i in range(len(directions)):
        page.image(out / "controls" / f"pca_{i}.png", f"pca_{i}: each seed's parent row then child row", pixel=True)
        page.image(out / "controls" / f"pca_{i}.gif", f"pca_{i} animated (top: parent, bottom: child)", pixel=True)
    transfer = summary.get("controls_transfer")
    if transfer:
        page.table([{k: v for k, v in transfer.items() if k not in ("settings", "rows")}])
    else:
        page.not_run("transfer score: " + (summary.get("not_run") or {}).get("controls", "not computed"))


def _translation(page: Page, inputs: ReportInputs, metrics: dict) -> None:
    page.heading("Translation (parent-domain image -> child, through the aligned pair)")
    tr = metrics.get("translation") or {}
    if tr.get("lpips") is None:
        page.not_run(tr.get("lpips_reason", "translation metrics missing"))
    else:
        page.table([{k: v for k, v in tr.items() if not k.endswith("_reason")}])
    folder = Path(inputs.translate_out) if inputs.translate_out else None
    sheets = sorted(folder.glob("*.png")) if folder and folder.is_dir() else []
    if not sheets:
        page.not_run(f"no contact sheets in {folder}: the `translate` stage has not run")
    for sheet in sheets[:12]:
        page.image(sheet, sheet.name, pixel=True)


def _morph(page: Page, inputs: ReportInputs) -> None:
    page.heading("Morphing")
    folder = Path(inputs.morph_out) if inputs.morph_out else None
    pairs = read_json(folder / "pairs.json") if folder else None
    if not isinstance(pairs, list) or not pairs:
        page.not_run(f"no {folder}/pairs.json: the `morph` stage has not run")
        return
    page.table([{k: p.get(k) for k in ("a", "b", "dir")} for p in pairs])
    for p in pairs[:8]:
        for key in ("gif", "strip"):
            if p.get(key):
                page.image(_under(folder, p[key]), f"{p.get('a')} -> {p.get('b')} ({key})", pixel=True)
        if p.get("mp4") and _under(folder, p["mp4"]).is_file():
            page.add(f'<p><a href="{page.link(_under(folder, p["mp4"]))}">{html.escape(str(p["mp4"]))}</a></p>')


def _under(folder: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() or p.exists() else folder / p


def _zeroshot(page: Page, metrics: dict) -> None:
    page.heading("Zero-shot label transfer")
    zs = metrics.get("zeroshot") or {}
    rows = [{"task": task, **{k: v for k, v in entry.items() if not k.endswith("_reason")}}
            for task, entry in zs.items() if isinstance(entry, dict)]
    if all(get(metrics, k) is None for k in REQUIRED if k.startswith("zeroshot.")):
        page.not_run(get(metrics, "zeroshot.category.acc_direct_reason") or "zero-shot not computed")
    page.table(rows)


def render_report(inputs: ReportInputs, metrics: dict, out_dir: Path, title: str, curves: Path | None = None,
                  source: str = "") -> str:
    """The page's HTML (links relative to ``out_dir``)."""
    page = Page(out_dir)
    page.heading(title, 1)
    page.para(f"Built from {source}. Every figure states the sample counts it used; a null in metrics.json "
              "comes with the reason it could not be computed in this run.")
    _headline(page, metrics)
    _finetune(page, inputs, metrics, curves)
    _analysis(page, inputs)
    _translation(page, inputs, metrics)
    _morph(page, inputs)
    _zeroshot(page, metrics)
    return page.html(title)


def write_report(path: str | os.PathLike, text: str) -> Path:
    from ..atomic import write_bytes_atomic
    return write_bytes_atomic(path, text.encode("utf-8"))
