"""Atomic writes of files and directories.

Files (:func:`write_atomic`): every artifact goes to a temporary file beside its target, is flushed to
disk, then renamed over the target. A reader (or a later pipeline stage) sees the old file or the new
one, never a half-written one, and a failed write leaves no temporary file behind.

Directories (:func:`publish_dir`; exported models, data sets, resolved parents): the new directory is
built in a sibling ``.NAME.tmp-<pid>-<random>``, every file and folder in it is fsynced, then it is
swapped into place (:func:`install_dir`, see there for the exact guarantee) and the previous directory
removed. A failed build leaves the previous directory untouched and no temporary directory behind; one
killed outright leaves only a hidden ``.NAME.tmp-*`` that no reader accepts and the next publish removes.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")
_STAGING_RE = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-[A-Za-z0-9_]+$")


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


# ---- directories ----------------------------------------------------------------------------------
def is_staging_name(name: str) -> bool:
    """Whether ``name`` is a temporary directory of :func:`publish_dir` (``.NAME.tmp-*``/``.NAME.old-*``)."""
    return _STAGING_RE.match(name) is not None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def staging_name(path: str | os.PathLike) -> re.Match | None:
    """The parts of a :func:`publish_dir` staging directory's name (``name``, ``kind``: tmp|old, ``pid``),
    or None for any other name."""
    return _STAGING_RE.match(Path(path).name)


def remove_stale_dirs(target: str | os.PathLike) -> list[Path]:
    """Clean up after publishes of ``target`` by processes that no longer run; returns what was removed.

    A ``.NAME.tmp-*`` is deleted. A ``.NAME.old-*`` (a previous directory moved aside) is put back when
    ``target`` is missing, i.e. the process died between the two renames of the fallback swap;
    otherwise it is deleted.
    """
    target = Path(target)
    removed: list[Path] = []
    if not target.parent.is_dir():
        return removed
    for p in sorted(target.parent.iterdir()):
        m = staging_name(p)
        if not m or m["name"] != target.name or not p.is_dir() or _pid_alive(int(m["pid"])):
            continue
        if m["kind"] == "old" and not (target.exists() or target.is_symlink()):
            os.rename(p, target)
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def staging_dir(target: str | os.PathLike) -> Path:
    """A new empty directory beside ``target`` (``.NAME.tmp-<pid>-<random>``, 0777 minus the umask)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


@functools.lru_cache(maxsize=1)
def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def fsync_tree(root: str | os.PathLike) -> None:
    """Flush every file and directory under ``root`` to disk.

    Linux: one ``syncfs`` of the file system holding ``root`` (a data set of 7,500 small files: 0.4 s
    here, against 37 s for fsyncing them one by one). Elsewhere, or if that fails: fsync each file,
    then each directory (children before their directory).
    """
    libc = _libc()
    if libc is not None and hasattr(libc, "syncfs"):
        fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for folder, _, files in os.walk(root, topdown=False):
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                fsync_path(path)
        fsync_path(folder, directory=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    renameat2 = getattr(_libc(), "renameat2", None)
    at_fdcwd, rename_exchange = -100, 2
    return renameat2 is not None and renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b),
                                               rename_exchange) == 0


def install_dir(tmp: str | os.PathLike, target: str | os.PathLike, overwrite: bool = True) -> Path:
    """Move the finished directory ``tmp`` (a sibling of ``target``) to ``target``.

    ``tmp`` is fsynced first (:func:`fsync_tree`), so after a crash ``target`` is never a directory whose
    files are still empty. An existing ``target`` (only with ``overwrite``) is exchanged with ``tmp`` in
    one ``renameat2(RENAME_EXCHANGE)`` where the OS and file system offer it: a reader that opens
    ``target`` finds the old complete directory or the new complete one, at every instant. Elsewhere the
    old directory is renamed aside (``.NAME.old-*``) and ``tmp`` renamed in: a reader finds the old one,
    the new one or, for the instant between the two renames, none; never a mix of both. The previous
    directory is deleted afterwards. (A reader that is *inside* the old directory keeps reading it
    until it is deleted.)
    """
    tmp, target = Path(tmp), Path(target)
    fsync_tree(tmp)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise NotADirectoryError(f"{target} exists and is not a directory; remove it or publish elsewhere")
    if not target.exists():
        os.rename(tmp, target)
        fsync_path(target.parent, directory=True)
        return target
    if not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite to replace it")
    if _exchange(tmp, target):
        old = tmp  # now holds the previous directory
    else:
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
        os.rename(target, old)
        os.rename(tmp, target)
    fsync_path(target.parent, directory=True)
    shutil.rmtree(old, ignore_errors=True)
    return target


def publish_dir(target: str | os.PathLike, build: Callable[[Path], T], *, overwrite: bool = True) -> T:
    """``build(tmp)`` fills a fresh staging directory beside ``target``, which then replaces ``target``.

    Returns what ``build`` returns (paths it returns inside ``tmp`` are gone: use ``target``). Leftovers
    of publishes killed earlier are cleaned first (:func:`remove_stale_dirs`). On any error, in ``build``
    or while swapping, the staging directory is removed and ``target`` is left as it was. Without
    ``overwrite`` an existing ``target`` is a FileExistsError before anything is built.
    """
    target = Path(target)
    if not overwrite and (target.exists() or target.is_symlink()):
        raise FileExistsError(f"{target} already exists; pass overwrite to replace it")
    remove_stale_dirs(target)
    tmp = staging_dir(target)
    try:
        result = build(tmp)
        install_dir(tmp, target, overwrite=overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result
