"""The on-disk image data set format used by every stage, and its atomic writer.

Format ``stylealign-image-dataset``, version 1
=============================================

A data set is one directory (version it with ``dvc add DIR`` or as a DVC stage output)::

    DIR/
      dataset.json      metadata (below); its presence marks a complete data set
      manifest.parquet  one row per image, in data set order
      images/<id>.png   8-bit RGB, RESOLUTION x RESOLUTION, composited on white
      masks/<id>.png    8-bit L foreground mask (the source alpha), only when has_masks is true
      skipped.json      {"count": N, "files": [{"name": ..., "reason": ...}, ...]} inputs left out
      LICENSE, ATTRIBUTION.txt   licence and attribution of third-party images, when there are any

``dataset.json`` keys:

* ``format`` = ``"stylealign-image-dataset"``, ``format_version`` = 1 (readers refuse newer).
* ``name``; ``resolution`` (int, square side, a power of two); ``channels`` = 3; ``image_mode`` =
  ``"RGB"``; ``background`` = ``[255, 255, 255]``; ``has_masks`` (bool).
* ``num_images``; ``counts`` = ``{"train": n, "test": n, "skipped": n}``.
* ``split`` = ``{"method": "hash", "key": <manifest column>, "seed": int, "test_fraction": float}``:
  a row is in ``test`` iff ``sha256(f"{seed}:{key}")`` read as a 64-bit fraction is below
  ``test_fraction`` (:func:`hash_split`). The split depends only on the key, so data sets of
  the same ids (e.g. two emoji styles) have identical splits, and rows sharing a key (an emoji and
  its skin-tone variants share ``base_id``) stay on one side.
* ``label_columns``: ``{column: {"type": "categorical", "classes": [...]}}`` for manifest columns
  usable as conditioning labels (one-hot in class order); numeric columns not listed here can
  still be asked for and are returned as float scalars.
* ``source``: where the images came from (kind ``"npm"``: style, package, version, integrity,
  licence; kind ``"folder"``/``"zip"``: the input path).
* ``provenance``: tool and library versions, resampling filter, command. No time stamps: the same
  inputs and library versions give byte-identical files, so DVC sees no change on a rebuild.

``manifest.parquet`` columns always present: ``id`` (unique; file-name safe: letters, digits,
``.``, ``_``, ``-``), ``split`` (``"train"``/``"test"``), ``sha256`` (hex digest of
``images/<id>.png``) and ``mask_sha256`` when masks exist. Emoji data sets add ``name``,
``short_name``, ``category``, ``subcategory``, ``skin_tone`` (0 none, 1-5 = U+1F3FB..U+1F3FF),
``skin_tone_2`` (second tone of two-person emoji, else 0), ``base_id``, ``sort_order``,
``added_in``, ``source``; folder data sets add ``source`` (relative input path), ``class_name``
(input sub-folder), ``orig_width``, ``orig_height``, ``orig_mode``.

Writing is atomic (:mod:`stylealign_core.atomic`, directories): a builder writes into the hidden sibling
``.DIR.tmp-<pid>-<random>``, fsyncs it and swaps it in as ``DIR`` only when complete; an existing ``DIR``
is replaced only with ``overwrite``. A killed run leaves only ``.DIR.tmp-*``, which no reader accepts and
the next build removes.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import install_dir, is_staging_name, remove_stale_dirs, staging_dir
from .errors import DataError
from .images import encode_png

FORMAT_NAME = "stylealign-image-dataset"
FORMAT_VERSION = 1
DATASET_JSON = "dataset.json"
MANIFEST = "manifest.parquet"
SKIPPED_JSON = "skipped.json"
IMAGES_DIR = "images"
MASKS_DIR = "masks"
_ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


def hash_split(key: str, seed: int = 0, test_fraction: float = 0.1) -> str:
    """``"test"`` or ``"train"`` for a split key, stable across runs, machines and data sets."""
    digest = hashlib.sha256(f"{int(seed)}:{key}".encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") / 2.0**64 < test_fraction else "train"


def check_resolution(resolution: int) -> int:
    """``resolution`` if it is a power of two in [4, 4096] (StyleGAN needs one), else DataError."""
    r = int(resolution)
    if r < 4 or r > 4096 or r & (r - 1):
        raise DataError(f"resolution {resolution} is not a power of two between 4 and 4096",
                        hint="use e.g. --resolution 64")
    return r


def check_id(image_id: str) -> str:
    """``image_id`` if it is a valid, file-name-safe id, else :class:`DataError`."""
    if not isinstance(image_id, str) or not _ID_RE.match(image_id) or len(image_id) > 200:
        raise DataError(f"invalid image id {image_id!r}",
                        hint="ids may hold letters, digits, '.', '_' and '-' only")
    return image_id


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_dataset_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds a ``dataset.json`` of this format."""
    p = Path(path) / DATASET_JSON
    try:
        return json.loads(p.read_text()).get("format") == FORMAT_NAME
    except (OSError, ValueError, AttributeError):
        return False


