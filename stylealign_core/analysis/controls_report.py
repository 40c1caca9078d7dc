"""The parent's top W directions (PCA) shown and measured in the child: strips, GIFs and a table.

    controls_report(parent, child, "reports/controls", count=5)

Writes, published atomically: ``pca_<i>.png`` (rows: each seed in the parent, then in the child; columns:
steps along the direction in units of its std), ``pca_<i>.gif`` (the same as an animation), and
``directions.parquet`` with each direction's share of W's variance and its effect-map alignment between
parent and child (matched vs mismatched directions, see :mod:`.directions`), plus ``summary.json``.
A transfer score against an attribute model is :func:`.controls.control_transfer`.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..atomic import publish_dir, write_json_atomic
from ..errors import OutputExists
from .controls import pca_directions, save_control_strip
from .directions import w_direction_alignment
from .pair import check_aligned
from .style_alignment import EffectSettings


def controls_report(parent, child, out: str | os.PathLike, count: int = 5, pca_samples: int = 2000,
                    seeds=(0, 1, 2, 3), steps=(-3.0, -1.5, 0.0, 1.5, 3.0), settings: EffectSettings = EffectSettings(),
                    overwrite: bool = False, progress: bool | None = None) -> dict:
    """PCA directions of the parent's W, their strips/GIFs in parent and child, and their alignment."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputExists(f"{out} already exists; pass --overwrite to replace it or choose another --out")
    check_aligned(parent, child)
    directions, explained = pca_directions(parent, count, num_samples=pca_samples)
    unit = directions / directions.norm(dim=1, keepdim=True)
    table = w_direction_alignment(parent, child, unit, settings=settings, progress=progress)
    table.insert(1, "explained_variance", explained)
    table.insert(2, "std", directions.norm(dim=1).numpy())
    summary = {"count": count, "pca_samples": pca_samples, "seeds": list(seeds), "steps_in_std": list(steps),
               "effect_settings": settings.as_dict(),
               "matched_mean": float(table["matched_corr"].mean()),
               "mismatched_mean": float(table["mismatched_corr"].mean()),
               "directions": table.drop(columns=["direction"]).to_dict(orient="records")}

    def build(tmp: Path) -> None:
        table.to_parquet(tmp / "directions.parquet", index=False)
        for i, direction in enumerate(directions):
            save_control_strip(parent, child, direction, "w", seeds, steps, tmp / f"pca_{i}.png", tmp / f"pca_{i}.gif")
        write_json_atomic(tmp / "summary.json", summary)

    publish_dir(out, build, overwrite=overwrite)
    return summary
