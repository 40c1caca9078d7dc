"""Fetch an npm package tarball with the npm client, into a verified local cache.

``npm pack NAME@VERSION --json`` downloads the registry tarball (through npm's own cache, proxy and
registry settings) and prints its ``integrity`` (``sha512-<base64>``). The file is hashed here and
must match that integrity and, when the caller pins one, the pinned integrity too. Verified
tarballs are kept as ``<cache>/<name>-<version>.tgz`` next to ``<name>-<version>.tgz.integrity``;
later calls re-hash the cached file against that record and need neither npm nor the network.

The cache directory is ``$STYLEALIGN_CACHE/npm`` (default ``~/.cache/stylealign/npm``).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import DataError

NPM_TIMEOUT_S = 900


def cache_root() -> Path:
    """``$STYLEALIGN_CACHE`` or ``~/.cache/stylealign``."""
    env = os.environ.get("STYLEALIGN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "stylealign"


def npm_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where npm tarballs are kept: ``cache_dir`` or ``cache_root()/npm``."""
    return Path(cache_dir).expanduser() if cache_dir else cache_root() / "npm"


def tarball_name(name: str, version: str) -> str:
    """npm's file name for a packed tarball (``@scope/pkg`` becomes ``scope-pkg``)."""
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def file_integrity(path: str | os.PathLike, algorithm: str = "sha512") -> str:
    """Subresource-integrity string (``sha512-<base64>``) of a file."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return f"{algorithm}-{base64.b64encode(h.digest()).decode()}"


def check_integrity(path: str | os.PathLike, expected: str, what: str) -> None:
    """Raise :class:`DataError` unless ``path`` hashes to ``expected`` (``algo-base64``)."""
    algorithm = expected.split("-", 1)[0]
    if algorithm not in hashlib.algorithms_available:
        raise DataError(f"{what}: unsupported integrity algorithm {algorithm!r}", path)
    actual = file_integrity(path, algorithm)
    if actual != expected:
        raise DataError(f"{what}: integrity mismatch, expected {expected}, got {actual}", path,
                        hint="delete the file and fetch again; if it persists, check the npm "
                             "registry configuration (npm config get registry)")


def find_npm() -> str:
    """Path of the npm executable, or a :class:`DataError` saying how to get it."""
    npm = os.environ.get("STYLEALIGN_NPM") or shutil.which("npm")
    if not npm:
        raise DataError("the npm client was not found on PATH; it is needed to fetch emoji images",
                        hint="install Node.js/npm (https://nodejs.org, or apt-get install npm), or "
                             "set STYLEALIGN_NPM to the npm executable")
    return npm


def _run_npm_pack(npm: str, spec: str, dest: Path) -> dict:
    cmd = [npm, "pack", spec, "--json", "--pack-destination", str(dest)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=NPM_TIMEOUT_S,
                              cwd=dest)
    except subprocess.TimeoutExpired:
        raise DataError(f"`npm pack {spec}` did not finish in {NPM_TIMEOUT_S} s", dest,
                        hint="check the network and the npm registry (npm config get registry)") \
            from None
    except OSError as exc:
        raise DataError(f"could not run npm ({exc})", npm,
                        hint="install Node.js/npm or set STYLEALIGN_NPM") from None
    if proc.returncode != 0:
        tail = " | ".join(line for line in proc.stderr.strip().splitlines()[-4:]
                          if "Unknown user config" not in line)
        raise DataError(f"`npm pack {spec}` failed with exit code {proc.returncode}: {tail}",
                        hint="check the package name/version, the network and the npm registry "
                             "(npm config get registry)")
    try:
        info = json.loads(proc.stdout)
        if isinstance(info, list):
            info = info[0]
        return dict(info)
    except (ValueError, IndexError, TypeError):
        raise DataError(f"`npm pack {spec} --json` printed no JSON: {proc.stdout[:200]!r}",
                        hint="use npm >= 7") from None


def fetch_npm_tarball(name: str, version: str, cache_dir: str | os.PathLike | None = None,
                      integrity: str | None = None) -> Path:
    """Path of the verified tarball of ``name@version`` in the cache, fetching it when absent.

    ``integrity``: pinned ``dist.integrity`` the tarball must match (besides what npm reports).
    Raises :class:`DataError` when npm is missing, the fetch fails or a hash does not match.
    """
    cache = npm_cache_dir(cache_dir)
    target = cache / tarball_name(name, version)
    record = target.with_name(target.name + ".integrity")
    spec = f"{name}@{version}"
    if target.exists():
        if integrity:
            check_integrity(target, integrity, f"cached tarball of {spec}")
        elif record.exists():
            check_integrity(target, record.read_text().strip(), f"cached tarball of {spec}")
        else:
            raise DataError(f"cached tarball of {spec} has no integrity record", target,
                            hint="delete it so it is fetched and verified again")
        return target

    npm = find_npm()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the npm cache directory ({exc.strerror})", cache,
                        hint="set STYLEALIGN_CACHE to a writable directory") from None
    tmp = Path(tempfile.mkdtemp(prefix=f".pack-{os.getpid()}-", dir=cache))
    try:
        info = _run_npm_pack(npm, spec, tmp)
        packed = tmp / info.get("filename", tarball_name(name, version))
        if not packed.exists():
            files = sorted(p.name for p in tmp.iterdir())
            if len(files) != 1:
                raise DataError(f"`npm pack {spec}` wrote no tarball (found {files})", tmp)
            packed = tmp / files[0]
        reported = info.get("integrity")
        if not reported:
            raise DataError(f"`npm pack {spec}` reported no integrity", packed,
                            hint="use npm >= 7")
        check_integrity(packed, reported, f"tarball of {spec} (integrity reported by npm)")
        if integrity and integrity != reported:
            raise DataError(f"npm reports integrity {reported} for {spec}, expected the pinned "
                            f"{integrity}", packed,
                            hint="the registry serves different content than was pinned; check "
                                 "the registry (npm config get registry) or update the pin in "
                                 "stylealign_core/data/styles.py")
        record_tmp = tmp / "integrity"
        record_tmp.write_text(reported + "\n")
        os.replace(record_tmp, record)
        os.replace(packed, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