def read_metadata(path: str | os.PathLike) -> dict:
    """The validated ``dataset.json`` of the data set directory ``path``."""
    path = Path(path)
    meta_path = path / DATASET_JSON
    if not meta_path.exists():
        tmp = "; it looks like an unfinished build" if is_staging_name(path.name) else ""
        raise DataError(f"not a stylealign data set (no {DATASET_JSON}{tmp})", path,
                        hint="build one with `stylealign data emoji` or `stylealign data folder`")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"unreadable {DATASET_JSON} ({exc})", meta_path,
                        hint="rebuild the data set") from None
    if meta.get("format") != FORMAT_NAME:
        raise DataError(f"{DATASET_JSON} is not of format {FORMAT_NAME!r}", meta_path,
                        hint="rebuild the data set with `stylealign data ...`")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise DataError(f"data set format version {meta.get('format_version')} is newer than this "
                        f"stylealign reads ({FORMAT_VERSION})", meta_path,
                        hint="upgrade stylealign")
    for key in ("resolution", "num_images", "channels"):
        if not isinstance(meta.get(key), int):
            raise DataError(f"{DATASET_JSON} lacks integer {key!r}", meta_path,
                            hint="rebuild the data set")
    return meta


def read_manifest(path: str | os.PathLike):
    """The manifest of data set ``path`` as a pandas DataFrame (rows in data set order)."""
    mpath = Path(path) / MANIFEST
    try:
        df = pq.read_table(mpath).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"unreadable manifest ({exc})", mpath, hint="rebuild the data set") \
            from None
    missing = {"id", "split", "sha256"} - set(df.columns)
    if missing:
        raise DataError(f"manifest lacks columns {sorted(missing)}", mpath,
                        hint="rebuild the data set")
    return df


def verify_dataset(path: str | os.PathLike) -> list[str]:
    """Re-hash every image (and mask) against the manifest; the list of problems (empty: OK)."""
    path = Path(path)
    meta, df = read_metadata(path), read_manifest(path)
    problems = []
    if len(df) != meta["num_images"]:
        problems.append(f"manifest has {len(df)} rows, dataset.json says {meta['num_images']}")
    cols = [("sha256", IMAGES_DIR)]
    if meta.get("has_masks"):
        cols.append(("mask_sha256", MASKS_DIR))
    for col, sub in cols:
        for image_id, digest in zip(df["id"], df[col]):
            f = path / sub / f"{image_id}.png"
            try:
                if sha256_bytes(f.read_bytes()) != digest:
                    problems.append(f"{sub}/{image_id}.png: sha256 mismatch")
            except OSError:
                problems.append(f"{sub}/{image_id}.png: missing")
    return problems


def check_replaceable(out: Path, overwrite: bool) -> None:
    """DataError unless ``out`` is absent, or (with ``overwrite``) a directory that may be replaced."""
    if out.exists() or out.is_symlink():
        if not overwrite:
            raise DataError("output directory already exists", out,
                            hint="pass --overwrite (overwrite=True) or choose another --out")
        if not out.is_dir() or out.is_symlink():
            raise DataError("output path exists and is not a directory", out,
                            hint="remove it or choose another --out")


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=False) + "\n")


