"""Build a data set from the user's own images: a folder (searched recursively), a .zip or a .tgz.

Every visible file is tried as an image (hidden files and ``__MACOSX`` are ignored). Each image is
centre-cropped to a square, resized to ``resolution`` (Lanczos on premultiplied alpha) and
composited on white; images with transparency keep their alpha as a mask (those without get a
full mask when any image has one). Modes: see :mod:`.images`. Files that are empty, truncated,
corrupt or not images are listed in ``skipped.json`` (``strict``: the first one is an error).

Ids are the relative paths without extension, ``/`` replaced by ``__`` and other characters
outside ``[A-Za-z0-9._-]`` by ``_`` (``-2``, ``-3``... added on a clash), so they stay the same when
files are added or fixed. ``class_name`` is the first sub-folder (``""`` at the top level); it is
declared as a categorical label column when there are at least two. The split is by id.

``license`` and ``attribution`` travel with the data set as ``LICENSE`` and ``ATTRIBUTION.txt`` (as the
emoji builder writes them): ``license`` is a licence identifier (SPDX, e.g. ``CC-BY-4.0``; the stored text
is added for those in :data:`.license_texts.LICENSE_TEXTS`) or the path of a licence text file; ``attribution`` is the
attribution text or the path of a file holding it. ``dataset.json`` records them under ``source``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from tqdm.auto import tqdm

from .archive import iter_files, list_files, source_kind
from .convert import convert_many
from .errors import DataError
from .format import DatasetWriter, categorical, check_resolution, hash_split, provenance
from .license_texts import LICENSE_TEXTS

_LICENSE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+()\- ]{0,199}$")  # an SPDX identifier or expression


def image_id_for(relname: str, taken: set[str]) -> str:
    """File-name-safe, unique id for the relative path ``relname`` (adds it to ``taken``)."""
    stem = relname.rsplit(".", 1)[0] if "." in relname.rsplit("/", 1)[-1] else relname
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", stem.replace("/", "__")).strip(".") or "image"
    if not re.match(r"[A-Za-z0-9_]", base[0]):
        base = "x" + base
    base = base[:150]
    image_id, k = base, 2
    while image_id in taken:
        image_id, k = f"{base}-{k}", k + 1
    taken.add(image_id)
    return image_id


def _file_text(value: str) -> str | None:
    """The text of ``value`` when it names an existing file, else None."""
    path = Path(os.path.expanduser(value))
    if not os.path.isfile(path):  # os.path.isfile: False (not an error) for text too long to be a name
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read it as UTF-8 text ({exc})", path, hint="pass a plain text file") from None


def licence_files(license: str | None, attribution: str | None) -> tuple[dict[str, str], dict]:
    """(``{"LICENSE": ..., "ATTRIBUTION.txt": ...}``, what ``dataset.json`` records) for the given options."""
    files, record = {}, {}
    if attribution is not None:
        text = (_file_text(attribution) if attribution.strip() else None) or attribution
        if not text.strip():
            raise DataError("the attribution is empty", hint="pass --attribution 'Photos by ...' or a text file")
        files["ATTRIBUTION.txt"] = text.rstrip("\n") + "\n"
        record["attribution"] = "ATTRIBUTION.txt"
    if license is not None:
        text = _file_text(license) if license.strip() else None
        if text is not None:
            if not text.strip():
                raise DataError("the licence file is empty", Path(license), hint="pass a licence text file")
            files["LICENSE"] = text.rstrip("\n") + "\n"
            record["license"] = f"see LICENSE (from {Path(license).name})"
        elif _LICENSE_ID_RE.match(license.strip()):
            name = license.strip()
            text = f"The images of this data set are licensed under {name}.\n"
            if name in LICENSE_TEXTS:
                text += "\n" + LICENSE_TEXTS[name]
            if attribution is not None:
                text += "See ATTRIBUTION.txt for the attribution.\n"
            files["LICENSE"] = text
            record["license"] = name
        else:
            raise DataError(f"licence {license!r} is neither an existing file nor a licence identifier",
                            hint="pass an SPDX identifier such as CC-BY-4.0 or the path of a licence text file")
    return files, record


def build_folder_dataset(src: str | os.PathLike, out: str | os.PathLike, resolution: int, *,
                         seed: int = 0, test_fraction: float = 0.1, strict: bool = False,
                         overwrite: bool = False, masks: str = "auto",
                         progress: bool | None = None, workers: int | None = None,
                         license: str | None = None, attribution: str | None = None) -> Path:
    """Convert the images under ``src`` into the data set directory ``out``; returns its path.

    ``masks``: ``"auto"`` (masks when any input has transparency), ``"always"`` or ``"never"``.
    ``workers``: conversion processes (default: CPU cores, ``$STYLEALIGN_DATA_WORKERS``).
    ``license``/``attribution``: written to ``LICENSE``/``ATTRIBUTION.txt`` (see the module doc).
    Raises :class:`DataError` when ``src`` is missing, no image is usable, ``out`` exists without
    ``overwrite``, or (``strict``) any file is not a usable image.
    """
    resolution = check_resolution(resolution)
    if not 0.0 <= test_fraction < 1.0:
        raise DataError(f"test fraction {test_fraction} is not in [0, 1)",
                        hint="use e.g. --test-fraction 0.1")
    has_masks = {"auto": None, "always": True, "never": False}.get(masks, "bad")
    if has_masks == "bad":
        raise DataError(f"unknown masks mode {masks!r}", hint="use auto, always or never")
    src = Path(src).expanduser()
    kind = source_kind(src)
    out = Path(out).expanduser()
    if src.resolve() == out.resolve() or (kind == "dir" and out.resolve().is_relative_to(
            src.resolve())):
        raise DataError("the output directory is inside the input folder", out,
                        hint="choose an --out outside the input folder")
    extra_files, licence_record = licence_files(license, attribution)  # bad options fail before any work
    names = list_files(src)
    if not names:
        raise DataError("the input holds no files", src, hint="check the path")

    taken: set[str] = set()
    upscaled = 0
    with DatasetWriter(out, resolution, has_masks=has_masks, overwrite=overwrite) as writer:
        results = convert_many(iter_files(src, names), resolution, workers,
                               len(names))
        for name, res in tqdm(results, total=len(names), desc=f"images {resolution}px",
                              unit="img",
                              disable=(not progress) if progress is not None else None):
            if res[0] == "bad":
                if strict:
                    raise DataError(f"{name}: {res[1]}", src / name if kind == "dir" else src,
                                    hint="remove or repair the file, or drop --strict to skip "
                                         "it")
                writer.skip(name, res[1])
                continue
            _, rgb_png, mask_png, orig = res
            upscaled += min(orig[0], orig[1]) < resolution
            image_id = image_id_for(name, taken)
            parts = name.split("/")
            writer.add(image_id, rgb_png, mask_png, source=name,
                       class_name=parts[0] if len(parts) > 1 else "",
                       orig_width=orig[0], orig_height=orig[1], orig_mode=orig[2],
                       split=hash_split(image_id, seed, test_fraction))
        classes = categorical(r["class_name"] for r in writer.rows)
        labels = {"class_name": classes} if len(classes["classes"]) >= 2 else {}
        metadata = {
            "name": out.name,
            "split": {"method": "hash", "key": "id", "seed": int(seed),
                      "test_fraction": float(test_fraction)},
            "source": {"kind": kind, "path": str(src), "files": len(names),
                       "upscaled": int(upscaled), **licence_record},
            "provenance": provenance(builder="folder", resolution=resolution, seed=int(seed),
                                     test_fraction=float(test_fraction), strict=bool(strict),
                                     masks=masks),
        }
        return writer.finish(metadata, label_columns=labels, extra_files=extra_files)
