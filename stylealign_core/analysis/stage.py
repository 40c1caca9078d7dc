"""The pipeline's ``analyze`` stage as one function of paths and settings (no Prefect/DVC here).

    summary = run_analysis("models/parent-resolved/network.json", "runs/child/network-final.json",
                           {"parent": "data/emoji-google-64", "child": "data/emoji-twitter-64"},
                           "runs/analyze", AnalyzeParams())

Publishes ``out`` atomically:

  alignment/            :func:`.report.alignment_report` (weight change, StyleSpace/W alignment; Parquet + PNG)
  tables/*.json         every alignment table as JSON records
  fid_kid.json / .png   FID and KID of the parent and the child against both domains (records + table)
  reset_kid.json / .png KID to the child domain of the child, the parent and each component reset
  reset_translation.json  translation quality of the same models: the invert stage's parent latents rendered
                        at the translate section's truncation, scored against the child-domain images of the
                        same ids (needs that table; else summary.json's not_run says why)
  controls/             the parent's top W (PCA) directions in parent and child: strips (PNG), GIFs, alignment
  controls_transfer.json  opt-in: transfer score of those directions vs random ones (child skin-tone model)
  zeroshot/             opt-in: zero-shot label transfer models and results (route a: the child test images
                        inverted into the child with the invert section's projector, rendered by the parent)
  summary.json          the headline numbers, every count behind them, and why a part did not run
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..atomic import publish_dir, write_json_atomic
from ..params_analysis import AnalyzeParams
from ..params_edit import InvertParams, TranslateParams
from . import plots
from .controls import ControlSettings, pca_directions
from .controls_report import controls_report
from .domain_metrics import domain_metrics, metrics_table, reset_kid
from .pair import load_pair_and_sha256
from .report import alignment_report
from .style_alignment import EffectSettings

SUMMARY_FILE = "summary.json"
OPT_IN = "opt-in, not enabled in params.yaml (analyze.{}.enabled: true runs it)"
NO_LATENTS = ("the parent latents table {} is missing: run the `invert` stage (stylealign pipeline run --stage "
              "invert), then `analyze` again, to score the component resets by translation quality")


def effect_settings(cfg: AnalyzeParams) -> EffectSettings:
    a = cfg.alignment
    return EffectSettings(num_latents=a.latents, channels_per_layer=a.channels, step_std=a.step_std,
                          std_samples=a.std_samples, seed_start=a.seed_start, truncation_psi=a.truncation_psi,
                          channel_seed=a.channel_seed, pool=a.pool, batch=a.batch)


def metric_options(cfg: AnalyzeParams, progress=None):
    from ..metrics import MetricOptions
    f = cfg.fid_kid
    return MetricOptions(max_real=f.num_real, batch_size=f.batch, kid_subsets=f.kid_subsets,
                         kid_subset_size=f.kid_subset_size, kid_seed=f.kid_seed, truncation_psi=f.truncation_psi,
                         progress=progress)


def _tables_as_json(alignment_dir: Path, tables_dir: Path) -> list[str]:
    import pandas as pd
    tables_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for parquet in sorted(alignment_dir.glob("*.parquet")):
        records = json.loads(pd.read_parquet(parquet).to_json(orient="records"))  # NaN -> null
        write_json_atomic(tables_dir / f"{parquet.stem}.json", records, sort_keys=False)
        names.append(f"tables/{parquet.stem}.json")
    return names


def _metrics_part(tmp: Path, parent, child, domains: dict, cfg: AnalyzeParams, progress, timings: dict) -> dict:
    from ..metrics import load_detector
    t0 = time.perf_counter()
    detector, options, reals, features = load_detector(), metric_options(cfg, progress), {}, {}
    records = domain_metrics({"parent": parent, "child": child}, domains, num_gen=cfg.fid_kid.num_gen,
                             split=cfg.fid_kid.split, options=options, detector=detector, reals=reals,
                             features=features, fid=cfg.fid_kid.fid)
    table = metrics_table(records)
    write_json_atomic(tmp / "fid_kid.json", {"table": table, "records": records}, sort_keys=False)
    plots.plot_domain_metrics(table, tmp / "fid_kid.png")
    timings["fid_kid_s"] = round(time.perf_counter() - t0, 1)
    part = {"fid_kid": table, "reset": None, "fid_computed": cfg.fid_kid.fid}
    if cfg.reset.enabled:
        t0 = time.perf_counter()
        resets = reset_kid(parent, child, reals["child"], num_gen=cfg.reset.num_gen, options=options,
                           detector=detector, groups=tuple(cfg.reset.components), features=features)
        write_json_atomic(tmp / "reset_kid.json", resets, sort_keys=False)
        plots.plot_reset_kid(resets, tmp / "reset_kid.png")
        part["reset"] = {r["model"].removeprefix("reset_"): {
            "kid": r["value"], "kid_std": r["std"], "num_gen": r["num_gen"], "num_real": r["num_real"],
            "subsets": r["subsets"], "subset_size": r["subset_size"], "seed": r["seed"]} for r in resets}
        timings["reset_kid_s"] = round(time.perf_counter() - t0, 1)
    return part


def _reset_translation_part(tmp: Path, pair: tuple, child_data, cfg: AnalyzeParams, translate: TranslateParams,
                            parent_latents, timings: dict) -> tuple[dict | None, str | None]:
    """(summary entry, None) of the resets scored by translation quality, or (None, why it did not run).
    ``pair``: (parent, child, {"parent": sha256, ...}); ``parent_latents``: the invert stage's parent table."""
    if not cfg.reset.enabled:
        return None, None
    if parent_latents is None or not Path(parent_latents).is_file():
        return None, NO_LATENTS.format(parent_latents or "(none given)")
    from ..editing import codes_from_table
    from ..editing.evaluate import scoring_distance
    from .reset_translation import reset_translation
    t0 = time.perf_counter()
    parent, child, shas = pair
    codes = codes_from_table(parent_latents, expect_sha256=shas["parent"])
    distance, note = scoring_distance(translate.metric)
    result = reset_translation(parent, child, codes, child_data, truncation_psi=translate.truncation_psi,
                               distance=distance, groups=tuple(cfg.reset.components), batch=translate.batch,
                               n_boot=translate.boot)
    info = {**result["info"], "note": note}
    write_json_atomic(tmp / "reset_translation.json", {"models": result["models"], "info": info,
                                                       "summary": result["summary"].to_dict("records")},
                      sort_keys=False)
    timings["reset_translation_s"] = round(time.perf_counter() - t0, 1)
    return {"models": result["models"], "info": info}, None


