"""Stage `parent`: turn ``parent.uri`` into our checkpoint format in ``parent.out``.

``fetch_parent`` downloads an https checkpoint into the checkpoint library's cache (retried; the
pinned sha256 is checked there). ``resolve_parent`` reads any supported format with
:func:`stylealign_core.checkpoints.load_checkpoint` (official .pkl and rosinality .pt are converted,
no pickle code runs) or, for ``uri: init``, builds a freshly initialised parent; it writes
``OUT/network.json`` + ``OUT/network.safetensors`` and ``OUT/lineage.json`` (source uri, format and
sha256, the resolved file's sha256, the parent chain recorded in the checkpoint).
"""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

import torch
from prefect import task
from prefect.cache_policies import NO_CACHE

from stylealign_core.checkpoints import (DIR_CHECKPOINT_NAME, CheckpointError, fetch, load_checkpoint, save_checkpoint,
                                        sha256_file)
from stylealign_core.atomic import write_json_atomic
from stylealign_core.checkpoints.native import checkpoint_paths

from ._common import FETCH_RETRIES, FETCH_RETRY_DELAYS, logger, read_json

NETWORK_NAME = DIR_CHECKPOINT_NAME  # OUT/network.json + OUT/network.safetensors (a model directory)
LINEAGE_NAME = "lineage.json"
REQUIRED_NETWORKS = ("G", "D")    # fine-tuning needs both; G_ema is copied from G when absent


def resolved_checkpoint(out: str | Path) -> Path:
    """The manifest path of the resolved parent inside ``out``."""
    return Path(out) / f"{NETWORK_NAME}.json"


def _retry_download(task, task_run, state) -> bool:
    """Retry downloads that failed on the way (network, server); not hash mismatches or bad URLs."""
    try:
        state.result()
    except CheckpointError as exc:
        return exc.problem.startswith("download failed")
    except OSError:
        return True
    except Exception:  # noqa: BLE001
        return False
    return False


@task(name="parent.fetch_parent", retries=FETCH_RETRIES, retry_delay_seconds=FETCH_RETRY_DELAYS,
      retry_condition_fn=_retry_download, cache_policy=NO_CACHE)
def fetch_parent(uri: str, sha256: str | None) -> str:
    """Local path of the https checkpoint ``uri`` (downloaded once into ``$STYLEALIGN_CACHE``)."""
    path = fetch(uri, sha256=sha256)
    logger().info("fetched %s -> %s", uri, path)
    return str(path)


def _source_state(local: str | None) -> dict:
    """What identifies the bytes of a local source (for the up-to-date check)."""
    if local is None:
        return {}
    p = Path(local)
    try:
        if p.name.endswith(".json") or not p.exists():
            manifest, tensors = checkpoint_paths(p)
            return {"sha256": sha256_file(tensors)} if tensors.exists() else {}
        return {"sha256": sha256_file(p)}
    except OSError:
        return {}


@task(name="parent.resolve_parent", cache_policy=NO_CACHE)
def resolve_parent(uri: str, local: str | None, sha256: str | None, out: str, init: dict | None = None) -> dict:
    """Write the parent in our format to ``out``; returns the lineage record.

    ``uri``: what params.yaml says; ``local``: its local file (None for ``init``); ``init``: seed,
    resolution and network settings of a freshly initialised parent.
    """
    log = logger()
    out_dir = Path(out)
    request = {"uri": uri, "sha256": sha256, "init": init, "source": _source_state(local)}
    previous = read_json(out_dir / LINEAGE_NAME)
    if previous and previous.get("request") == request and _intact(out_dir, previous):
        log.info("%s is up to date (sha256 %s), kept", out_dir, previous["resolved"]["sha256"])
        return previous

    if init is not None:
        networks, metadata, source = _init_networks(init), {"kind": "parent", "init": init}, {
            "uri": uri, "format": "init", "sha256": None}
        chain = []
    else:
        try:
            ckpt = load_checkpoint(local, sha256=sha256)
        except CheckpointError as exc:
            raise CheckpointError(exc.source, f"parent.uri {uri!r}: {exc.problem}",
                                  exc.fix or "set parent.uri in params.yaml to a stylealign checkpoint "
                                  "(NAME or NAME.json), a .pkl/.pt file, an https:// URL or 'init'") from None
        missing = [n for n in REQUIRED_NETWORKS if n not in ckpt.networks]
        if missing:
            raise CheckpointError(ckpt.source, f"parent.uri {uri!r}: fine-tuning needs the parent's "
                                  f"{' and '.join(missing)} network(s); the checkpoint holds only "
                                  f"{', '.join(sorted(ckpt.networks))}",
                                  "use a training checkpoint (with G and D), e.g. network-final.json of a run")
        networks = {name: ckpt.networks[name] for name in ("G", "D", "G_ema") if name in ckpt.networks}
        networks.setdefault("G_ema", copy.deepcopy(networks["G"]))
        metadata = dict(ckpt.metadata)
        metadata.setdefault("kind", "parent")
        if ckpt.format != "stylealign":
            metadata["converted_from"] = ckpt.lineage()
        source = {"uri": uri, "format": ckpt.format, "sha256": ckpt.sha256, "file": str(ckpt.source)}
        chain = [metadata["parent"]] if isinstance(metadata.get("parent"), dict) else []
        for note in ckpt.notes:
            log.info("conversion note: %s", note)

    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        save_checkpoint(tmp / NETWORK_NAME, networks, metadata=metadata)
        _, tensors = checkpoint_paths(tmp / NETWORK_NAME)
        G = networks["G_ema"]
        lineage = {
            "request": request,
            "source": source,
            "resolved": {"checkpoint": f"{NETWORK_NAME}.json", "sha256": sha256_file(tensors),
                         "networks": sorted(networks), "resolution": int(G.img_resolution),
                         "z_dim": int(G.z_dim), "w_dim": int(G.w_dim),
                         "num_params": {k: int(sum(p.numel() for p in m.parameters())) for k, m in networks.items()}},
            "ancestors": chain,
        }
        write_json_atomic(tmp / LINEAGE_NAME, lineage)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("resolved parent %s (%s) -> %s, sha256 %s", uri, source["format"], out_dir, lineage["resolved"]["sha256"])
    return lineage


def _intact(out_dir: Path, lineage: dict) -> bool:
    try:
        _, tensors = checkpoint_paths(resolved_checkpoint(out_dir))
        return sha256_file(tensors) == lineage["resolved"]["sha256"]
    except (OSError, KeyError, TypeError):
        return False


def _init_networks(init: dict) -> dict:
    """G, D and G_ema (= G) freshly initialised from ``init`` (seed, resolution, network)."""
    from stylealign_core.training.config import NetworkConfig, TrainConfig
    from stylealign_core.training.loop import build_networks

    cfg = TrainConfig(network=NetworkConfig(**init["network"]), seed=int(init["seed"]))
    torch.manual_seed(int(init["seed"]))
    G, D = build_networks(cfg, int(init["resolution"]), 3, 0)
    return {"G": G.eval(), "D": D.eval(), "G_ema": copy.deepcopy(G).eval()}