class DatasetWriter:
    """Write a data set into a staging directory and swap it in as ``DIR`` when :meth:`finish` runs.

    Use as a context manager; leaving the block without :meth:`finish` (an error, Ctrl-C) deletes
    the temporary directory, so ``DIR`` never holds a partial data set::

        with DatasetWriter(out, resolution=64, has_masks=True) as w:
            w.add("1F600", rgb, mask, split="train", name="GRINNING FACE")
            w.skip("bad.png", "corrupt")
            w.finish({"name": "..."}, label_columns={...})
    """

    def __init__(self, out_dir: str | os.PathLike, resolution: int, *,
                 has_masks: bool | None, overwrite: bool = False):
        """``has_masks``: True (always write masks), False (never) or None (only when at least
        one added image has a mask). In a data set with masks, images added without one get a
        full (all 255) mask."""
        self.out = Path(out_dir).expanduser().absolute()
        self.resolution = int(resolution)
        self.has_masks = has_masks
        self.overwrite = overwrite
        self.tmp: Path | None = None  # the staging directory, made on __enter__
        self.rows: list[dict] = []
        self.skipped: list[dict] = []
        self._ids: set[str] = set()
        self._without_mask: list[int] = []
        self._done = False

    def __enter__(self) -> "DatasetWriter":
        check_replaceable(self.out, self.overwrite)
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_dirs(self.out)
            self.tmp = staging_dir(self.out)
            (self.tmp / IMAGES_DIR).mkdir()
            if self.has_masks is not False:
                (self.tmp / MASKS_DIR).mkdir()
        except OSError as exc:
            raise DataError(f"cannot create the output directory ({exc.strerror})", self.tmp or self.out,
                            hint="choose a writable --out") from None
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._done and self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def add(self, image_id: str, rgb_png: bytes, mask_png: bytes | None = None, **columns) -> dict:
        """Store one image (PNG bytes of uint8 RGB) with its mask (PNG of uint8 L, optional) and
        its manifest columns (``split`` required)."""
        check_id(image_id)
        if image_id in self._ids:
            raise DataError(f"duplicate image id {image_id!r}", self.tmp,
                            hint="ids must be unique within a data set")
        if columns.get("split") not in ("train", "test"):
            raise DataError(f"image {image_id!r} has split {columns.get('split')!r}",
                            hint="use 'train' or 'test'")
        self._ids.add(image_id)
        (self.tmp / IMAGES_DIR / f"{image_id}.png").write_bytes(rgb_png)
        row = {"id": image_id, **columns, "sha256": sha256_bytes(rgb_png)}
        if self.has_masks is not False:
            if mask_png is None:
                self._without_mask.append(len(self.rows))
                row["mask_sha256"] = None
            else:
                (self.tmp / MASKS_DIR / f"{image_id}.png").write_bytes(mask_png)
                row["mask_sha256"] = sha256_bytes(mask_png)
        self.rows.append(row)
        return row

    def _settle_masks(self) -> bool:
        with_mask = len(self.rows) - len(self._without_mask)
        if self.has_masks is False or (self.has_masks is None and with_mask == 0):
            shutil.rmtree(self.tmp / MASKS_DIR, ignore_errors=True)
            for r in self.rows:
                r.pop("mask_sha256", None)
            return False
        if self._without_mask:
            png = encode_png(np.full((self.resolution, self.resolution), 255, np.uint8))
            for i in self._without_mask:
                row = self.rows[i]
                (self.tmp / MASKS_DIR / f"{row['id']}.png").write_bytes(png)
                row["mask_sha256"] = sha256_bytes(png)
        return True

    def skip(self, name: str, reason: str) -> None:
        """Record an input that was left out (written to ``skipped.json``)."""
        self.skipped.append({"name": str(name), "reason": str(reason)})

    def finish(self, metadata: dict, *, label_columns: dict | None = None,
               extra_files: dict[str, str] | None = None) -> Path:
        """Write manifest, ``dataset.json``, ``skipped.json`` and extra text files, then move the
        directory into place. Returns the final path. An empty data set is an error."""
        if not self.rows:
            reasons = "; ".join(f"{s['name']}: {s['reason']}" for s in self.skipped[:3])
            raise DataError(f"no usable images ({len(self.skipped)} inputs skipped"
                            + (f", e.g. {reasons})" if reasons else ")"), self.out,
                            hint="check the input path and formats")
        has_masks = self._settle_masks()
        table = pa.Table.from_pylist(self.rows)
        pq.write_table(table, self.tmp / MANIFEST, compression="zstd")
        counts = {"train": sum(r["split"] == "train" for r in self.rows),
                  "test": sum(r["split"] == "test" for r in self.rows),
                  "skipped": len(self.skipped)}
        meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "name": metadata.get("name", self.out.name), "resolution": self.resolution,
                "channels": 3, "image_mode": "RGB", "background": [255, 255, 255],
                "has_masks": has_masks, "num_images": len(self.rows), "counts": counts,
                "label_columns": label_columns or {}}
        meta.update({k: v for k, v in metadata.items() if k not in meta or k == "name"})
        write_json(self.tmp / SKIPPED_JSON, {"count": len(self.skipped), "files": self.skipped})
        for fname, text in (extra_files or {}).items():
            (self.tmp / fname).write_text(text)
        write_json(self.tmp / DATASET_JSON, meta)
        check_replaceable(self.out, self.overwrite)
        install_dir(self.tmp, self.out, overwrite=self.overwrite)
        self._done = True
        return self.out


def categorical(values) -> dict:
    """``label_columns`` entry for a column: its sorted distinct values as classes."""
    classes = sorted({v for v in values if v is not None}, key=lambda v: (str(type(v)), v))
    return {"type": "categorical", "classes": [v.item() if hasattr(v, "item") else v
                                               for v in classes]}


def provenance(**parameters) -> dict:
    """Tool and library versions plus the builder's parameters (no time stamps, no host names)."""
    import PIL

    try:
        from importlib.metadata import version
        tool = version("stylealign")
    except Exception:
        tool = "unknown"
    return {"tool": f"stylealign {tool}", "python": sys.version.split()[0],
            "numpy": np.__version__, "pillow": PIL.__version__, "pyarrow": pa.__version__,
            "resample": "lanczos on alpha-premultiplied colour, composited on white",
            "parameters": parameters}
