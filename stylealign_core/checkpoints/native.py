"""The stylealign checkpoint format: ``NAME.safetensors`` + ``NAME.json``.

``NAME.safetensors`` holds every tensor. Network tensors are named ``<network>.<state-dict key>``
(``G.mapping.fc0.weight``, ``D.b4.out.bias``, ``G_ema.synthesis.b16.conv1.affine.weight``); other
tensors ("extras", e.g. ``augment_pipe.p``) keep their own names.

``NAME.json`` (the manifest) is written last and is what makes the pair valid::

    {
      "format": "stylealign-checkpoint", "format_version": 1,
      "tensors":  {"file": "NAME.safetensors", "sha256": "<hex>", "bytes": 123, "count": 180},
      "networks": {"G_ema": {"class": "Generator", "module": "stylealign_core.generator",
                             "config": {...constructor kwargs...}, "num_params": 1}},
      "extra":    {"augment_pipe.p": {"shape": [], "dtype": "float32"}},
      "metadata": {...free-form JSON: kimg, recipe, parent {uri, sha256}, commit, ...},
      "written_by": {"stylealign": "0.1.0", "torch": "2.13.0"}
    }

No time stamps and a single sorted-JSON safetensors header key: saving the same tensors and metadata
twice gives byte-identical files (DVC sees no change). Networks are rebuilt from ``class`` + ``config`` (no
pickle anywhere) and loaded with strict=True. ``class`` is a name in :mod:`stylealign_core.registry` (any
``@register_network`` class can be saved; ``config`` is its recorded constructor arguments); ``module``
(optional, absent in older files) names where it is defined, imported on load when it is a stylealign module.
Saving is atomic: each file is written to a temporary name in the target directory, fsynced and
``os.replace``d; the manifest goes last, so an interrupted save leaves either the previous valid
pair or a tensor file whose sha256 the manifest does not vouch for (refused on load).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import torch

from .. import __version__
from ..atomic import fsync_path as _fsync_path
from ..atomic import write_atomic as _write_atomic
from .errors import CheckpointError
from .networks import NetworkSpec, RawCheckpoint, network_config

FORMAT_NAME = "stylealign-checkpoint"
FORMAT_VERSION = 1
MANIFEST_SUFFIX, TENSORS_SUFFIX = ".json", ".safetensors"
DIR_CHECKPOINT_NAME = "network"  # the checkpoint of a directory (exported model, snapshot): DIR/network.json
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CHUNK = 1 << 20


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(manifest, tensors) paths of a checkpoint given as NAME, NAME.json or NAME.safetensors."""
    path = Path(path)
    name = path.name
    for suffix in (MANIFEST_SUFFIX, TENSORS_SUFFIX):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if not name:
        raise CheckpointError(path, "a checkpoint needs a file name")
    return path.with_name(name + MANIFEST_SUFFIX), path.with_name(name + TENSORS_SUFFIX)


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _json_default(obj):
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:  # numpy / torch scalars
        return obj.item()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serializable")


