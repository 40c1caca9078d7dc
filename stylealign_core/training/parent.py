"""Resolve a parent: any checkpoint, or a freshly initialised network, as a model directory.

    result = resolve_parent("models/parent/emoji-noto-64", local="models/parent/emoji-noto-64",
                            sha256=None, out="models/parent-resolved")
    result.lineage["resolved"]["sha256"]     # of OUT/network.safetensors
    result.rebuilt                            # False: OUT already matched the request and was kept

``OUT/network.json`` + ``OUT/network.safetensors`` hold G, D and G_ema (G_ema copied from G when the
source has none) in our format: official ``.pkl`` and rosinality ``.pt`` files are converted (no pickle
code runs). ``uri == "init"`` builds an untrained parent from ``init`` (seed, resolution, network).
``OUT/lineage.json`` records the request, the source (uri, format, sha256), the resolved file's sha256
and the parent chain the checkpoint records. The directory is published atomically
(:func:`stylealign_core.atomic.publish_dir`).
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..atomic import publish_dir, write_json_atomic
from ..checkpoints import DIR_CHECKPOINT_NAME, CheckpointError, load_checkpoint, save_checkpoint, sha256_file
from ..checkpoints.native import checkpoint_paths
from ..params import INIT_URI

NETWORK_NAME = DIR_CHECKPOINT_NAME  # OUT/network.json + OUT/network.safetensors (a model directory)
LINEAGE_NAME = "lineage.json"
REQUIRED_NETWORKS = ("G", "D")      # fine-tuning needs both (G may come from G_ema); G_ema is copied from G when absent


@dataclass
class ResolvedParent:
    """What :func:`resolve_parent` did: the lineage record, whether OUT was (re)written, conversion notes."""
    lineage: dict
    rebuilt: bool
    notes: list[str] = field(default_factory=list)


def resolved_checkpoint(out: str | Path) -> Path:
    """The manifest path of the resolved parent inside ``out``."""
    return Path(out) / f"{NETWORK_NAME}.json"


def source_state(local: str | None) -> dict:
    """What identifies the bytes of a local source (for the up-to-date check); {} when unreadable."""
    if local is None:
        return {}
    p = Path(local)
    try:
        if p.name.endswith(".json") or not p.exists():
            _, tensors = checkpoint_paths(p)
            return {"sha256": sha256_file(tensors)} if tensors.exists() else {}
        return {"sha256": sha256_file(p)}
    except OSError:
        return {}


def init_parent_networks(init: dict) -> dict[str, torch.nn.Module]:
    """G, D and G_ema (= G) freshly initialised from ``init`` (seed, resolution, network settings)."""
    from .config import NetworkConfig, TrainConfig
    from .loop import build_networks

    cfg = TrainConfig(network=NetworkConfig(**init["network"]), seed=int(init["seed"]))
    with torch.random.fork_rng(devices=[]):  # the caller's RNG stream is not moved
        torch.manual_seed(int(init["seed"]))
        G, D = build_networks(cfg, int(init["resolution"]), 3, 0)
    return {"G": G.eval(), "D": D.eval(), "G_ema": copy.deepcopy(G).eval()}


def _load_source(uri: str, local: str, sha256: str | None):
    """(networks, metadata, source record, ancestors, notes) of an existing checkpoint."""
    try:
        ckpt = load_checkpoint(local, sha256=sha256)
    except CheckpointError as exc:
        raise CheckpointError(exc.source, f"parent.uri {uri!r}: {exc.problem}",
                              exc.fix or "set parent.uri in params.yaml to a stylealign checkpoint "
                              "(NAME or NAME.json), a .pkl/.pt file, an https:// URL or 'init'") from None
    have = set(ckpt.networks) | ({"G"} if "G_ema" in ckpt.networks else set())  # a shipped export: G_ema + D
    missing = [n for n in REQUIRED_NETWORKS if n not in have]
    if missing:
        raise CheckpointError(ckpt.source, f"parent.uri {uri!r}: fine-tuning needs the parent's "
                              f"{' and '.join(missing)} network(s); the checkpoint holds only "
                              f"{', '.join(sorted(ckpt.networks))}",
                              "use a training checkpoint (with G or G_ema, and D), e.g. network-final.json of a run")
    networks = {name: ckpt.networks[name] for name in ("G", "D", "G_ema") if name in ckpt.networks}
    networks.setdefault("G", copy.deepcopy(networks.get("G_ema")))  # the child starts from the parent's G_ema
    networks.setdefault("G_ema", copy.deepcopy(networks["G"]))
    metadata = dict(ckpt.metadata)
    metadata.setdefault("kind", "parent")
    if ckpt.format != "stylealign":
        metadata["converted_from"] = ckpt.lineage()
    source = {"uri": uri, "format": ckpt.format, "sha256": ckpt.sha256, "file": str(ckpt.source)}
    ancestors = [metadata["parent"]] if isinstance(metadata.get("parent"), dict) else []
    return networks, metadata, source, ancestors, list(ckpt.notes)


def _read_lineage(out_dir: Path) -> dict | None:
    try:
        return json.loads((out_dir / LINEAGE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_intact(out_dir: str | Path, lineage: dict) -> bool:
    """Whether OUT's tensor file is the one ``lineage`` vouches for."""
    try:
        _, tensors = checkpoint_paths(resolved_checkpoint(out_dir))
        return sha256_file(tensors) == lineage["resolved"]["sha256"]
    except (OSError, KeyError, TypeError):
        return False


def resolve_parent(uri: str, local: str | None, sha256: str | None, out: str | Path,
                   init: dict | None = None) -> ResolvedParent:
    """Write the parent ``uri`` in our format to the directory ``out`` (kept when it already matches).

    ``local``: the local file of ``uri`` (an https URL is fetched by the caller; None for ``init``);
    ``sha256``: optional pin of the source; ``init``: seed, resolution and network settings, used when
    ``uri`` is ``"init"``.
    """
    out_dir = Path(out)
    request = {"uri": uri, "sha256": sha256, "init": init, "source": source_state(local)}
    previous = _read_lineage(out_dir)
    if previous and previous.get("request") == request and is_intact(out_dir, previous):
        return ResolvedParent(previous, rebuilt=False)
    if init is not None:
        networks, metadata = init_parent_networks(init), {"kind": "parent", "init": init}
        source, ancestors, notes = {"uri": uri, "format": INIT_URI, "sha256": None}, [], []
    elif local is None:
        raise CheckpointError(None, f"parent.uri {uri!r}: no local file and no init settings",
                              "fetch the checkpoint first, or use uri 'init' with init settings")
    else:
        networks, metadata, source, ancestors, notes = _load_source(uri, local, sha256)

    def fill(tmp: Path) -> dict:
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
            "ancestors": ancestors,
        }
        write_json_atomic(tmp / LINEAGE_NAME, lineage)
        return lineage

    return ResolvedParent(publish_dir(out_dir, fill), rebuilt=True, notes=notes)
