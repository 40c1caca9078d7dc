"""Whole translate / morph runs that write an output directory (what `stylealign translate` and
`stylealign morph` call). Each output directory is built beside its target and published in one
step (:func:`stylealign_core.atomic.publish_dir`): a reader never sees half of a run.

translate OUT/: ``source/ID.png``, ``translation/ID.png``, ``contact_sheet.png`` ([input |] source |
translation [| ground truth] per item; "source" is the source generator's rendering of the code, i.e. the
reconstruction of an inverted input), ``translations.parquet`` (one row per id) and ``run.json`` (settings, the
sha256 of both checkpoints); with ground truth also ``scores.parquet`` (per item and method),
``summary.parquet`` / ``summary.json`` (means, grouped bootstrap intervals, differences to the
translation).

morph OUT/: ``morph.gif``, ``morph.mp4`` (when an ffmpeg is installed), ``strip.png``, ``run.json``.

morph pairs OUT/ (:func:`run_morph_pairs`): ``<a>-<b>/`` (a morph OUT/ as above) per pair and ``pairs.json``
(a list of ``{a, b, dir, gif, strip, mp4}``, paths relative to OUT, ``mp4`` None without a codec).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import torch
from PIL import Image

from ..atomic import publish_dir
from ..errors import OutputExists
from ..grid import images_to_uint8, make_grid
from . import frames as frame_io
from .aligned import AlignedPair
from .errors import EditError
from .evaluate import images_by_id, load_paired_truth, score_translation
from .inputs import Codes
from .morph import morph_frames
from .translate import source_images, translate


def _check_out(out: Path, overwrite: bool) -> None:
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise OutputExists(f"{out} already exists: pass --overwrite to replace it, or choose another --out")


def _safe_name(item: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", item).lstrip(".") or "_"


def _save_pngs(images: torch.Tensor, ids: list[str], folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for arr, item in zip(images_to_uint8(images), ids):
        name = f"{folder.name}/{_safe_name(item)}.png"
        Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr).save(folder.parent / name)
        names.append(name)
    return names


def contact_sheet(columns: list[torch.Tensor], rows: int, per_row: int = 4) -> Image.Image:
    """Items side by side, ``per_row`` per sheet row, each as its columns (e.g. source | translation | truth);
    at most ``rows`` sheet rows."""
    count = min(rows * per_row, len(columns[0]))
    tiles = torch.stack([c[:count] for c in columns], dim=1).flatten(0, 1)
    grid = make_grid(tiles, ncols=len(columns) * min(per_row, count), pad=2)
    return Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)


def run_translate(pair: AlignedPair, codes: Codes, out: str | os.PathLike, *, truncation_psi: float = 0.5,
                  reverse: bool = False, swap_res: int | None = None, blend: float = 0.0,
                  truth_path=None, inputs_path=None, distance=None, sheet_rows: int = 16, batch: int = 16,
                  n_boot: int = 1000, prefilter: int = 32, overwrite: bool = False, progress: bool = False,
                  settings: dict | None = None) -> dict:
    """Translate ``codes`` and write OUT/ (see the module docstring); returns the run record."""
    out = Path(out)
    _check_out(out, overwrite)
    kw = dict(space=codes.space, truncation_psi=truncation_psi, reverse=reverse, batch=batch, progress=progress)
    sources = source_images(pair, codes.latents, **kw)
    outputs = translate(pair, codes.latents, swap_res=swap_res, blend=blend, **kw)
    record = {"direction": "child -> parent" if reverse else "parent -> child", "space": codes.space,
              "truncation_psi": truncation_psi, "swap_res": swap_res, "blend": blend if swap_res else None,
              "codes": codes.origin, "n_items": len(codes.ids), "parent_sha256": pair.parent_sha256,
              "child_sha256": pair.child_sha256, **(settings or {})}
    scored = None
    if truth_path is not None:
        truth = load_paired_truth(truth_path, codes.ids)
        inputs = images_by_id(inputs_path, codes.ids) if inputs_path is not None else sources
        _, target = pair.roles(reverse)
        table, summary, info = score_translation(outputs, inputs, truth, target, truncation_psi, distance,
                                                 prefilter=prefilter, n_boot=n_boot)
        info["inputs"] = str(inputs_path) if inputs_path is not None else "source generator's rendering of each code"
        record["scoring"] = info
        scored = (table, summary, truth.images, inputs if inputs_path is not None else None)

    def build(tmp: Path) -> None:
        items = pd.DataFrame({"id": codes.ids, "source": _save_pngs(sources, codes.ids, tmp / "source"),
                              "translation": _save_pngs(outputs, codes.ids, tmp / "translation")})
        items.to_parquet(tmp / "translations.parquet", index=False)
        columns = [sources, outputs] + ([scored[2]] if scored else [])
        if scored and scored[3] is not None:  # input | reconstruction (source rendering) | translation | truth
            columns.insert(0, scored[3])
        contact_sheet(columns, sheet_rows).save(tmp / "contact_sheet.png")
        if scored:
            scored[0].to_parquet(tmp / "scores.parquet", index=False)
            scored[1].to_parquet(tmp / "summary.parquet", index=False)
            (tmp / "summary.json").write_text(json.dumps(scored[1].to_dict("records"), indent=2) + "\n")
        (tmp / "run.json").write_text(json.dumps(record, indent=2, default=str) + "\n")

    publish_dir(out, build, overwrite=overwrite)
    if scored:
        record["summary"] = scored[1]
    return record


def run_morph(pair: AlignedPair, latent_a: torch.Tensor, latent_b: torch.Tensor, space: str,
              out: str | os.PathLike, *, frames: int = 32, fps: float = 12.0, scale: int = 4,
              strip_frames: int | None = 9, overwrite: bool = False, progress: bool = False,
              settings: dict | None = None, **morph_kwargs) -> dict:
    """Morph parent(a) -> child(b) and write OUT/ (GIF, MP4 where possible, strip); returns the run record."""
    out = Path(out)
    _check_out(out, overwrite)
    images = morph_frames(pair.parent, pair.child, latent_a, latent_b, space, frames, progress=progress,
                          **morph_kwargs)
    record = {"frames": frames, "fps": fps, "space": space, "parent_sha256": pair.parent_sha256,
              "child_sha256": pair.child_sha256, **{k: v for k, v in morph_kwargs.items() if k != "windows"},
              "windows": {str(k): v for k, v in (morph_kwargs.get("windows") or {}).items()} or "together",
              **(settings or {})}

    def build(tmp: Path) -> None:
        frame_io.save_gif(images, tmp / "morph.gif", fps=fps, scale=scale)
        frame_io.save_strip(images, tmp / "strip.png", count=strip_frames, scale=1)
        mp4 = frame_io.save_mp4(images, tmp / "morph.mp4", fps=fps, scale=scale)
        record["mp4"] = "morph.mp4" if mp4 else frame_io.mp4_unavailable_reason()
        (tmp / "run.json").write_text(json.dumps(record, indent=2, default=str) + "\n")

    publish_dir(out, build, overwrite=overwrite)
    return record


def pick_pairs(ids_a: list[str], ids_b: list[str], count: int, pairing: str = "same") -> list[tuple[str, str]]:
    """``count`` (a, b) pairs from the first ids of ``ids_a``: b is a's own id in ``ids_b`` (``same``) or the
    id after a's in ``ids_a`` (``next``, wrapping around); ids missing from ``ids_b`` are passed over."""
    if pairing not in ("same", "next"):
        raise EditError(f"unknown pairing {pairing!r}: use same or next")
    have_b = set(ids_b)
    pairs = []
    for k, a in enumerate(ids_a):
        b = a if pairing == "same" else ids_a[(k + 1) % len(ids_a)]
        if b in have_b:
            pairs.append((a, b))
        if len(pairs) == count:
            break
    if not pairs:
        raise EditError(f"no morph pair: none of the ids {', '.join(ids_a[:3])}... has a partner ({pairing}) among "
                        f"the {len(ids_b)} ids of the second table")
    return pairs


