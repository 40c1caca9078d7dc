"""Stage `translate`: the parent's latents rendered by the child, scored against the child domain's images.

Thin wrappers around :mod:`stylealign_core.editing` (the calls of ``stylealign translate --latents TABLE
--truth DATA --inputs DATA``): ``translate_scored`` writes the run directory (source/, translation/,
contact_sheet.png, translations.parquet, scores.parquet, summary.parquet/json, run.json); ``write_metrics``
the flat DVC metrics file (:func:`stylealign_core.editing.evaluate.headline_metrics`).
"""
from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from stylealign_core.atomic import write_json_atomic
from stylealign_core.editing import codes_from_table, load_aligned_pair
from stylealign_core.editing.evaluate import headline_metrics, scoring_distance
from stylealign_core.editing.jobs import run_translate
from stylealign_core.editing.translate import default_truncation

from ._common import logger


@task(name="translate.translate_scored", cache_policy=NO_CACHE)
def translate_scored(parent: str, child: str, latents: str, truth: str, inputs: str, out: str,
                     truncation_psi: float | None = None, swap_res: int | None = None, blend: float = 0.0,
                     metric: str = "auto", boot: int = 1000, prefilter: int = 32, sheet_rows: int = 16,
                     batch: int = 16, device: str = "cpu", threads: int | None = None) -> dict:
    """Translate the parent codes of ``latents`` into ``out`` (replaced) and score them; returns the flat
    metrics, the summary rows and the scoring record."""
    if threads:
        import torch
        torch.set_num_threads(threads)
    pair = load_aligned_pair(parent, child, device=device)
    codes = codes_from_table(latents, expect_sha256=pair.parent_sha256)
    psi = default_truncation(codes.space, truncation_psi)
    distance, note = scoring_distance(metric)
    if note:
        logger().warning(note)
    record = run_translate(pair, codes, out, truncation_psi=psi, swap_res=swap_res, blend=blend, truth_path=truth,
                           inputs_path=inputs, distance=distance, sheet_rows=sheet_rows, batch=batch, n_boot=boot,
                           prefilter=prefilter, overwrite=True, settings={"parent": parent, "child": child})
    summary = record.pop("summary")
    metrics = headline_metrics(summary, record["scoring"])
    logger().info("translated %d %s codes (trunc %s) -> %s; %s", len(codes.ids), codes.space, psi, out, metrics)
    rows = [{k: r[k] for k in ("method", "metric", "mean", "ci_low", "ci_high")} for r in summary.to_dict("records")]
    return {"metrics": metrics, "summary": rows, "scoring": record["scoring"], "n_items": len(codes.ids)}


@task(name="translate.write_metrics", cache_policy=NO_CACHE)
def write_metrics(path: str, metrics: dict) -> dict:
    """The DVC metrics file (None where a value was not computed: JSON null)."""
    write_json_atomic(path, metrics)
    return metrics
