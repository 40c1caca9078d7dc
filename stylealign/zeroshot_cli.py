"""`stylealign zeroshot`: zero-shot label transfer from the parent domain (Noto labels) to the child (Twemoji).

    stylealign zeroshot train --data data/emoji-google-64 --task all --out models/zeroshot
    stylealign zeroshot train --data data/emoji-twitter-64 --task all --out models/zeroshot-child   # upper bound
    stylealign zeroshot eval --models models/zeroshot --supervised-models models/zeroshot-child \
        --parent-data data/emoji-google-64 --child-data data/emoji-twitter-64 \
        [--to-parent-images DIR] [--parent-latents P.parquet --child-latents C.parquet] --out reports/zeroshot
    stylealign zeroshot histogram --network models/parent/emoji-noto-64/network.json --models models/zeroshot \
        --data data/emoji-google-64 --num 2000 --out reports/histogram

`train` writes one checkpoint per task (DIR/<task>.json + .safetensors); `eval` publishes DIR/zeroshot.parquet,
DIR/zeroshot.json (rows per task x method with 95% intervals over base emoji) and DIR/metrics.json (the
report's `zeroshot.*` keys). `histogram` publishes DIR/histogram.{json,parquet,png}: the category histogram of
generator samples under the category model against the data set's train split (true and predicted labels).
The protocol is in the README and in stylealign_core.analysis.zeroshot.
"""
from __future__ import annotations

import argparse
import json

_TASK_CHOICES = ("category", "skin_tone", "mask", "all")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _tasks(text: str) -> list[str]:
    from stylealign_core.analysis.zeroshot import TASKS
    return list(TASKS) if text == "all" else [text]


def cmd_train(args) -> int:
    """Handler of `stylealign zeroshot train`."""
    import torch

    from stylealign_core.analysis.zeroshot import TrainSettings, train_task
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = TrainSettings(epochs=args.epochs, batch=args.batch, lr=args.lr, seed=args.seed, width=args.width,
                             shift=args.shift, resolution=args.resolution)
    for task in _tasks(args.task):
        summary = train_task(args.data, task, args.out, settings, progress=False if args.no_progress else None)
        print(json.dumps({k: summary[k] for k in ("task", "model", "num_train_images", "train_seconds")}))
    return 0


def _latents(args):
    if not (args.parent_latents or args.child_latents):
        return None
    if not (args.parent_latents and args.child_latents and args.parent_data):
        from stylealign_core.analysis.zeroshot import ZeroShotError
        raise ZeroShotError("the latent route needs --parent-latents, --child-latents and --parent-data together")
    try:
        from stylealign_core.inversion import read_latents
    except ModuleNotFoundError as exc:
        from stylealign_core.analysis.zeroshot import ZeroShotError
        raise ZeroShotError(f"reading latent tables needs stylealign_core.inversion ({exc}); install the "
                            "inversion package or leave out --parent-latents/--child-latents") from None
    from stylealign_core.analysis.zeroshot import LatentInputs
    p_ids, p_space, p_latents = read_latents(args.parent_latents)
    c_ids, c_space, c_latents = read_latents(args.child_latents)
    if p_space != c_space:
        from stylealign_core.analysis.zeroshot import ZeroShotError
        raise ZeroShotError(f"parent latents are in {p_space}, child latents in {c_space}; invert both in one space")
    return LatentInputs(list(p_ids), p_latents, list(c_ids), c_latents)


def cmd_eval(args) -> int:
    """Handler of `stylealign zeroshot eval`."""
    import torch

    from stylealign_core.analysis.zeroshot import BootstrapSettings, TrainSettings, evaluate_models, write_results
    from stylealign_core.errors import OutputExists
    if args.threads:
        torch.set_num_threads(args.threads)
    from pathlib import Path
    if Path(args.out).exists() and not args.overwrite:  # before any work
        raise OutputExists(f"{args.out} already exists; pass --overwrite or choose another --out")
    boot = BootstrapSettings(resamples=args.resamples, seed=args.seed)
    table, metrics = evaluate_models(args.models, args.child_data, tasks=_tasks(args.task) if args.task else None,
                                     supervised_dir=args.supervised_models, parent_data=args.parent_data,
                                     translated_folder=args.to_parent_images, latents=_latents(args), boot=boot,
                                     latent_settings=TrainSettings(epochs=args.latent_epochs, seed=args.seed),
                                     progress=False if args.no_progress else None)
    info = {k: (str(v) if v is not None else None) for k, v in vars(args).items() if k != "func"}
    write_results(args.out, table, metrics, info=info, overwrite=args.overwrite)
    print(json.dumps(metrics, indent=2))
    print(f"wrote {args.out}")
    return 0


def cmd_histogram(args) -> int:
    """Handler of `stylealign zeroshot histogram`."""
    from pathlib import Path

    import torch

    from stylealign_core.analysis.zeroshot import HistogramSettings, category_histogram, write_histogram
    from stylealign_core.errors import OutputExists
    if args.threads:
        torch.set_num_threads(args.threads)
    if Path(args.out).exists() and not args.overwrite:  # before any work
        raise OutputExists(f"{args.out} already exists; pass --overwrite or choose another --out")
    settings = HistogramSettings(num=args.num, seed=args.seed, truncation_psi=args.truncation, batch=args.batch)
    table, info = category_histogram(args.network, args.models, args.data, settings, device=args.device,
                                     progress=False if args.no_progress else None)
    write_histogram(args.out, table, info, overwrite=args.overwrite)
    print(json.dumps(info["summary"], indent=2))
    print(f"wrote {args.out}")
    return 0


