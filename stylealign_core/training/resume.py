"""Resuming a run: exact (from a snapshot of the run) or weights only (from any checkpoint).

* ``resume_snapshot`` restores networks, optimizers, loss state, ADA and progress. It first checks that
  the snapshot was made by the same run: same parent, same data, same kind of run and the same training
  settings except those in ``RESUMABLE_CHANGES``; a mismatch raises :class:`ResumeMismatch` naming what
  changed and the fix, for every entry point (API, CLI, pipeline).
* ``resume_weights`` is stylegan2-ada-pytorch's ``--resume PKL``: G, D, G_ema and ADA p from any checkpoint
  the loader reads (ours, an exported model, an official .pkl, a rosinality .pt). A file with only G_ema
  and D (an exported float16 model) gives G from G_ema.

The lineage of weights-only resumes is a chain (``resumed_from``, newest first): each entry is
``{uri, sha256, format, kimg}`` of a checkpoint the run took its weights from, followed by that
checkpoint's own chain, back to the first run that started from scratch (or from a parent).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputMismatch
from ..checkpoints import load_checkpoint
from . import snapshots as snap
from .build import Networks
from .rundir import snapshot_checkpoint, snapshot_state

# Settings that may change between a snapshot and its resumed run: the run's length and snapshot cadence,
# where and how fast it runs, and the learning rates and Adam settings (the resumed run applies the current
# ones). Any other change (seed, batch, network, regularisation, augmentation, freezing) makes another run.
RESUMABLE_CHANGES = frozenset({"total_kimg", "snapshot_kimg", "keep_snapshots", "batch_gpu", "device", "precision",
                               "channels_last", "grid_size", "augment_p", "lr_g", "lr_d", "betas", "eps"})


class ResumeMismatch(snap.SnapshotError):
    """The snapshot to resume was made with another parent, data set or settings; the message says which."""


def as_chain(resumed_from) -> list[dict]:
    """A ``resumed_from`` value as a chain: a list stays, an old single dict is a one-element chain."""
    if not resumed_from:
        return []
    return [dict(e) for e in resumed_from] if isinstance(resumed_from, list) else [dict(resumed_from)]


def _plain(value):
    return json.loads(json.dumps(value, default=str))


def _data_differs(old: dict, new: dict) -> str | None:
    if not old or not new or not old.get("data") or not new.get("data"):
        return None
    if old.get("data_name") and new.get("data_name"):  # by identity: a run directory may move between machines
        old_id, new_id = (old["data_name"], old.get("num_images")), (new["data_name"], new.get("num_images"))
        return None if old_id == new_id else f"data: {old_id[0]} ({old_id[1]} images) -> {new_id[0]} ({new_id[1]} images)"
    if Path(old["data"]).resolve() != Path(new["data"]).resolve():
        return f"data: {old['data']} -> {new['data']}"
    return None


def resume_mismatches(recorded_train: dict, recorded_meta: dict, train: dict, metadata: dict,
                      allowed=RESUMABLE_CHANGES) -> list[str]:
    """What differs between a snapshot's records and the run about to resume it ("key: old -> new")."""
    old, new, diffs = _plain(recorded_train or {}), _plain(train or {}), []
    for key in sorted(set(old) | set(new)):
        if key in allowed or (key in ("r1_gamma", "ema_kimg") and new.get(key) in ("auto", None)):
            continue  # "auto"/None: the snapshot records what they resolved to
        if key in old and key in new and old[key] != new[key]:
            diffs.append(f"train.{key}: {old[key]!r} -> {new[key]!r}")
    recorded_meta, metadata = recorded_meta or {}, metadata or {}
    if recorded_meta.get("kind") and metadata.get("kind") and recorded_meta["kind"] != metadata["kind"]:
        diffs.append(f"kind: {recorded_meta['kind']} -> {metadata['kind']}")
    old_parent = (recorded_meta.get("parent") or {}).get("sha256")
    new_parent = (metadata.get("parent") or {}).get("sha256")
    if (old_parent or new_parent) and old_parent != new_parent:
        uri = (metadata.get("parent") or {}).get("uri")
        diffs.append(f"parent: sha256 {str(old_parent)[:12]}... -> {str(new_parent)[:12]}... ({uri or 'none'})")
    data = _data_differs(recorded_meta.get("recipe") or {}, metadata.get("recipe") or {})
    if data:
        diffs.append(data)
    return diffs


