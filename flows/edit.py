"""The editing stages of the pipeline as Prefect flows: ``invert``, ``translate``, ``morph`` (after ``finetune``).

Registered in :data:`flows.pipeline.STAGES`; each takes ``params_path`` like every stage flow and reads its
section of params.yaml (:mod:`stylealign_core.params_edit`). Inputs: the resolved parent (``parent.out``),
the child's final checkpoint (``finetune.out``/network-final.json) and the two data sets.

* ``invert``: the parent-domain images into the parent, the child-domain images into the child, each with the
  sharded inversion flow (:mod:`flows.invert`, ``invert.shards`` over ``invert.task_runner``) ->
  ``invert.out``/parent/latents.parquet and ``invert.out``/child/latents.parquet; with ``invert.method:
  encode`` the parent's shipped encoder and the child's (warm-started from it, ``invert.out``/child-encoder/);
* ``translate``: the parent latents rendered by the child, scored against the child-domain images of the same
  ids (baselines input, random_sample, nearest_train, mean_image) -> ``translate.out`` and
  ``translate.metrics``;
* ``morph``: parent image a -> child image b for a few pairs -> ``morph.out``/<a>-<b>/ and pairs.json.
"""
from __future__ import annotations

from prefect import flow

from flows import invert as invert_flow
from stylealign_core.params import Params, load_params
from stylealign_core.training.parent import resolved_checkpoint
from stylealign_core.training.rundir import RunDir
from tasks import invert as invert_tasks
from tasks import morph as morph_tasks
from tasks import translate as translate_tasks
from tasks._common import artifact, logger, markdown_table

PARAMS_DEFAULT = "params.yaml"
DOMAINS = ("parent", "child")


def _load(params_path: str) -> Params:
    params = load_params(params_path)
    logger().info("params: %s", params.source)
    return params


def networks(p: Params) -> dict[str, str]:
    """The checkpoint of each domain: the resolved parent, the child's final checkpoint (must exist)."""
    paths = {"parent": (resolved_checkpoint(p.resolve(p.parent.out)), "parent"),
             "child": (RunDir(p.resolve(p.finetune.out)).final_manifest, "finetune")}
    for path, stage in paths.values():
        if not path.exists():
            raise FileNotFoundError(f"{path}: not found; run the `{stage}` stage first "
                                    f"(stylealign pipeline run --stage {stage})")
    return {domain: str(path) for domain, (path, _) in paths.items()}


def latents_table(p: Params, domain: str) -> str:
    path = p.resolve(p.invert.out) / domain / "latents.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found; run the `invert` stage first (stylealign pipeline run --stage "
                                "invert)")
    return str(path)


def encoders(p: Params, nets: dict[str, str]) -> dict[str, dict]:
    """``invert.method: encode``: per domain, the encoder and refine steps (the child's trained here from the
    parent's shipped one into ``invert.out``/child-encoder); ``{}`` for the projector."""
    iv = p.invert
    if iv.method != "encode":
        return {}
    parent_encoder = p.resolve(iv.encoder.parent)
    if not parent_encoder.exists():
        raise FileNotFoundError(f"{parent_encoder}: not found (params invert.encoder.parent); train one with "
                                f"`stylealign encoder train --network {nets['parent']} --data "
                                f"{p.resolve(p.data.parent.out)} --out ENC`, or set invert.method: project")
    child = invert_tasks.child_encoder(nets["child"], str(parent_encoder), str(p.resolve(p.data.child.out)),
                                       str(p.resolve(iv.out) / "child-encoder" / "encoder"), iv.encoder.child_kimg,
                                       iv.metric, device=iv.device, threads=iv.threads)
    return {domain: {"encoder": path, "refine": iv.encoder.refine}
            for domain, path in (("parent", str(parent_encoder)), ("child", child))}


