"""The `analyze` and `report` stage flows (registered in flows.pipeline.STAGES after the others).

analyze: the resolved parent (``parent.out``) and the child (``finetune.out``'s network-final.json) against
both data sets -> ``analyze.out`` (the zero-shot route a also reads the ``invert`` section: its projector; the
component reset's translation scores read the invert stage's parent latents and the ``translate`` section).
report: every stage's outputs that exist -> ``report.out`` (index.html, metrics.json, plots/, assets/). The
report also reads the translate and morph stages' outputs when params.yaml has those sections (default paths
otherwise), so it runs whichever stages came before it.
"""
from __future__ import annotations

from pathlib import Path

from prefect import flow

from stylealign_core.params import Params, load_params
from tasks import analyze as analyze_tasks
from tasks import finetune as finetune_tasks
from tasks import parent as parent_tasks
from tasks import report as report_tasks
from tasks._common import artifact, logger, markdown_table

PARAMS_DEFAULT = "params.yaml"
# Outputs of the translate/morph stages: (section, key) -> default path, when params.yaml has no such section.
OTHER_OUTPUTS = {("translate", "metrics"): "metrics/translate.json", ("translate", "out"): "runs/translate",
                 ("morph", "out"): "runs/morph"}


def _load(params_path: str) -> Params:
    params = load_params(params_path)
    logger().info("params: %s", params.source)
    return params


def _other_output(p: Params, section: str, key: str) -> Path:
    value = getattr(getattr(p, section, None), key, None) or OTHER_OUTPUTS[(section, key)]
    return p.resolve(value)


@flow(name="analyze", log_prints=True)
def analyze(params_path: str = PARAMS_DEFAULT) -> dict:
    """FID/KID, weight change, component reset, StyleSpace alignment, controls (``analyze`` section)."""
    p = _load(params_path)
    parent_ckpt = parent_tasks.resolved_checkpoint(p.resolve(p.parent.out))
    child_ckpt = finetune_tasks.final_checkpoint(p.resolve(p.finetune.out))
    for path, stage in ((parent_ckpt, "parent"), (child_ckpt, "finetune")):
        if not Path(path).exists():
            raise FileNotFoundError(f"{path}: missing; run the `{stage}` stage first "
                                    f"(stylealign pipeline run --stage {stage})")
    out = p.resolve(p.analyze.out)
    summary = analyze_tasks.analyze_pair(p.section("analyze"), str(parent_ckpt), str(child_ckpt),
                                         str(p.resolve(p.data.parent.out)), str(p.resolve(p.data.child.out)), str(out),
                                         invert=p.section("invert"), translate=p.section("translate"),
                                         parent_latents=str(p.resolve(p.invert.out) / "parent" / "latents.parquet"))
    artifact("markdown", "analyze-pair", "FID/KID and alignment of the parent/child pair", markdown="\n".join([
        "# Analysis of the parent/child pair", "", f"* output: `{out}`", "",
        markdown_table(summary["fid_kid"]), "",
        markdown_table([{"model": k, **v} for k, v in (summary["reset"] or {}).items()])]))
    return {k: summary[k] for k in ("fid_kid", "reset", "timings", "not_run")}


@flow(name="report", log_prints=True)
def report(params_path: str = PARAMS_DEFAULT) -> dict:
    """reports/metrics.json, plot data and the static HTML page (``report`` section)."""
    p = _load(params_path)
    out = p.resolve(p.report.out)
    inputs = {"finetune_metrics": str(p.resolve(p.finetune.metrics)), "finetune_out": str(p.resolve(p.finetune.out)),
              "analyze_out": str(p.resolve(p.analyze.out)),
              "translate_metrics": str(_other_output(p, "translate", "metrics")),
              "translate_out": str(_other_output(p, "translate", "out")),
              "morph_out": str(_other_output(p, "morph", "out"))}
    metrics = report_tasks.build(inputs, str(out), p.report.title, str(p.source))
    artifact("link", "report", "The static HTML report", link=(out / "index.html").as_uri(), link_text="index.html")
    return {"index": str(out / "index.html"), "metrics": str(out / "metrics.json"), "fid": metrics["fid"],
            "kid": metrics["kid"]}
