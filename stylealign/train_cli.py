"""`stylealign train` (parent from scratch) and `stylealign finetune` (child from a parent)."""
from __future__ import annotations

import argparse

import yaml

from stylealign_core.errors import StylealignError


def _common(p: argparse.ArgumentParser):
    p.add_argument("--data", required=True, help="training data: a stylealign data set directory or a "
                   "stylegan2-ada-pytorch dataset zip")
    p.add_argument("--out", required=True, help="run directory (snapshots, samples, log.parquet, network-final)")
    p.add_argument("--params", help="YAML file with training settings (e.g. params.yaml)")
    p.add_argument("--section", help="dotted key of the training settings inside --params (e.g. parent.train)")
    p.add_argument("--resume", help="'latest' (newest snapshot of --out, or a fresh start if none), a "
                   "snapshot directory (exact resume), or a checkpoint with G and D (an exported model, an "
                   "official .pkl, a rosinality .pt, a URL): weights and ADA p only, fresh optimizer states, "
                   "continuing at its recorded kimg")
    p.add_argument("--kimg", type=float, help="total training length in thousands of images shown to D")
    p.add_argument("--batch", type=int, help="total batch size over all processes (default 32)")
    p.add_argument("--batch-gpu", type=int, help="micro-batch per process (gradient accumulation)")
    p.add_argument("--lr", type=float, help="learning rate of G and D (default 0.0025)")
    p.add_argument("--gamma", type=float, help="R1 weight (default auto: 0.0002 * res^2 / batch)")
    p.add_argument("--snapshot-kimg", type=float, help="snapshot interval in kimg (default 50)")
    p.add_argument("--keep", type=int, help="snapshots to keep (default 3)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16", "auto"],
                   help="mixed precision: auto = bf16 on CUDA and on CPUs with native bf16 (AMX: 3-5x "
                        "faster), fp32 on other CPUs, where bf16 is emulated and far slower (default fp32)")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--aug", choices=["bgc", "bg", "noaug"], help="ADA augmentation preset (default bgc)")
    p.add_argument("--target", type=float, help="ADA target r_t (default 0.6)")
    p.add_argument("--ada-kimg", type=float, help="ADA speed: kimg for p to move from 0 to 1 (default 500; "
                   "lower it for short runs on small data sets)")
    p.add_argument("--ema-kimg", type=float, help="half-life of G's EMA in kimg (default: batch * 10 / 32); pin it "
                   "when a run's batch changes between legs (the default parent pins 5)")
    p.add_argument("--ema-rampup", type=float, help="EMA ramp-up: the half-life is at most this fraction of the "
                   "images shown so far (default 0.05, as stylegan2-ada-pytorch's auto config); 0 = none, as its "
                   "paper configs: a fine-tune's G_ema then starts as a slow average from the parent's weights "
                   "(the default child's setting in params.yaml)")
    p.add_argument("--mirror", "--xflip", action="store_true", default=None,
                   help="add x-flipped copies of the data")
    p.add_argument("--cond", action="store_true", default=None,
                   help="class-conditional: train on the data set's labels (its declared label columns, or a "
                        "stylegan2-ada zip's labels)")
    p.add_argument("--metrics", help="comma list of metrics computed at every snapshot against the training data, "
                   "appended to RUN/metrics.jsonl (as stylegan2-ada-pytorch's --metrics): fid, kid, or with a "
                   "count of generated images, e.g. fid2k,kid2k (the Inception runs at ~7 images/s on 2 CPU cores)")
    p.add_argument("--metrics-num-gen", type=int, help="generated images of a metric named without a count "
                   "(default 2000)")
    p.add_argument("--grid", type=int, help="sample grid side (grid x grid images per snapshot)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_parser(subparsers):
    t = subparsers.add_parser("train", help="train a parent StyleGAN2 from scratch",
                              description="Train a StyleGAN2 from scratch (stylegan2-ada-pytorch defaults: "
                              "non-saturating loss, lazy R1 and path-length regularisation, style mixing, G "
                              "EMA, ADA). Data-parallel: torchrun --nproc_per_node=N -m stylealign.cli train ...")
    _common(t)
    t.add_argument("--cbase", type=int, help="channel_base (channels per resolution = min(cbase/res, cmax))")
    t.add_argument("--cmax", type=int, help="channel_max")
    t.add_argument("--map", type=int, help="mapping network layers")
    t.add_argument("--z-dim", type=int, help="z dimensionality")
    t.add_argument("--w-dim", type=int, help="w dimensionality")
    t.add_argument("--mbstd-group", type=int, help="minibatch-stddev group size (default 4)")
    t.set_defaults(func=run_train)

    f = subparsers.add_parser("finetune", help="fine-tune a child from a parent on a new domain",
                              description="Fine-tune a child from --parent (stylealign checkpoint, official "
                              "stylegan2-ada-pytorch .pkl, rosinality .pt, or an https URL) on --data. The child "
                              "checkpoint records the parent's uri and sha256 and the recipe.")
    f.add_argument("--parent", required=True, help="parent checkpoint path or URL")
    _common(f)
    f.add_argument("--freeze", help="comma list of generator parts to keep fixed: mapping,affine,conv,torgb")
    f.add_argument("--freeze-res", help="comma list of synthesis resolutions to keep fixed, e.g. 4,8")
    f.add_argument("--freezed", type=int, help="FreezeD: keep the first N discriminator layers fixed")
    f.set_defaults(func=run_finetune)

    e = subparsers.add_parser("export", help="package a run's snapshot as a model directory (weights, samples, card)",
                              description="Export a training snapshot as OUT/network.{json,safetensors} (G, D, "
                              "G_ema; float16 storage by default, loaded as float32), OUT/samples.png (G_ema, seeds "
                              "0..N-1), OUT/samples-trunc0.7.png (the same at psi 0.7), OUT/reals.png and "
                              "OUT/MODEL_CARD.md (data, architecture, kimg, commit, sha256, the commands that "
                              "reproduce it). Written atomically.")
    e.add_argument("--run", required=True, help="run directory of `stylealign train|finetune`")
    e.add_argument("--out", required=True, help="model directory to write (e.g. models/parent/emoji-noto-64)")
    e.add_argument("--snapshot", default="latest", help="'latest' (default) or a snapshot directory of the run")
    e.add_argument("--dtype", choices=["float16", "bfloat16", "float32"], default="float16",
                   help="weight storage precision (default float16: half the size of float32)")
    e.add_argument("--samples", type=int, default=64, help="images in each sample grid (default 64)")
    e.add_argument("--networks", default="G,D,G_ema", help="comma list of the networks to store, of G, D, G_ema "
                   "(default all; G_ema,D is what users and a weights-only resume need: the shipped parent)")
    e.add_argument("--force", action="store_true",
                   help="replace OUT if it exists (its quality.jsonl, the FID/KID records of `metrics --card`, "
                        "is carried forward)")
    e.set_defaults(func=run_export)

    c = subparsers.add_parser("curves", help="plot a run's training log (losses, ADA, images/s) as a PNG",
                              description="Draw RUN/log.parquet against kimg: loss_G/loss_D, the R1 and path-length "
                              "penalties, ADA p and r_t (with its target), images/s. Works on a run in progress; "
                              "training itself redraws RUN/training-curves.png every 10 log rows and at the end.")
    c.add_argument("--run", required=True, help="run directory of `stylealign train|finetune`")
    c.add_argument("--out", help="PNG to write (default RUN/training-curves.png)")
    c.set_defaults(func=run_curves)


def _config(args):
    from stylealign_core.training.config import CLI_FLAGS, ConfigError, TrainConfig

    values = _params_section(args.params, args.section) if args.params else {}
    for key, flag in CLI_FLAGS.items():  # unset flags keep the config's value
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is None:
            continue
        if key == "lr_g":
            values["lr_g"] = values["lr_d"] = value
            continue
        if key in ("finetune.freeze", "metrics"):
            value = [s.strip() for s in value.split(",") if s.strip()]
        elif key == "finetune.freeze_resolutions":
            try:
                value = [int(s) for s in value.split(",") if s.strip()]
            except ValueError:
                raise ConfigError(f"train.finetune.freeze_resolutions: --freeze-res takes a comma list of "
                                  f"resolutions such as 4,8; got {value!r}") from None
        node = values
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return TrainConfig.from_dict(values)


def _params_section(path: str, section: str | None) -> dict:
    """The mapping at dotted ``section`` of the YAML file ``path`` (the whole file without one)."""
    from stylealign_core.training.config import ConfigError

    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise ConfigError(f"--params {path}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--params {path}: not valid YAML ({exc})") from None
    for part in filter(None, (section or "").split(".")):
        doc = doc.get(part) if isinstance(doc, dict) else None
        if doc is None:
            raise ConfigError(f"--params {path} has no section {section!r} (a dotted key, e.g. finetune.train)")
    if not isinstance(doc, dict):
        raise ConfigError(f"--params {path}: section {section!r} is not a mapping of training settings")
    return dict(doc)


def _report(result) -> int:
    print(f"done: {result['kimg']:.3f} kimg, {result['steps']} steps -> {result['checkpoint']}")
    return 0


def run_train(args) -> int:
    from stylealign_core.training.api import set_threads, train_parent

    cfg = _config(args)
    set_threads(args.threads)
    return _report(train_parent(cfg, args.data, args.out, resume=args.resume, progress=not args.no_progress))


def run_finetune(args) -> int:
    from stylealign_core.training.api import finetune_child, set_threads

    cfg = _config(args)
    set_threads(args.threads)
    return _report(finetune_child(cfg, args.parent, args.data, args.out, resume=args.resume,
                                  progress=not args.no_progress))


def run_export(args) -> int:
    from stylealign_core.training.export import export_model

    networks = tuple(name.strip() for name in args.networks.split(",") if name.strip())
    out = export_model(args.run, args.out, snapshot=args.snapshot, dtype=None if args.dtype == "float32" else args.dtype,
                       num_samples=args.samples, overwrite=args.force, networks=networks)
    print(f"exported {args.run} -> {out}: " + ", ".join(sorted(p.name for p in out.iterdir())))
    return 0


def run_curves(args) -> int:
    import json
    from pathlib import Path

    from stylealign_core.reports import plot_training_log
    from stylealign_core.training.rundir import RunDir

    run = RunDir(args.run)
    out = Path(args.out) if args.out else run.curves
    config = run.config
    try:
        train = json.loads(config.read_text()).get("train", {}) if config.is_file() else {}
        plot_training_log(run.log, out, title=f"{run.name}: training log",
                          ada_target=train.get("ada_target"))
    except json.JSONDecodeError as exc:
        raise StylealignError(f"{config}: not valid JSON ({exc}); training writes it at the start of a run") from None
    except FileNotFoundError as exc:  # no log yet (plot_training_log's other refusals are StylealignErrors)
        raise StylealignError(str(exc)) from None
    print(f"wrote {out}")
    return 0
