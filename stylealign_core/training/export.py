"""Package a training run's snapshot as a model directory (what ``models/parent/emoji-noto-64`` is).

``export_model(run_dir, out_dir)`` writes, atomically (``atomic.publish_dir``: built beside it, swapped in):

* ``network.json`` + ``network.safetensors``: G, D and G_ema of the snapshot (float16 storage by
  default: half the bytes, loaded back as float32) with the run's recipe, kimg and lineage;
* ``samples.png``: G_ema at seeds 0..N-1 (``latents``: z = RandomState(seed).randn, as the official generate.py),
  ``samples-trunc0.7.png``: the same seeds at truncation psi 0.7, and ``reals.png`` when the run wrote one;
* ``training-curves.png``: the run's training log up to the snapshot (``reports.plot_training_log``);
* ``MODEL_CARD.md``: data, architecture, kimg, the last training-log row, commit, sha256, and the
  commands that reproduce it;
* ``quality.jsonl`` (+ ``quality.png`` and the card's quality table), carried forward from the directory it
  replaces: the FID/KID records of earlier exports (``stylealign metrics --card``, ``reports.quality``).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Sequence

from ..errors import InputMismatch, OutputExists
from ..atomic import publish_dir
from ..checkpoints import DIR_CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from ..grid import save_image_grid
from ..latents import synthesize_seeds
from ..reports import plot_training_log
from ..reports.quality import RECORDS_FILE, quality_section, refresh_quality
from .config import CLI_FLAGS, TrainConfig
from .resume import as_chain
from .snapshots import SnapshotError, list_snapshots, read_log

TRUNCATED_PSI = 0.7  # the second sample grid: the common truncation for showing a StyleGAN
# Written into the reproduce command separately (always, or from the snapshot's progress), or machine-local.
_NOT_IN_RECIPE_FLAGS = {"total_kimg", "batch", "precision", "snapshot_kimg", "seed", "keep_snapshots", "device"}


def resolve_snapshot(run_dir: Path, snapshot: str | os.PathLike = "latest") -> Path:
    """``latest`` -> the run's newest complete snapshot; else the given snapshot directory."""
    if str(snapshot) == "latest":
        snaps = list_snapshots(run_dir)
        if not snaps:
            raise SnapshotError(f"{run_dir}: no complete snapshot under {run_dir / 'snapshots'}; "
                                "train first (stylealign train ... --out RUN)")
        return snaps[-1]
    path = Path(snapshot)
    if not (path / "network.json").is_file():
        raise SnapshotError(f"{path}: not a snapshot directory (no network.json)")
    return path


def sample_grid(G, seeds, path: Path, ncols: int = 8, truncation_psi: float = 1.0) -> Path:
    """G at ``seeds`` (the project's seed -> z, constant noise; class 0 of a conditional G) as a PNG grid:
    the same pixels as ``stylealign generate --seeds ... --trunc PSI`` (its default batch)."""
    images = synthesize_seeds(G, seeds, truncation_psi=truncation_psi, class_idx=0 if G.c_dim else None)
    return save_image_grid(images, path, ncols=min(ncols, len(seeds)))


def _lookup(values: dict, key: str):
    """values["a"]["b"] for key "a.b" (None where a level is missing)."""
    for part in key.split("."):
        values = (values or {}).get(part)
    return values


def _reproduce_commands(recipe: dict, kimg: float, name: str, out: str, parent: dict | None = None) -> str:
    """The `stylealign train` (or, for a child, `finetune --parent`) + `export` commands of this run."""
    train = recipe.get("train", {})
    if not train:
        return "(the run recorded no recipe)"
    data_name = recipe.get("data_name") or "DATA"
    defaults = TrainConfig().to_dict()
    flags = []
    for key, flag in CLI_FLAGS.items():  # every setting that differs from the default, as its CLI flag
        if key in _NOT_IN_RECIPE_FLAGS:
            continue
        value, default = _lookup(train, key), _lookup(defaults, key)
        # finetune.* flags exist on `finetune` only; a child's architecture is its parent's (no network.* flags)
        if value is None or value == default or key.startswith("network." if parent else "finetune."):
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        flags.append(flag if isinstance(value, bool) else f"{flag} {value:g}" if isinstance(value, float)
                     else f"{flag} {value}")
    flags = " ".join(flags)
    verb = f"finetune --parent {parent.get('uri')}" if parent else "train"
    cmd = (f"stylealign {verb} --data data/{data_name} --out runs/{name} {flags} --batch {train.get('batch')} "
           f"--kimg {kimg:g} --precision {train.get('precision')} --snapshot-kimg {train.get('snapshot_kimg'):g} "
           f"--seed {train.get('seed', 0)} --resume latest")
    return cmd + f"\nstylealign export --run runs/{name} --out {out}"