def _add_histogram_parser(sub) -> None:
    hi = sub.add_parser("histogram", help="category histogram of generator samples vs the real data set",
                        description="Draw --num samples (seeds --seed .. --seed+num-1, the project's seed -> z "
                                    "convention, truncation --truncation, constant noise), read them with the "
                                    "category model of --models, and compare their category shares with the train "
                                    "split of --data: its true labels and the model's predictions on it (the "
                                    "classifier's own bias). Publishes --out/histogram.json (rows + info: seeds, "
                                    "truncation, generator and classifier sha256, total variation distance, "
                                    "confident shares), histogram.parquet (one row per category) and histogram.png.")
    hi.add_argument("--network", required=True, help="generator checkpoint (path or URL; G_ema preferred)")
    hi.add_argument("--models", required=True,
                    help="models directory holding category.json (`stylealign zeroshot train --task category`)")
    hi.add_argument("--data", required=True, help="the emoji data set the category model was trained on (train split)")
    hi.add_argument("--num", type=_positive, default=2000, help="number of samples (default 2000)")
    hi.add_argument("--seed", type=int, default=0, help="first seed (samples use seeds seed .. seed+num-1)")
    hi.add_argument("--truncation", type=float, default=1.0, help="truncation psi (default 1.0: none)")
    hi.add_argument("--batch", type=_positive, default=64, help="samples per generator batch")
    hi.add_argument("--device", default="cpu", help="torch device of the generator (default cpu)")
    hi.add_argument("--out", required=True, help="results directory (published atomically)")
    hi.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    hi.add_argument("--threads", type=_positive, help="torch CPU threads")
    hi.add_argument("--no-progress", action="store_true", help="no progress bar")
    hi.set_defaults(func=cmd_histogram)


def add_parser(subparsers) -> None:
    group = subparsers.add_parser("zeroshot", help="zero-shot label transfer: parent-domain models on child images",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = group.add_subparsers(dest="zeroshot_command", metavar="SUBCOMMAND")
    group.set_defaults(func=lambda args: group.print_help() or 2)

    tr = sub.add_parser("train", help="train a task's model on one data set's train split",
                        description="Train the category classifier, skin-tone classifier or foreground segmenter on "
                                    "the train split of an emoji data set (parent labels for the zero-shot models; "
                                    "child labels for the supervised upper bound). ~1-2 min a task on 2 CPU cores.")
    tr.add_argument("--data", required=True, help="emoji data set directory (`stylealign data emoji`)")
    tr.add_argument("--task", required=True, choices=_TASK_CHOICES, help="which model ('all': the three)")
    tr.add_argument("--out", required=True, help="models directory (writes <task>.json + <task>.safetensors)")
    tr.add_argument("--epochs", type=_positive, default=6)
    tr.add_argument("--batch", type=_positive, default=64)
    tr.add_argument("--lr", type=float, default=2e-3)
    tr.add_argument("--width", type=_positive, default=32, help="first conv's channels (segmenter: half)")
    tr.add_argument("--resolution", type=_positive, default=32, help="models' input size (images are resized)")
    tr.add_argument("--shift", type=int, default=4, help="max random shift in pixels (augmentation)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--threads", type=_positive, help="torch CPU threads")
    tr.add_argument("--no-progress", action="store_true", help="no progress bars")
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("eval", help="score parent-trained models on the child test split",
                        description="Score the zero-shot routes against direct, supervised and chance (and the "
                                    "non-white threshold for masks), with bootstrap intervals over base emoji.")
    ev.add_argument("--models", required=True, help="models trained on the parent data set (zeroshot train)")
    ev.add_argument("--child-data", required=True, help="child emoji data set (its test split is scored)")
    ev.add_argument("--parent-data", help="parent emoji data set (needed by the latent route)")
    ev.add_argument("--supervised-models", help="the same models trained on the child data set (upper bound)")
    ev.add_argument("--to-parent-images", help="folder of the child test images translated to the parent, <id>.png")
    ev.add_argument("--parent-latents", help="inversion table of the parent data set (latent route)")
    ev.add_argument("--child-latents", help="inversion table of the child data set (latent route)")
    ev.add_argument("--task", choices=_TASK_CHOICES, help="only this task (default: every model in --models)")
    ev.add_argument("--resamples", type=_positive, default=1000, help="bootstrap resamples (of base emoji)")
    ev.add_argument("--latent-epochs", type=_positive, default=30, help="epochs of the latent-route MLP")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--out", required=True, help="results directory (published atomically)")
    ev.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    ev.add_argument("--threads", type=_positive, help="torch CPU threads")
    ev.add_argument("--no-progress", action="store_true", help="no progress bars")
    ev.set_defaults(func=cmd_eval)

    _add_histogram_parser(sub)