@flow(name="invert", log_prints=True)
def invert(params_path: str = PARAMS_DEFAULT) -> dict:
    """Invert each domain's images into its own generator (``invert`` section): the projector, or with
    ``invert.method: encode`` each domain's encoder + refine steps."""
    p = _load(params_path)
    iv = p.invert
    nets = networks(p)
    for part in (*DOMAINS, "child-encoder"):   # a previous run's outputs (its images come back from the cache)
        invert_tasks.clear(str(p.resolve(iv.out) / part))
    encoder_args = encoders(p, nets)
    settings = iv.projector_settings()
    results, rows = {}, []
    for domain in DOMAINS:
        out = p.resolve(iv.out) / domain
        data = str(p.resolve(getattr(p.data, domain).out))
        res = invert_flow.invert(nets[domain], data, str(out), space=iv.space, steps=settings["steps"],
                                 shards=iv.shards, metric=iv.metric, task_runner=iv.task_runner, workers=iv.workers,
                                 device=iv.device,
                                 settings=settings, batch=iv.batch, seed=iv.seed, split=iv.split, limit=iv.limit,
                                 threads=iv.threads, **encoder_args.get(domain, {}))
        results[domain] = {k: res[k] for k in ("table", "rows", "space", "metric")}
        rows.append({"domain": domain, "network": nets[domain], "data": data, **results[domain],
                     "method": iv.method,
                     "contact sheet": str(out / "contact_sheet.png") if iv.shards == 1 else str(out / "shards")})
    artifact("table", "invert-latents", f"Inversion of the {iv.split or 'whole'} split of each domain", table=rows)
    return results


@flow(name="translate", log_prints=True)
def translate(params_path: str = PARAMS_DEFAULT) -> dict:
    """Translate the parent latents with the child and score them (``translate`` section)."""
    p = _load(params_path)
    t = p.translate
    nets = networks(p)
    out = p.resolve(t.out)
    res = translate_tasks.translate_scored(
        nets["parent"], nets["child"], latents_table(p, "parent"), str(p.resolve(p.data.child.out)),
        str(p.resolve(p.data.parent.out)), str(out), truncation_psi=t.truncation_psi, swap_res=t.swap_res,
        blend=t.blend, metric=t.metric, boot=t.boot, prefilter=t.prefilter, sheet_rows=t.sheet_rows, batch=t.batch,
        device=t.device, threads=t.threads)
    metrics = translate_tasks.write_metrics(str(p.resolve(t.metrics)), res["metrics"])
    artifact("table", "translate-summary", "Translation parent -> child vs the baselines (means, 95% CIs)",
             table=res["summary"])
    artifact("markdown", "translate-run", "Translation parent -> child: contact sheet and metrics", markdown="\n".join([
        "# Translation parent -> child", "",
        f"* contact sheet (input | reconstruction | translation | truth): `{out / 'contact_sheet.png'}`",
        f"* summary: `{out / 'summary.json'}`; metrics: `{p.resolve(t.metrics)}`", "",
        markdown_table([metrics])]))
    return {"out": str(out), "metrics": metrics}


@flow(name="morph", log_prints=True)
def morph(params_path: str = PARAMS_DEFAULT) -> dict:
    """Morph parent image a -> child image b for a few pairs (``morph`` section)."""
    p = _load(params_path)
    m = p.morph
    nets = networks(p)
    settings = {k: getattr(m, k) for k in ("frames", "fps", "scale", "strip_frames", "latent_schedule",
                                           "weight_schedule", "weight_order", "weight_steps", "windows",
                                           "truncation_psi")}
    entries = morph_tasks.morph_pairs(nets["parent"], nets["child"], latents_table(p, "parent"),
                                      latents_table(p, "child"), str(p.resolve(m.out)), [list(x) for x in m.pairs],
                                      m.count, m.pairing, settings, device=m.device)
    out = p.resolve(m.out)
    artifact("table", "morph-pairs", f"Morphs parent(a) -> child(b) in {out}: GIF, strip, MP4 (null: no codec)",
             table=[{"a": e["a"], "b": e["b"], **{k: e[k] and str(out / e[k]) for k in ("gif", "strip", "mp4")}}
                    for e in entries])
    return {"out": str(out), "pairs": entries}
