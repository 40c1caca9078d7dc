"""The batch-translation flow: every image of an input prefix not yet translated -> a PNG in an output prefix.

    from flows.batch_translate import batch_translate
    batch_translate(input="s3://emoji/inbox", output="s3://emoji/translated", parent="models/parent-resolved",
                    child="runs/child/network-final.json", steps=100, task_runner="dask")

Prefixes: a local directory or ``s3://BUCKET/PREFIX`` (endpoint: ``endpoint_url``, else ``$AWS_ENDPOINT_URL``;
credentials only from the environment: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``). With
``params_path``, relative local paths resolve against that file's directory, and ``parent`` / ``child``
default to the pipeline's resolved parent (``parent.out``) and fine-tuned child (``finetune.out``).
Checkpoints may be ``s3://`` URLs too (read through the checkpoint cache, endpoint ``$AWS_ENDPOINT_URL``).

Idempotent (the skip rule of :mod:`stylealign_core.editing.batch`): images already translated with the same
content, checkpoints and settings are skipped, so a scheduled rerun translates only what is new. The
batches of ``batch`` images are mapped over ``task_runner`` (flows/runners.py: local | dask | ray, or a
scheduler address); the result does not depend on the runner. ``prefect.yaml`` deploys it on a schedule
(``stylealign-batch-translate``).
"""
from __future__ import annotations

from pathlib import Path

from prefect import flow

from flows.runners import gpu_resources, make_task_runner
from stylealign_core.editing.batch import BatchSettings, batches
from stylealign_core.editing.errors import EditError
from stylealign_core.inversion import DEFAULT_METRIC
from stylealign_core.prefix import is_s3
from tasks import batch_translate as bt
from tasks._common import artifact, markdown_table


@flow(name="batch-translate-batches")
def _translate_batches(input: str, output: str, parent: str, child: str, groups: list[list[str]], settings: dict,
                       shas: dict, endpoint_url: str | None, device: str, threads: int | None,
                       task_runner: str) -> list[dict]:
    with gpu_resources(task_runner, device):
        futures = [bt.translate_batch.submit(input, output, parent, child, names, settings, shas, endpoint_url,
                                             device, threads) for names in groups]
    return [f.result() for f in futures]  # a failed batch fails the flow (the others' images are kept)


def _locations(params_path: str | None, input: str, output: str, parent: str | None, child: str | None) -> dict:
    """Absolute local paths (relative ones resolve against the params file's directory, else the working
    directory); parent/child default to the pipeline's outputs named in params.yaml."""
    params = None
    if params_path:
        from stylealign_core.params import load_params
        params = load_params(params_path)
    base = params.root if params is not None else Path.cwd()

    def resolve(uri: str) -> str:
        return uri if is_s3(uri) or "://" in uri else str((base / Path(uri).expanduser()).resolve())

    if parent is None or child is None:
        if params is None:
            raise EditError("batch-translate: no parent/child checkpoint given (fix: pass both, or params_path: "
                            "the pipeline's resolved parent and fine-tuned child are then the defaults)")
        from stylealign_core.training.parent import resolved_checkpoint
        from stylealign_core.training.rundir import RunDir
        parent = parent or str(resolved_checkpoint(params.resolve(params.parent.out)))
        child = child or str(RunDir(params.resolve(params.finetune.out)).final_manifest)
    return {k: resolve(v) for k, v in (("input", input), ("output", output), ("parent", parent), ("child", child))}


@flow(name="batch-translate", log_prints=True)
def batch_translate(input: str = "batch/inbox", output: str = "batch/translated", parent: str | None = None,
                    child: str | None = None, params_path: str | None = None, endpoint_url: str | None = None,
                    space: str = "z", steps: int = 100, truncation_psi: float | None = None,
                    metric: str = DEFAULT_METRIC, seed: int = 0, batch: int = 8, task_runner: str = "local",
                    workers: int = 2, device: str = "cpu", threads: int | None = None,
                    settings: dict | None = None) -> dict:
    """Translate the images of ``input`` not yet in ``output`` (see the module docstring). ``settings``: more
    ProjectorSettings fields (lr, stats_samples, ...). Returns the counts and the manifest's location."""
    where = _locations(params_path, input, output, parent, child)
    cfg = BatchSettings.create(space=space, steps=steps, truncation_psi=truncation_psi, metric=metric, seed=seed,
                               batch=batch, **(settings or {})).as_dict()
    planned = bt.plan_translation(where["input"], where["output"], where["parent"], where["child"], cfg,
                                  endpoint_url)
    shas = {k: planned[k] for k in ("parent_sha256", "child_sha256")}
    groups = batches([i["name"] for i in planned["todo"]], batch)
    results = []
    if groups:
        runner = make_task_runner(task_runner, workers)
        results = _translate_batches.with_options(task_runner=runner)(
            where["input"], where["output"], where["parent"], where["child"], groups, cfg, shas, endpoint_url,
            device, threads, task_runner)
    records = [r for res in results for r in res["records"]]
    unreadable = [u for res in results for u in res["unreadable"]]
    header = {**where, **shas, "settings": cfg}
    path = None  # an empty input: nothing done, nothing to record
    if planned["todo"] or planned["done"]:
        path = bt.write_translation_manifest(where["output"], planned, records, unreadable, header, endpoint_url)
    summary = {"input": where["input"], "output": where["output"], "translated": len(records),
               "skipped": len(planned["done"]), "unreadable": unreadable, "batches": len(groups),
               "manifest": path, "task_runner": task_runner}
    artifact("markdown", "batch-translate", f"Batch translation {where['input']} -> {where['output']}",
             markdown="\n".join([f"# Batch translation: {len(records)} new, {len(planned['done'])} already done",
                                 "", f"* input: `{where['input']}`", f"* output: `{where['output']}`",
                                 f"* manifest: `{path}`", "",
                                 markdown_table([{k: r[k] for k in ("name", "output", "distance")}
                                                 for r in records[:50]])]))
    print(f"batch-translate: {len(records)} translated, {len(planned['done'])} already done, "
          f"{len(unreadable)} unreadable -> {where['output']}")
    return summary
