"""One entry point for every checkpoint format: ours, official ``.pkl``, rosinality ``.pt``, URLs."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..generator import Generator
from .errors import CheckpointError
from .native import (DIR_CHECKPOINT_NAME, MANIFEST_SUFFIX, TENSORS_SUFFIX, checkpoint_paths, read_native,
                     save_checkpoint, sha256_file)
from .networks import GENERATOR_NAMES, RawCheckpoint, build_network
from .official import read_official
from .remote import fetch, is_url
from .rosinality import read_rosinality

FORMATS = ("stylealign", "stylegan2-ada-pkl", "rosinality-pt")
_TORCH_LEGACY_MAGIC = (0x1950A86A20F9469CFC6C).to_bytes(10, "little")


@dataclass
class Checkpoint:
    """Networks rebuilt from a checkpoint, with what the file says about them."""
    networks: dict[str, torch.nn.Module]
    metadata: dict
    extra: dict[str, torch.Tensor]
    source: Path                 # the file read (ours: the .json manifest; URLs: the cached copy)
    sha256: str                  # ours: of the .safetensors; .pkl/.pt: of the file itself
    format: str                  # one of FORMATS
    uri: str = ""                # what was asked for (path or URL)
    notes: list[str] = field(default_factory=list)

    @property
    def generator(self) -> Generator:
        """G_ema if present, else G."""
        for name in GENERATOR_NAMES:
            if name in self.networks:
                return self.networks[name]
        raise CheckpointError(self.source, f"no generator in this checkpoint (networks: {sorted(self.networks)})")

    def lineage(self) -> dict:
        """``{uri, sha256, format}``: what a child checkpoint records as its parent."""
        return {"uri": self.uri or str(self.source), "sha256": self.sha256, "format": self.format}


def detect_format(path: str | os.PathLike) -> str:
    """'stylealign' | 'stylegan2-ada-pkl' | 'rosinality-pt', from the suffix and the first bytes."""
    path = Path(path)
    if path.name.endswith((MANIFEST_SUFFIX, TENSORS_SUFFIX)):
        return "stylealign"
    if not path.exists():
        manifest, tensors = checkpoint_paths(path)
        if manifest.exists() or tensors.exists():
            return "stylealign"
        raise CheckpointError(path, "no such file")
    if path.is_dir():
        raise CheckpointError(path, f"is a directory without {DIR_CHECKPOINT_NAME}{MANIFEST_SUFFIX}",
                              "pass the checkpoint file (NAME.json, .pkl or .pt) or a model directory")
    with open(path, "rb") as f:
        head = f.read(32)
    if not head:
        raise CheckpointError(path, "empty file (an interrupted download or copy?)", "fetch the file again")
    if head.startswith(b"PK\x03\x04"):
        return "rosinality-pt"  # torch.save zip archive
    if head[:1] == b"\x80" and 2 <= head[1] <= 5:
        if head[2:4] == b"\x8a\x0a" and head[4:14] == _TORCH_LEGACY_MAGIC:
            return "rosinality-pt"  # legacy (pre-1.6) torch.save
        return "stylegan2-ada-pkl"
    if head.lstrip()[:1] == b"{":
        return "stylealign"
    if len(head) >= 9 and head[8:9] == b"{":
        return "stylealign"  # a .safetensors under another name
    raise CheckpointError(path, f"unrecognised checkpoint format (starts with {head[:8]!r})",
                          "supported: stylealign NAME.json+NAME.safetensors, stylegan2-ada-pytorch .pkl, "
                          "rosinality .pt")


def read_checkpoint(path_or_uri: str | os.PathLike, sha256: str | None = None,
                    cache_dir: str | os.PathLike | None = None) -> RawCheckpoint:
    """Read and verify a checkpoint of any supported format without building networks."""
    if is_url(path_or_uri):
        path = fetch(str(path_or_uri), sha256=sha256, cache=cache_dir)
    else:
        path = Path(path_or_uri).expanduser()
        if path.is_dir() and (path / f"{DIR_CHECKPOINT_NAME}{MANIFEST_SUFFIX}").is_file():
            path = path / DIR_CHECKPOINT_NAME  # a model directory (stylealign export) or a snapshot
    def check(digest: str, source) -> None:
        if sha256 is not None and digest != sha256.lower():
            raise CheckpointError(source, f"sha256 {digest} does not match the expected {sha256.lower()}",
                                  "the file is not the checkpoint you pinned; fetch the right one or update the hash")

    fmt = detect_format(path)
    if fmt == "stylealign":
        raw = read_native(path)
        check(raw.sha256, raw.source)
        return raw
    digest = sha256_file(path)
    check(digest, path)  # before parsing anything from a file that is not the one pinned
    return read_official(path, digest) if fmt == "stylegan2-ada-pkl" else read_rosinality(path, digest)


def _check_resolution(name: str, spec, expect_resolution: int | None, source) -> None:
    res = spec.config.get("img_resolution")
    if expect_resolution is not None and res != expect_resolution:
        raise CheckpointError(source, f"network {name!r} works at {res}x{res}, expected {expect_resolution}x"
                              f"{expect_resolution}", "use a checkpoint trained at that resolution, or change the "
                              "resolution you ask for")


def build_checkpoint(raw: RawCheckpoint, networks=None, device="cpu", expect_resolution: int | None = None,
                     uri: str = "") -> Checkpoint:
    """Modules for ``networks`` (default: all) of ``raw``; all-or-nothing."""
    names = list(raw.networks) if networks is None else [networks] if isinstance(networks, str) else list(networks)
    missing = [n for n in names if n not in raw.networks]
    if missing:
        raise CheckpointError(raw.source, f"no network {', '.join(map(repr, missing))} in this checkpoint "
                              f"(it has: {', '.join(raw.networks) or 'none'})")
    for name in names:
        _check_resolution(name, raw.networks[name], expect_resolution, raw.source)
    built = {name: build_network(raw.networks[name], raw.source, name, device=device) for name in names}
    notes = [n for name in names for n in raw.networks[name].notes]
    return Checkpoint(networks=built, metadata=raw.metadata, extra=dict(raw.extra), source=Path(raw.source),
                      sha256=raw.sha256, format=raw.format, uri=uri, notes=notes)


def load_checkpoint(path_or_uri: str | os.PathLike, device="cpu", networks=None, expect_resolution: int | None = None,
                    sha256: str | None = None, cache_dir: str | os.PathLike | None = None) -> Checkpoint:
    """Load any supported checkpoint (path or https URL); ``networks`` picks names (default: all)."""
    raw = read_checkpoint(path_or_uri, sha256=sha256, cache_dir=cache_dir)
    return build_checkpoint(raw, networks=networks, device=device, expect_resolution=expect_resolution,
                            uri=str(path_or_uri))


def load_generator(path_or_uri: str | os.PathLike, device="cpu", expect_resolution: int | None = None,
                   sha256: str | None = None, cache_dir: str | os.PathLike | None = None) -> Generator:
    """The checkpoint's generator: G_ema if present, else G."""
    return load_generator_and_sha(path_or_uri, device, expect_resolution, sha256, cache_dir)[0]