def to_json(obj, what: str = "metadata", source=None, indent: int | None = 2) -> str:
    try:
        return json.dumps(obj, indent=indent, default=_json_default, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(source, f"{what} must be JSON-serializable: {exc}",
                              "store strings, numbers, lists and dicts") from None


STORE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def _collect_tensors(networks: dict, extra_tensors: dict | None, dtype: torch.dtype | None = None):
    if not networks:
        raise CheckpointError(None, "save_checkpoint needs at least one network")
    tensors, described = {}, {}
    for name, module in networks.items():
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise CheckpointError(None, f"network name {name!r} must be an identifier (letters, digits, _)")
        class_name, config = network_config(module)
        state = module.state_dict()
        for key, t in state.items():
            t = t.detach().to("cpu")
            if dtype is not None and t.is_floating_point():
                t = t.to(dtype)
            tensors[f"{name}.{key}"] = t.contiguous().clone()
        num_params = sum(p.numel() for p in module.parameters())
        described[name] = {"class": class_name, "module": type(module).__module__, "config": config,
                           "num_params": int(num_params)}
    extras = {}
    for key, t in (extra_tensors or {}).items():
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(None, f"extra tensor {key!r} is a {type(t).__name__}, not a tensor")
        if not isinstance(key, str) or not key or key.split(".")[0] in networks:
            raise CheckpointError(None, f"extra tensor name {key!r} is empty or collides with a network prefix")
        tensors[key] = t.detach().to("cpu").contiguous().clone()
        extras[key] = {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}
    return tensors, described, extras


def save_checkpoint(path: str | os.PathLike, networks: dict[str, torch.nn.Module], metadata: dict | None = None,
                    extra_tensors: dict[str, torch.Tensor] | None = None, dtype: str | None = None) -> Path:
    """Write ``NAME.safetensors`` then ``NAME.json`` atomically; returns the manifest path.

    ``networks`` maps names ("G", "D", "G_ema", ...) to modules of registered classes (Generator,
    Discriminator or any ``@register_network`` class, see :mod:`stylealign_core.registry`); ``metadata`` is free-form JSON (kimg, recipe, parent lineage {uri, sha256}, commit...).
    ``dtype`` ("float16" or "bfloat16"; default: as the modules hold them, float32) stores the networks'
    floating-point tensors at that precision, halving the file (e.g. to ship a model in a repository);
    loading always gives float32 modules. Extra tensors are stored as given.
    """
    from safetensors.torch import save_file

    manifest_path, tensors_path = checkpoint_paths(path)
    metadata = dict(metadata or {})
    to_json(metadata, source=manifest_path)  # fail before writing anything
    if dtype is not None and dtype not in STORE_DTYPES:
        raise CheckpointError(manifest_path, f"storage dtype {dtype!r} is not one of {', '.join(STORE_DTYPES)}")
    tensors, described, extras = _collect_tensors(networks, extra_tensors, STORE_DTYPES.get(dtype))
    to_json(described, what="network configs", source=manifest_path)
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    # One header key holding sorted JSON: safetensors serialises its metadata map in hash order, so
    # several keys would make the bytes (and the sha256 DVC tracks) differ between identical saves.
    header = {"stylealign": json.dumps({"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                                        "manifest": manifest_path.name}, sort_keys=True)}
    written = {}

    def write_tensors(tmp: Path) -> None:
        save_file(tensors, str(tmp), metadata=header)
        written.update(sha256=sha256_file(tmp), bytes=tmp.stat().st_size)  # hash what we wrote, not a later file

    _write_atomic(tensors_path, write_tensors)
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "tensors": {"file": tensors_path.name, **written, "count": len(tensors),
                    **({"stored_dtype": dtype} if dtype else {})},
        "networks": described,
        "extra": extras,
        "metadata": metadata,
        "written_by": {"stylealign": __version__, "torch": torch.__version__},
    }
    text = to_json(manifest, source=manifest_path) + "\n"
    _write_atomic(manifest_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    _fsync_path(manifest_path.parent, directory=True)
    return manifest_path


def read_manifest(manifest_path: Path) -> dict:
    if not manifest_path.exists():
        raise CheckpointError(manifest_path, "manifest not found",
                              "a stylealign checkpoint is the pair NAME.json + NAME.safetensors; copy both "
                              "(a missing manifest can also mean the save was interrupted)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(manifest_path, f"manifest is not valid JSON ({exc})",
                              "the file is truncated or corrupt; re-save or re-copy the checkpoint") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise CheckpointError(manifest_path, f"not a stylealign checkpoint manifest (format={manifest.get('format')!r})"
                              if isinstance(manifest, dict) else "not a stylealign checkpoint manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(manifest_path, f"format_version {version!r} is newer than this stylealign reads "
                              f"({FORMAT_VERSION})", "upgrade stylealign")
    for key, kind in (("tensors", dict), ("networks", dict)):
        if not isinstance(manifest.get(key), kind):
            raise CheckpointError(manifest_path, f"manifest field {key!r} is missing or malformed")
    file = manifest["tensors"].get("file")
    if not isinstance(file, str) or not file or Path(file).name != file or file in (".", ".."):
        raise CheckpointError(manifest_path, f"manifest names tensor file {file!r}; it must be a plain file name "
                              "in the same directory")
    return manifest


def manifest_for(path: str | os.PathLike) -> Path:
    """The manifest of a checkpoint given as NAME, NAME.json, NAME.safetensors or a renamed file of the pair."""
    path = Path(path)
    if path.is_file() and not path.name.endswith(MANIFEST_SUFFIX):
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) == 8 and head[:1] != b"{":  # a safetensors file: its header names its manifest
                try:
                    header = json.loads(f.read(min(int.from_bytes(head, "little"), 1 << 24)))
                    name = json.loads(header.get("__metadata__", {}).get("stylealign", "{}")).get("manifest")
                    if isinstance(name, str) and name and Path(name).name == name:
                        return path.with_name(name)
                except (ValueError, AttributeError):
                    pass
            elif head[:1] == b"{":
                return path  # a manifest under another name
    return checkpoint_paths(path)[0]


def read_native(path: str | os.PathLike) -> RawCheckpoint:
    """Read and verify a stylealign checkpoint (tensors stay on the CPU, nothing is built yet)."""
    from safetensors import SafetensorError
    from safetensors.torch import load as load_safetensors

    manifest_path = manifest_for(path)
    manifest = read_manifest(manifest_path)
    tensors_path = manifest_path.with_name(manifest["tensors"]["file"])
    if not tensors_path.exists():
        raise CheckpointError(tensors_path, "tensor file not found",
                              f"{manifest_path.name} needs it beside it; copy both files")
    data = tensors_path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    expected = manifest["tensors"].get("sha256")
    if digest != expected:
        raise CheckpointError(tensors_path, f"sha256 {digest[:16]}... does not match the manifest's "
                              f"{str(expected)[:16]}...; the pair is incomplete (interrupted save or partial copy) "
                              "or was modified", "re-save the checkpoint or copy both files again")
    try:
        tensors = load_safetensors(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise CheckpointError(tensors_path, f"corrupt safetensors file ({exc})", "re-save the checkpoint") from None
    del data
    networks, claimed = {}, set()
    for name, entry in manifest["networks"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict) or "class" not in entry:
            raise CheckpointError(manifest_path, f"manifest entry for network {name!r} is malformed")
        prefix = name + "."
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        claimed.update(prefix + k for k in state)
        module = entry.get("module")
        networks[name] = NetworkSpec(entry["class"], dict(entry["config"]), state,
                                     module=module if isinstance(module, str) else None)
    extra_names = set(manifest.get("extra") or {})
    missing_extra = extra_names - set(tensors)
    unclaimed = set(tensors) - claimed - extra_names
    if missing_extra or unclaimed:
        raise CheckpointError(tensors_path, "tensors and manifest disagree: "
                              + (f"missing extras {sorted(missing_extra)} " if missing_extra else "")
                              + (f"undescribed tensors {sorted(unclaimed)[:6]}" if unclaimed else ""),
                              "the files were edited; re-save the checkpoint")
    return RawCheckpoint(format="stylealign", source=manifest_path, sha256=digest, networks=networks,
                         extra={k: tensors[k] for k in extra_names}, metadata=dict(manifest.get("metadata") or {}))