def _lineage_lines(resumed_from) -> list[str]:
    """The model card's ``resumed_from`` chain: every weights-only resume back to the first seed."""
    chain = as_chain(resumed_from)
    if not chain:
        return []
    lines = ["Lineage (`resumed_from`, newest first: each leg continued from these weights):", ""]
    for entry in chain:
        lines.append(f"- kimg {entry.get('kimg', '?')}: `{entry.get('uri')}` (sha256 `{str(entry.get('sha256'))[:16]}`)")
    return lines + [""]


def _card(name, out, manifest: dict, meta: dict, log_row: dict | None, seeds, dtype, has_reals: bool) -> str:
    recipe = meta.get("recipe", {})
    train = recipe.get("train", {})
    lines = [f"# {name}", "",
             f"A StyleGAN2 {meta.get('kind', 'network')} trained with stylealign "
             f"(commit `{str(recipe.get('commit'))[:12]}`) on `{recipe.get('data_name')}` "
             f"({recipe.get('num_images')} training images).", "",
             "| | |", "|---|---|",
             f"| kimg (images shown to D / 1000) | {meta.get('kimg')} |",
             f"| steps | {meta.get('step')} |",
             f"| ADA augmentation p | {meta.get('augment_p', 0):.4f} |",
             f"| batch / precision / R1 gamma | {train.get('batch')} / {train.get('precision')} / "
             f"{train.get('r1_gamma')} |",
             f"| weights | `network.safetensors` ({dtype or 'float32'} storage), sha256 "
             f"`{manifest['tensors']['sha256']}` |"]
    for net_name, entry in manifest["networks"].items():
        cfg = entry["config"]
        lines.append(f"| {net_name} | {entry['class']} {cfg['img_resolution']}px, {entry['num_params']:,} params, "
                     f"channel_base {cfg['channel_base']}, channel_max {cfg['channel_max']}"
                     + (f", z/w {cfg['z_dim']}/{cfg['w_dim']}, {cfg['mapping_layers']} mapping layers"
                        if "z_dim" in cfg else "") + " |")
    if log_row:
        keys = [k for k in ("loss_G", "loss_D", "loss_r1", "loss_pl", "images_per_s") if k in log_row]
        lines.append("| last log row | " + ", ".join(f"{k} {log_row[k]:.4g}" for k in keys) + " |")
    class_flag = " --class-idx 0" if manifest["networks"]["G_ema"]["config"].get("c_dim") else ""
    lines += ["", f"`samples.png`: G_ema at seeds {seeds[0]}-{seeds[-1]}, truncation 1.0, constant noise "
              "(`stylealign generate --network network.json --seeds "
              f"{seeds[0]}-{seeds[-1]}{class_flag} --ncols 8 --out samples.png`); "
              f"`samples-trunc{TRUNCATED_PSI}.png`: the same "
              f"seeds at truncation psi {TRUNCATED_PSI} (`--trunc {TRUNCATED_PSI}`)."
              + (" `reals.png`: training images, for comparison." if has_reals else "")
              + (" `training-curves.png`: the training log (losses, regularisers, ADA p and r_t, images/s) up to "
                 "this snapshot." if log_row else ""), "",
              quality_section([]), ""] + _lineage_lines(meta.get("resumed_from")) + [
              f"Reproduce at commit `{recipe.get('commit')}` (training resumes with the same command after an "
              "interruption; `--kimg` is where this snapshot was taken: the learning-rate, EMA and ADA schedules "
              "do not depend on the total length):", "",
              "```bash", _reproduce_commands(recipe, float(meta.get("kimg", 0)), name, out,
                                                      meta.get("parent")), "```", ""]
    return "\n".join(lines)