def _controls_part(tmp: Path, parent, child, domains: dict, cfg: AnalyzeParams, progress, timings: dict) -> dict:
    c = cfg.controls
    t0 = time.perf_counter()
    summary = controls_report(parent, child, tmp / "controls", count=c.count, pca_samples=c.pca_samples,
                              seeds=tuple(range(c.strip_seeds)), steps=tuple(c.steps), settings=effect_settings(cfg),
                              progress=progress)
    timings["controls_s"] = round(time.perf_counter() - t0, 1)
    part = {"controls": {k: summary[k] for k in ("count", "pca_samples", "matched_mean", "mismatched_mean")},
            "controls_transfer": None}
    if c.enabled:
        from .optin import pca_transfer
        from .zeroshot import TrainSettings
        t0 = time.perf_counter()
        directions, _ = pca_directions(parent, c.count, num_samples=c.pca_samples)
        settings = ControlSettings(num_latents=c.num_latents, steps=tuple(c.steps), num_random=c.num_random)
        result = pca_transfer(parent, child, directions, domains["child"], tmp / "controls-models",
                              settings=settings, train=TrainSettings(epochs=c.train_epochs), progress=progress)
        write_json_atomic(tmp / "controls_transfer.json", result, sort_keys=False)
        part["controls_transfer"] = {k: v for k, v in result.items() if k != "rows"}
        timings["controls_transfer_s"] = round(time.perf_counter() - t0, 1)
    return part


def _zeroshot_part(tmp: Path, pair: tuple, domains: dict, cfg: AnalyzeParams, invert: InvertParams, progress,
                   timings: dict) -> dict | None:
    """``pair``: (parent, child, {"parent": sha256, "child": sha256}); route a (``zeroshot.translated``) inverts
    with the ``invert`` section's projector as overridden by ``zeroshot.invert``."""
    z = cfg.zeroshot
    if not z.enabled:
        return None
    from .optin import zeroshot_run
    from .zeroshot import BootstrapSettings, TrainSettings
    t0 = time.perf_counter()
    to_parent = None
    if z.translated:
        from .zeroshot.translate_route import route_a
        parent, child, shas = pair
        to_parent = route_a(parent, child, shas["child"], z.route_a_invert(invert), progress=bool(progress))
    result = zeroshot_run(domains["parent"], domains["child"], tmp / "zeroshot",
                          train=TrainSettings(epochs=z.epochs, seed=z.seed),
                          boot=BootstrapSettings(resamples=z.resamples, seed=z.seed), to_parent=to_parent,
                          progress=progress)
    timings["zeroshot_s"] = round(time.perf_counter() - t0, 1)
    if to_parent is not None:
        timings["zeroshot_translated_s"] = result["translated"]["seconds"]
    return result


