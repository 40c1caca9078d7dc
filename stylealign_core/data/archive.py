"""Uniform read access to the files of a directory (recursive), a .zip or a .tar/.tgz.

Nothing is extracted to disk, so archive member names can never escape into the file system.
Hidden entries (a path component starting with ``.``) and ``__MACOSX`` folders are ignored.
"""
from __future__ import annotations

import os
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import DataError

TAR_SUFFIXES = (".tgz", ".tar.gz", ".tar", ".tar.bz2", ".tar.xz")


def _norm(name: str) -> str:
    """Archive member name without ``./`` components or a leading ``/``."""
    return "/".join(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))


def _visible(relname: str) -> bool:
    parts = _norm(relname).split("/")
    return bool(relname) and not any(p.startswith(".") or p == "__MACOSX" for p in parts)


def source_kind(src: str | os.PathLike) -> str:
    """``"dir"``, ``"zip"`` or ``"tar"`` for an existing input path; :class:`DataError` else."""
    p = Path(src)
    if p.is_dir():
        return "dir"
    if not p.exists():
        raise DataError("input not found", p, hint="check the path")
    name = p.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(TAR_SUFFIXES):
        return "tar"
    raise DataError("input is neither a directory, a .zip nor a .tar/.tgz archive", p,
                    hint="pass a folder of images or an archive of them")


def list_files(src: str | os.PathLike) -> list[str]:
    """Sorted relative names (``/``-separated) of the regular, visible files under ``src``."""
    p = Path(src)
    kind = source_kind(p)
    try:
        if kind == "dir":
            names = [f.relative_to(p).as_posix() for f in p.rglob("*") if f.is_file()]
        elif kind == "zip":
            with zipfile.ZipFile(p) as z:
                names = [i.filename for i in z.infolist() if not i.is_dir()]
        else:
            with tarfile.open(p) as t:
                names = [_norm(m.name) for m in t.getmembers() if m.isfile()]
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
        raise DataError(f"cannot read the input archive ({exc})", p,
                        hint="check that the archive is complete and not corrupt") from None
    return sorted(n for n in names if _visible(n))


def iter_files(src: str | os.PathLike, names: Iterable[str] | None = None
               ) -> Iterator[tuple[str, bytes | None, str | None]]:
    """Yield ``(relative name, bytes, None)`` for the files of ``src`` (only ``names`` when
    given; archive order for tar, sorted order otherwise), or ``(name, None, reason)`` for a file
    that cannot be read (a corrupt archive member, an unreadable file)."""
    p = Path(src)
    kind = source_kind(p)
    wanted = None if names is None else set(names)
    try:
        if kind == "dir":
            for n in (sorted(wanted) if wanted is not None else list_files(p)):
                f = p / n
                if f.is_file():
                    try:
                        yield n, f.read_bytes(), None
                    except OSError as exc:
                        yield n, None, f"unreadable file ({exc.strerror})"
        elif kind == "zip":
            with zipfile.ZipFile(p) as z:
                members = set(z.namelist())
                for n in (sorted(wanted) if wanted is not None else list_files(p)):
                    if n not in members:
                        continue
                    try:
                        data = z.read(n)
                    except (zipfile.BadZipFile, zlib.error, OSError, EOFError,
                            NotImplementedError) as exc:
                        yield n, None, f"corrupt archive member ({exc})"
                        continue
                    yield n, data, None
        else:
            with tarfile.open(p) as t:
                for m in t:
                    name = _norm(m.name)
                    if m.isfile() and _visible(name) and (wanted is None or name in wanted):
                        f = t.extractfile(m)
                        if f is not None:
                            yield name, f.read(), None
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read the input archive ({exc})", p,
                        hint="check that the archive is complete and not corrupt") from None


def read_files(src: str | os.PathLike, names: Iterable[str]) -> dict[str, bytes]:
    """``{name: bytes}`` for those of ``names`` present in ``src`` (one pass for archives)."""
    out = {}
    for name, data, error in iter_files(src, names):
        if error is not None:
            raise DataError(f"cannot read {name} ({error})", src,
                            hint="fetch or rebuild the archive again")
        out[name] = data
    return out