EXPORTABLE = ("G", "D", "G_ema")


def export_model(run_dir: str | os.PathLike, out_dir: str | os.PathLike, snapshot: str | os.PathLike = "latest",
                 dtype: str | None = "float16", num_samples: int = 64, overwrite: bool = False,
                 networks: Sequence[str] = EXPORTABLE) -> Path:
    """Export ``snapshot`` of ``run_dir`` to ``out_dir`` (see the module docstring); returns out_dir.

    ``networks``: which of G, D, G_ema to store. ("G_ema", "D") is what users and a weights-only resume need
    (the resume takes G from G_ema) at two thirds of the bytes: the shipped parent is exported so."""
    unknown = set(networks) - set(EXPORTABLE)
    if unknown or "G_ema" not in networks:
        raise InputMismatch(f"networks: choose from {', '.join(EXPORTABLE)} and include G_ema (the samples are "
                         f"drawn from it), got {', '.join(networks) or 'none'}")
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    snap = resolve_snapshot(run_dir, snapshot)
    if out_dir.exists() and not overwrite:
        raise OutputExists(f"{out_dir} exists; pass overwrite=True (--force) to replace it")
    ckpt = load_checkpoint(snap / "network.json")
    missing = {"G", "D", "G_ema"} - set(ckpt.networks)
    if missing:
        raise SnapshotError(f"{snap}: the snapshot lacks {sorted(missing)}; it is not a training snapshot")
    meta = dict(ckpt.metadata, exported_from={"snapshot": str(snap), "sha256": ckpt.sha256})
    config_path = run_dir / "config.json"
    if config_path.is_file():  # the run's resolved settings (e.g. r1_gamma "auto" -> its value)
        resolved = json.loads(config_path.read_text()).get("train")
        if resolved:
            meta["recipe"] = dict(meta.get("recipe") or {}, train=resolved)
    nimg = int(round(float(meta.get("kimg", 0)) * 1000))
    rows = read_log(run_dir / "log.parquet", up_to_nimg=nimg) if (run_dir / "log.parquet").exists() else []

    carried_path = out_dir / RECORDS_FILE  # the FID/KID records of the exports this one replaces
    carried = carried_path.read_bytes() if overwrite and carried_path.is_file() else None

    def fill(tmp: Path) -> None:
        stored = {name: net for name, net in ckpt.networks.items() if name in networks}
        manifest_path = save_checkpoint(tmp / DIR_CHECKPOINT_NAME, stored, metadata=meta,
                                        extra_tensors=ckpt.extra, dtype=dtype)
        manifest = json.loads(manifest_path.read_text())
        seeds = list(range(num_samples))
        G = load_checkpoint(manifest_path, networks=["G_ema"]).networks["G_ema"]  # what users will load
        sample_grid(G, seeds, tmp / "samples.png")
        sample_grid(G, seeds, tmp / f"samples-trunc{TRUNCATED_PSI}.png", truncation_psi=TRUNCATED_PSI)
        has_reals = (run_dir / "reals.png").is_file()
        if has_reals:
            shutil.copyfile(run_dir / "reals.png", tmp / "reals.png")
        if rows:
            plot_training_log(rows, tmp / "training-curves.png", title=f"{out_dir.name}: training log",
                              ada_target=_lookup(meta.get("recipe"), "train.ada_target"))
        (tmp / "MODEL_CARD.md").write_text(_card(out_dir.name, str(out_dir), manifest, meta, rows[-1] if rows else None, seeds,
                                                 dtype, has_reals))
        if carried is not None:
            (tmp / RECORDS_FILE).write_bytes(carried)
            refresh_quality(tmp, title=out_dir.name)

    publish_dir(out_dir, fill, overwrite=overwrite)
    return out_dir