def not_run(cfg: AnalyzeParams) -> dict:
    """``{part: why it did not run}`` (metrics.json's ``_reason`` of the keys a part would have filled)."""
    reasons = {name: OPT_IN.format(name) for name, on in (
        ("reset", cfg.reset.enabled), ("controls", cfg.controls.enabled), ("zeroshot", cfg.zeroshot.enabled))
        if not on}
    if cfg.zeroshot.enabled and not cfg.zeroshot.translated:
        reasons["zeroshot.translated"] = ("the translated route (route a) is off in params.yaml "
                                          "(analyze.zeroshot.translated: true runs it)")
    return reasons


def run_analysis(parent_path: str | os.PathLike, child_path: str | os.PathLike, domains: dict,
                 out: str | os.PathLike, cfg: AnalyzeParams = AnalyzeParams(), progress: bool | None = None,
                 say=None, invert: InvertParams = InvertParams(), translate: TranslateParams = TranslateParams(),
                 parent_latents: str | os.PathLike | None = None) -> dict:
    """Every analysis of the (parent, child) pair into ``out`` (published atomically); returns the summary.
    ``domains``: ``{"parent": parent-domain data set, "child": child-domain data set}``. ``say``: called with
    a line as each part finishes (the pipeline's progress where no terminal shows the bars). ``invert``: the
    ``invert`` section, the projector of the zero-shot route a (the invert stage's, so they share the cache).
    ``parent_latents`` (the invert stage's parent table) and ``translate`` (its truncation, metric, batch and
    bootstrap) score the component resets by translation quality; without the table, not_run says why."""
    cfg = cfg.effective()
    parent, child, shas = load_pair_and_sha256(parent_path, child_path)
    timings: dict = {}

    def part_done(name: str, key: str) -> None:
        if say is not None and key in timings:
            say(f"analyze: {name} done in {timings[key]:.0f} s")

    def build(tmp: Path) -> dict:
        t0 = time.perf_counter()
        settings = effect_settings(cfg)
        aligned = alignment_report(parent, child, tmp / "alignment", settings=settings, progress=progress,
                                   sources={"parent": str(parent_path), "child": str(child_path)})
        timings["alignment_s"] = round(time.perf_counter() - t0, 1)
        part_done("weight change and StyleSpace alignment", "alignment_s")
        tables = _tables_as_json(tmp / "alignment", tmp / "tables")
        summary = {"sources": {"parent": str(parent_path), "child": str(child_path),
                               "parent_data": str(domains["parent"]), "child_data": str(domains["child"])},
                   "settings": cfg.model_dump(mode="json"), "full": cfg.full,
                   "weights": aligned["weights"], "style_alignment": aligned["style_alignment"], "tables": tables}
        summary.update(_metrics_part(tmp, parent, child, domains, cfg, progress, timings))
        part_done(f"FID/KID ({cfg.fid_kid.num_gen} generated per model)", "fid_kid_s")
        part_done("component reset KID", "reset_kid_s")
        summary["reset_translation"], no_translation = _reset_translation_part(
            tmp, (parent, child, shas), domains["child"], cfg, translate, parent_latents, timings)
        part_done("component reset translation quality", "reset_translation_s")
        summary.update(_controls_part(tmp, parent, child, domains, cfg, progress, timings))
        part_done("W directions in the child", "controls_s")
        part_done("control transfer score", "controls_transfer_s")
        summary["zeroshot"] = _zeroshot_part(tmp, (parent, child, shas), domains, cfg, invert, progress, timings)
        translated = (summary["zeroshot"] or {}).get("translated")
        if translated:
            part_done(f"zero-shot route a ({translated['images']} child images inverted, {translated['optimised']} "
                      "optimised)", "zeroshot_translated_s")
        part_done("zero-shot label transfer", "zeroshot_s")
        summary["not_run"] = not_run(cfg) | ({"reset_translation": no_translation} if no_translation else {})
        summary["timings"] = timings
        write_json_atomic(tmp / SUMMARY_FILE, summary, sort_keys=False)
        return summary

    return publish_dir(out, build, overwrite=True)
