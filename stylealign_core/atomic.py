"""Atomic file writes: every artifact goes to a temporary file beside its target, is flushed to disk,
then renamed over the target. A reader (or a later pipeline stage) sees the old file or the new one,
never a half-written one, and a failed write leaves no temporary file behind.

Directories are made atomic the same way by their writers (a temporary directory renamed into place:
training snapshots, exported models, data sets).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable


def fsync_path(path: str | os.PathLike, directory: bool = False) -> None:
    """fsync a file (or a directory entry list, where the filesystem allows it)."""
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on directories
        if not directory:
            raise
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(target: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """``write(tmp_path)`` fills a temporary file beside ``target``; it is fsynced and renamed onto target.

    The parent directory is created if needed. The file gets the usual permissions (0666 minus the umask;
    mkstemp alone would leave 0600). On any error the temporary file is removed and the error re-raised.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        fsync_path(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> Path:
    return write_atomic(target, lambda tmp: tmp.write_bytes(data))


def write_json_atomic(target: str | os.PathLike, obj, sort_keys: bool = True) -> Path:
    """``obj`` as indented JSON (non-JSON values via ``str``), written atomically."""
    text = json.dumps(obj, indent=2, sort_keys=sort_keys, default=str) + "\n"
    return write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
