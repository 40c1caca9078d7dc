"""The pipeline as Prefect flows: one flow per stage, and ``pipeline`` running them in order.

The same flows serve three callers: ``dvc repro`` (each dvc.yaml stage runs
``stylealign pipeline run --stage NAME --params params.yaml``), the Prefect UI / a worker
(``stylealign pipeline serve``), and Python code (``from flows.pipeline import pipeline``).

Every flow takes ``params_path`` (the params.yaml to read; relative paths in it resolve against its
directory) and returns a JSON-able summary. Stage, flow, task module and params section share one
name. Adding a stage: a task module ``tasks/NAME.py``, a flow function here (or in a module of
flows/ imported here) registered in ``STAGES``, a ``NAME`` section in ``stylealign_core/params.py`` + params.yaml,
and a dvc.yaml stage. The editing stages (invert, translate, morph) live in :mod:`flows.edit`, analyze and
report in :mod:`flows.analysis`.
"""
from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows import analysis as analysis_flows
from flows import edit as edit_flows
from stylealign_core.params import Params, load_params
from tasks import data as data_tasks
from tasks import finetune as finetune_tasks
from tasks import parent as parent_tasks
from tasks._common import artifact, logger, markdown_table, read_json

PARAMS_DEFAULT = "params.yaml"


def _load(params_path: str) -> Params:
    params = load_params(params_path)
    logger().info("params: %s", params.source)
    return params


@flow(name="data", log_prints=True)
def data(params_path: str = PARAMS_DEFAULT) -> dict:
    """Build the parent-domain and child-domain data sets (``data`` section)."""
    p = _load(params_path)
    d = p.data
    results = {}
    for which in ("parent", "child"):
        spec = getattr(d, which)
        data_tasks.fetch_source(spec.source, spec.style)
        results[which] = data_tasks.build_dataset(
            str(p.resolve(spec.out)), spec.source, spec.style,
            None if spec.path is None else str(p.resolve(spec.path)),
            d.resolution, d.seed, d.test_fraction, d.limit)
    artifact("table", "data-sets", f"Data sets built from {p.source}",
             table=[{"domain": k, **{c: v[c] for c in ("path", "num_images", "train", "test", "skipped")}}
                    for k, v in results.items()])
    return results


@flow(name="parent", log_prints=True)
def parent(params_path: str = PARAMS_DEFAULT) -> dict:
    """Resolve ``parent.uri`` into our format in ``parent.out`` (``parent`` section)."""
    p = _load(params_path)
    pp = p.parent
    init = None
    local = None
    if pp.is_init:
        init = p.section("parent")["init"]
        init["resolution"] = init["resolution"] or p.data.resolution
    elif pp.is_url:
        local = parent_tasks.fetch_parent(pp.uri, pp.sha256)
    else:
        local = str(p.resolve(pp.uri))
    lineage = parent_tasks.resolve_parent(pp.uri, local, pp.sha256, str(p.resolve(pp.out)), init)
    res = lineage["resolved"]
    artifact("markdown", "parent-resolved", "The resolved parent checkpoint", markdown="\n".join([
        f"# Parent: `{pp.uri}`", "",
        markdown_table([{"source format": lineage["source"]["format"],
                         "source sha256": lineage["source"]["sha256"] or "-",
                         "resolved": str(p.resolve(pp.out) / res["checkpoint"]),
                         "resolved sha256": res["sha256"], "resolution": res["resolution"]}])]))
    return lineage


@flow(name="finetune", log_prints=True)
def finetune(params_path: str = PARAMS_DEFAULT) -> dict:
    """Fine-tune the child, draw the parent-vs-child grid, write the metrics (``finetune`` section)."""
    p = _load(params_path)
    f = p.finetune
    parent_out = p.resolve(p.parent.out)
    parent_ckpt = parent_tasks.resolved_checkpoint(parent_out)
    lineage = read_json(parent_out / parent_tasks.LINEAGE_NAME) or {}
    if not parent_ckpt.exists():
        raise FileNotFoundError(f"{parent_ckpt}: no resolved parent; run the `parent` stage first "
                                "(stylealign pipeline run --stage parent)")
    run_dir = p.resolve(f.out)
    summary = finetune_tasks.train_child(
        p.section("finetune")["train"], str(parent_ckpt), (lineage.get("resolved") or {}).get("sha256") or "",
        str(p.resolve(p.data.child.out)), str(run_dir), f.resume, f.threads)
    grid = finetune_tasks.parent_vs_child_grid(
        str(parent_ckpt), summary["checkpoint"], str(run_dir / finetune_tasks.GRID_NAME),
        f.grid.columns, f.grid.seed, f.grid.truncation_psi)
    metrics = finetune_tasks.write_metrics(str(p.resolve(f.metrics)), summary)
    artifact("markdown", "finetune-child", "Child fine-tuning: grid and metrics", markdown="\n".join([
        "# Child fine-tuned from the parent", "",
        f"* child checkpoint: `{summary['checkpoint']}`",
        f"* parent vs child grid (row 1 parent, row 2 child, same z): `{grid}`",
        f"* metrics: `{p.resolve(f.metrics)}`", "",
        markdown_table([metrics])]))
    return {"checkpoint": summary["checkpoint"], "grid": grid, "metrics": metrics}


# Stages in pipeline order. `stylealign pipeline run --stage NAME` and dvc.yaml use these names.
STAGES = {"data": data, "parent": parent, "finetune": finetune,
          "invert": edit_flows.invert, "translate": edit_flows.translate, "morph": edit_flows.morph}
STAGES.update({"analyze": analysis_flows.analyze, "report": analysis_flows.report})  # flows/analysis.py


@flow(name="pipeline", log_prints=True)
def pipeline(params_path: str = PARAMS_DEFAULT, stages: list[str] | None = None) -> dict:
    """Run ``stages`` (default: all, in order) as sub-flows."""
    names = list(stages or STAGES)
    unknown = [s for s in names if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; known: {', '.join(STAGES)}")
    params_path = str(Path(params_path).absolute())
    return {name: STAGES[name](params_path) for name in STAGES if name in names}