def check_resumable(snapshot: Path, train: dict, metadata: dict | None, allowed=RESUMABLE_CHANGES,
                    recorded_train: dict | None = None, recorded_meta: dict | None = None) -> None:
    """Raise :class:`ResumeMismatch` when ``snapshot`` cannot be resumed with ``train`` and ``metadata``."""
    snapshot = Path(snapshot)
    if recorded_train is None:
        recorded_train = snap.load_state(snapshot_state(snapshot)).get("config") or {}
    if recorded_meta is None:
        recorded_meta = load_checkpoint(snapshot_checkpoint(snapshot), networks=()).metadata or {}
    diffs = resume_mismatches(recorded_train, recorded_meta, train, metadata, allowed)
    if diffs:
        run = snapshot.parent.parent
        raise ResumeMismatch(
            f"{snapshot} was made with other settings than this run ({'; '.join(diffs)}). Resume it with the "
            f"settings it was trained with, or start a new run in another directory (or remove {run}); to carry "
            f"its weights into a run with the new settings, resume weights only: --resume "
            f"{snapshot_checkpoint(snapshot)}.json with a new --out")


def check_run_resumable(run_dir, train: dict, metadata: dict | None, allowed=RESUMABLE_CHANGES) -> None:
    """``check_resumable`` against the newest snapshot of ``run_dir`` (nothing to check without one)."""
    snaps = snap.list_snapshots(run_dir)
    if snaps:
        check_resumable(snaps[-1], train, metadata, allowed)


def resume_weights(uri: str, nets: Networks, batch: int, device) -> tuple[int, int, list[dict]]:
    """Weights-only resume; returns (step, nimg, resumed_from chain). Optimizer states and the path-length
    mean start fresh; progress continues from the checkpoint's recorded kimg and step (0 where none)."""
    ckpt = load_checkpoint(uri, device=str(device))
    has = set(ckpt.networks)
    if "D" not in has or not has & {"G", "G_ema"}:
        raise InputMismatch(f"{uri}: resuming training needs D and G (or G_ema); this checkpoint lacks "
                         f"{sorted({'D', 'G'} - has)} (it holds {sorted(has)}); resume from a snapshot, an "
                         f"exported model or a training pickle")
    for name, net in (("G", nets.G), ("D", nets.D), ("G_ema", nets.G_ema)):
        fallback = "G_ema" if name == "G" else "G"  # an export without G: G starts as G_ema; G_ema as G
        source = ckpt.networks[name] if name in ckpt.networks else ckpt.networks[fallback]
        try:
            net.load_state_dict(source.state_dict())
        except RuntimeError as exc:
            raise InputMismatch(f"{uri}: its {name} does not fit this run's network settings; pass the settings it "
                             f"was trained with (stylealign info {uri})\n{exc}") from exc
    meta = ckpt.metadata or {}
    p = ckpt.extra.get("augment_pipe.p", meta.get("augment_p"))
    if nets.augment_pipe is not None and p is not None:
        nets.augment_pipe.p.fill_(float(p))
    nimg = int(round(float(meta.get("kimg", 0)) * 1000))
    step = int(meta.get("step", nimg // batch))
    return step, nimg, [dict(ckpt.lineage(), kimg=nimg / 1000)] + as_chain(meta.get("resumed_from"))


def resume_snapshot(path: Path, nets: Networks, train: dict, metadata: dict | None, device) -> tuple:
    """Exact resume from the snapshot directory ``path``; returns (step, nimg, resumed_from chain)."""
    ckpt = load_checkpoint(snapshot_checkpoint(path), device=str(device))
    state = snap.load_state(snapshot_state(path))
    check_resumable(path, train, metadata, recorded_train=state.get("config") or {}, recorded_meta=ckpt.metadata)
    for name, net in (("G", nets.G), ("D", nets.D), ("G_ema", nets.G_ema)):
        net.load_state_dict(ckpt.networks[name].state_dict())
    for opt, key in ((nets.opt_G, "opt_G"), (nets.opt_D, "opt_D")):
        if opt is not None:
            settings = [{k: g[k] for k in ("lr", "betas", "eps")} for g in opt.param_groups]
            opt.load_state_dict(state[key])
            for group, setting in zip(opt.param_groups, settings):  # the current config wins
                group.update(setting)
    nets.loss.pl_mean.copy_(state["pl_mean"])
    if nets.ada is not None:
        nets.ada.load_state_dict(state["ada"])
    # keep the lineage of earlier weights-only resumes
    return int(state["step"]), int(state["nimg"]), as_chain((ckpt.metadata or {}).get("resumed_from"))