def run_morph_pairs(pair: AlignedPair, codes_a: Codes, codes_b: Codes, pairs: list[tuple[str, str]],
                    out: str | os.PathLike, **morph_kwargs) -> list[dict]:
    """:func:`run_morph` of code a (``codes_a``, parent domain) -> code b (``codes_b``, child domain) for every
    pair into ``OUT/<a>-<b>/``, plus ``OUT/pairs.json`` (paths relative to OUT); OUT is published in one step.
    Returns the pairs.json entries."""
    out = Path(out)
    if codes_a.space != codes_b.space:
        raise EditError(f"the two tables hold codes of different spaces ({codes_a.space}, {codes_b.space})")
    entries = []

    def build(tmp: Path) -> None:
        for a, b in pairs:
            name = f"{_safe_name(a)}-{_safe_name(b)}"
            record = run_morph(pair, codes_a.select([a]).latents[0], codes_b.select([b]).latents[0], codes_a.space,
                               tmp / name, settings={"a": a, "b": b}, **morph_kwargs)
            entries.append({"a": a, "b": b, "dir": name, "gif": f"{name}/morph.gif", "strip": f"{name}/strip.png",
                            "mp4": f"{name}/morph.mp4" if record["mp4"] == "morph.mp4" else None})
        (tmp / "pairs.json").write_text(json.dumps(entries, indent=2) + "\n")

    publish_dir(out, build)
    return entries