def load_generator_and_sha(path_or_uri: str | os.PathLike, device="cpu", expect_resolution: int | None = None,
                           sha256: str | None = None, cache_dir: str | os.PathLike | None = None
                           ) -> tuple[Generator, str]:
    """:func:`load_generator`, and the sha256 of the checkpoint's weights file it was read from."""
    raw = read_checkpoint(path_or_uri, sha256=sha256, cache_dir=cache_dir)
    for name in GENERATOR_NAMES:
        if name in raw.networks:
            return build_checkpoint(raw, networks=(name,), device=device, expect_resolution=expect_resolution,
                                    uri=str(path_or_uri)).networks[name], raw.sha256
    raise CheckpointError(raw.source, f"no generator (G_ema or G) in this checkpoint (it has: "
                          f"{sorted(raw.networks)})", "pass a checkpoint that holds a generator")


def convert_checkpoint(src: str | os.PathLike, dst: str | os.PathLike, networks=None, metadata: dict | None = None,
                       sha256: str | None = None, cache_dir: str | os.PathLike | None = None,
                       dtype: str | None = None) -> tuple[Path, Checkpoint]:
    """Any supported checkpoint -> our format at ``dst``. Returns (manifest path, loaded checkpoint).
    ``dtype`` ("float16"/"bfloat16") stores the network tensors at half precision (see save_checkpoint)."""
    ckpt = load_checkpoint(src, networks=networks, sha256=sha256, cache_dir=cache_dir)
    meta = dict(ckpt.metadata)
    if ckpt.format != "stylealign" or dtype:
        meta["converted_from"] = ckpt.lineage()
    meta.update(metadata or {})
    return save_checkpoint(dst, ckpt.networks, metadata=meta, extra_tensors=ckpt.extra, dtype=dtype), ckpt
