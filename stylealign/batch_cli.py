"""`stylealign translate-batch`: run the batch-translation flow (flows/batch_translate.py) once.

    stylealign translate-batch --input s3://emoji/inbox --output s3://emoji/translated --params params.yaml
    stylealign translate-batch --input photos/ --output out/ --parent P.json --child C.json --steps 50

Images of --input not yet translated (same name, content, checkpoints and settings) are inverted into the
parent and rendered by the child into --output; a rerun translates only what is new. The scheduled form is
the `stylealign-batch-translate` deployment of prefect.yaml.
"""
from __future__ import annotations

import os

from stylealign.checkpoint_cli import _device

_EPILOG = """\
Prefixes: a local directory or s3://BUCKET/PREFIX. S3 endpoint: --endpoint-url, else $AWS_ENDPOINT_URL
(unset: AWS); credentials only from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or ~/.aws.
Output: NAME.png per input, _records/KEY.json per translated image, manifest.json. Without a Prefect server
configured (PREFECT_API_URL) Prefect starts a temporary one for the run.
"""


def cmd_translate_batch(args) -> int:
    from flows.batch_translate import batch_translate
    from stylealign.pipeline_cli import _quiet_env

    _quiet_env()
    if args.params is None and (args.parent is None or args.child is None):
        from stylealign_core.editing.errors import EditError
        raise EditError("translate-batch: pass --parent and --child, or --params FILE (the pipeline's resolved "
                        "parent and fine-tuned child are then the defaults)")
    summary = batch_translate(
        input=args.input, output=args.output, parent=args.parent, child=args.child,
        params_path=None if args.params is None else os.path.abspath(args.params), endpoint_url=args.endpoint_url,
        space=args.space, steps=args.steps, truncation_psi=args.trunc, metric=args.metric, seed=args.seed,
        batch=args.batch, task_runner=args.task_runner, workers=args.workers, device=args.device,
        threads=args.threads)
    print(f"translated {summary['translated']} image(s), {summary['skipped']} already done, "
          f"{len(summary['unreadable'])} unreadable -> {summary['output']} (manifest: {summary['manifest']})")
    return 0


def add_parser(subparsers) -> None:
    import argparse

    p = subparsers.add_parser(
        "translate-batch", help="translate every new image of a folder or s3:// prefix parent -> child (idempotent)",
        description="Invert each image of --input not yet translated into the parent (the projector) and render "
                    "the same code with the child into --output, as the batch-translate Prefect flow.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True, metavar="PREFIX", help="folder or s3://BUCKET/PREFIX of parent-domain images")
    p.add_argument("--output", required=True, metavar="PREFIX", help="folder or s3://BUCKET/PREFIX for the PNGs")
    p.add_argument("--parent", metavar="CKPT", help="parent checkpoint (default with --params: the resolved parent)")
    p.add_argument("--child", metavar="CKPT", help="child checkpoint (default with --params: the fine-tuned child)")
    p.add_argument("--params", metavar="FILE", help="params.yaml: relative paths resolve against its folder")
    p.add_argument("--endpoint-url", metavar="URL", help="S3 endpoint (default: $AWS_ENDPOINT_URL)")
    p.add_argument("--space", default="z", choices=["z", "w", "w+", "s"], help="code space (default z, StyleAlign's)")
    p.add_argument("--steps", type=int, default=100, help="projector steps per image (default 100)")
    p.add_argument("--trunc", type=float, metavar="PSI", help="truncation (default 0.5 in z, else 1)")
    p.add_argument("--metric", default="stlpips-vgg", help="projector's perceptual distance (default stlpips-vgg)")
    p.add_argument("--seed", type=int, default=0, help="run seed of the projector's noise (default 0)")
    p.add_argument("--batch", type=int, default=8, help="images per task and projector batch (default 8)")
    p.add_argument("--task-runner", default="local", metavar="RUNNER",
                   help="local | dask | dask://HOST:PORT | ray | ray://HOST:PORT (default local)")
    p.add_argument("--workers", type=int, default=2, help="threads (local) or Dask workers (default 2)")
    p.add_argument("--device", default="cpu", type=_device, help="torch device (default cpu)")
    p.add_argument("--threads", type=int, help="torch CPU threads per task (default: torch's)")
    p.set_defaults(func=cmd_translate_batch)
