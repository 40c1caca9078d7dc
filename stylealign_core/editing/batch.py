"""Batch translation of a prefix of parent-domain images, idempotent: invert into the parent, render with the child.

    src, dst = open_prefix("s3://emoji/inbox"), open_prefix("s3://emoji/translated")
    settings = BatchSettings.create(space="z", steps=100)
    todo = plan(src, dst, parent_sha256, child_sha256, settings)          # what is not translated yet
    records = translate_names(pair, metric, src, dst, [i.name for i in todo.todo], settings)
    dst.write(MANIFEST_NAME, manifest_json(...))

Each image is inverted into the **parent** with the projector (:mod:`stylealign_core.inversion`, per-image
seed from the run seed and the image's content) and the same code is rendered by the **child**
(:func:`.translate.translate`). The projector optimises the code at the translation's truncation, so the
parent's rendering of the code reconstructs the input and the child's is its translation.

The output prefix holds:

* ``<name>.png``: the translation of input ``<name>.<ext>`` (sub-folders kept);
* ``_records/<key>.json``: one per translated image, written after its PNG;
* ``manifest.json``: the images of the input at the last run, each with its output, key and distances.

``key`` = sha256 of (input name, the input's content sha256, parent sha256, child sha256, the settings that
change a translation: projector settings, metric, seed). **Skip rule**: an input whose key has a record and
whose PNG is in the output is done. Changing an image, a checkpoint or a setting translates it again; a
rerun with nothing new translates nothing; a run killed midway keeps every image it finished.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass, field, fields

import torch

from ..grid import images_to_uint8
from ..inversion import DEFAULT_METRIC, InvertOptions, ProjectorSettings, invert_images
from ..inversion.images import IMAGE_SUFFIXES, InputEntry, InputImage, decode
from ..prefix import LocalPrefix, PrefixError, S3Prefix
from .aligned import AlignedPair
from .errors import EditError
from .translate import default_truncation, translate

RECORDS_DIR = "_records"
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class BatchSettings:
    """What changes a translation (all of it is in the key), plus the images per projector batch (not)."""
    projector: ProjectorSettings
    metric: str = DEFAULT_METRIC
    metric_file: str | None = None
    seed: int = 0
    batch: int = 8

    @classmethod
    def create(cls, space: str = "z", steps: int = 100, truncation_psi: float | None = None,
               metric: str = DEFAULT_METRIC, metric_file: str | None = None, seed: int = 0, batch: int = 8,
               **projector) -> "BatchSettings":
        """``truncation_psi`` None: 0.5 in Z (StyleAlign's recipe), 1 otherwise; ``projector``: more
        :class:`~stylealign_core.inversion.ProjectorSettings` fields (lr, stats_samples, ...)."""
        if batch < 1:
            raise EditError(f"batch must be >= 1 image, got {batch}")
        known = {f.name for f in fields(ProjectorSettings)} - {"space", "steps", "truncation_psi"}
        if unknown := sorted(set(projector) - known):
            raise EditError(f"unknown projector setting(s) {', '.join(unknown)} (fix: use {', '.join(sorted(known))})")
        psi = float(default_truncation(space, truncation_psi))
        settings = ProjectorSettings(space=space, steps=steps, truncation_psi=psi, **projector)
        return cls(settings, metric, metric_file, seed, batch)

    def as_dict(self) -> dict:
        return {**asdict(self), "projector": self.projector.as_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "BatchSettings":
        projector = dict(d["projector"])
        projector["betas"] = tuple(projector.get("betas", (0.9, 0.999)))
        return cls(ProjectorSettings(**projector), d["metric"], d.get("metric_file"), d["seed"], d["batch"])

    def key_dict(self) -> dict:
        return {"projector": self.projector.as_dict(), "metric": self.metric, "metric_file": self.metric_file,
                "seed": self.seed}


@dataclass(frozen=True)
class Item:
    name: str             # input name, relative to the input prefix
    output: str           # output name, relative to the output prefix
    input_sha256: str
    key: str


@dataclass
class Plan:
    todo: list[Item] = field(default_factory=list)
    done: list[Item] = field(default_factory=list)

    @property
    def items(self) -> list[Item]:
        return sorted(self.todo + self.done, key=lambda i: i.name)


def output_name(name: str) -> str:
    """``a/b.jpg`` -> ``a/b.png``."""
    stem, dot, _ = name.rpartition(".")
    return (stem if dot else name) + ".png"


def item_key(name: str, input_sha256: str, parent_sha256: str, child_sha256: str, settings: BatchSettings) -> str:
    blob = json.dumps({"name": name, "input_sha256": input_sha256, "parent_sha256": parent_sha256,
                       "child_sha256": child_sha256, "settings": settings.key_dict()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def record_name(key: str) -> str:
    return f"{RECORDS_DIR}/{key}.json"


def check_prefixes(src, dst) -> None:
    """Refuse an output prefix inside the input one (its PNGs would be listed as new inputs), and the reverse."""
    if isinstance(src, LocalPrefix) and isinstance(dst, LocalPrefix):
        a, b = src.root.resolve(), dst.root.resolve()
        nested = a == b or a in b.parents or b in a.parents
    elif isinstance(src, S3Prefix) and isinstance(dst, S3Prefix):
        a, b = src.key + "/", dst.key + "/"
        nested = src.bucket == dst.bucket and (a.startswith(b) or b.startswith(a) or not src.key or not dst.key)
    else:
        nested = False
    if nested:
        raise PrefixError(f"output {dst.uri} and input {src.uri} overlap (fix: choose an output prefix outside "
                          "the input and the input outside the output)")


def list_images(src) -> list[str]:
    """Names of the image files of the input prefix, sorted; two names with one output name are refused."""
    names = [e.name for e in src.list(IMAGE_SUFFIXES)]
    seen: dict[str, str] = {}
    for name in names:
        if (other := seen.setdefault(output_name(name), name)) != name:
            raise PrefixError(f"{src.uri}: {other} and {name} would both be translated to {output_name(name)} "
                              "(fix: give the files distinct names)")
    return names


def plan(src, dst, parent_sha256: str, child_sha256: str, settings: BatchSettings) -> Plan:
    """Which images of ``src`` still need translating into ``dst`` (the skip rule of the module docstring).

    Every input is read once to hash its content; the output prefix is listed, never read."""
    check_prefixes(src, dst)
    outputs = {e.name for e in dst.list(suffixes=(".png",))}
    records = {e.name for e in dst.list(under=RECORDS_DIR)}
    result = Plan()
    for name in list_images(src):
        sha = hashlib.sha256(src.read(name)).hexdigest()
        item = Item(name, output_name(name), sha, item_key(name, sha, parent_sha256, child_sha256, settings))
        done = record_name(item.key) in records and item.output in outputs
        (result.done if done else result.todo).append(item)
    return result


def batches(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _png(array) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(buf, format="PNG")
    return buf.getvalue()


def _read_images(G, src, names: list[str]) -> tuple[list[InputImage], list[dict]]:
    """Decoded inputs at the parent's resolution, and [{name, reason}] of the unreadable ones."""
    from ..data.images import BadImage
    images, unreadable = [], []
    for k, name in enumerate(names):
        data = src.read(name)
        try:
            pixels, resized = decode(data, G.img_resolution, G.img_channels)
        except BadImage as exc:
            unreadable.append({"name": name, "reason": str(exc)})
            continue
        images.append(InputImage(InputEntry(k, name, name), hashlib.sha256(data).hexdigest(), pixels, resized))
    return images, unreadable


def translate_names(pair: AlignedPair, metric, src, dst, names: list[str], settings: BatchSettings) -> dict:
    """Invert the images ``names`` of ``src`` into the parent, render them with the child, write each PNG and
    then its record into ``dst``. Keys come from the bytes read here (an input replaced since the plan is
    recorded as what was translated). Returns {"records": [...], "unreadable": [{name, reason}]}."""
    images, unreadable = _read_images(pair.parent, src, names)
    if not images:
        return {"records": [], "unreadable": unreadable}
    options = InvertOptions(settings=settings.projector, batch=settings.batch, seed=settings.seed)
    table, _ = invert_images(pair.parent, pair.parent_sha256, images, metric, options)
    with torch.no_grad():
        out = translate(pair, table.latents, space=table.space, truncation_psi=settings.projector.truncation_psi)
    records = []
    for k, (image, array) in enumerate(zip(images, images_to_uint8(out))):
        name = image.entry.name
        record = {"name": name, "output": output_name(name), "input_sha256": image.sha256,
                  "parent_sha256": pair.parent_sha256, "child_sha256": pair.child_sha256,
                  "key": item_key(name, image.sha256, pair.parent_sha256, pair.child_sha256, settings),
                  "space": table.space, "distance": float(table.columns["distance"][k]),
                  "mse": float(table.columns["mse"][k]), "steps": int(table.columns["steps"][k]),
                  "resized_from": list(image.resized_from) if image.resized_from else None}
        dst.write(record["output"], _png(array))
        dst.write(record_name(record["key"]), (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
        records.append(record)
    return {"records": records, "unreadable": unreadable}


def read_manifest(dst) -> dict | None:
    """The output prefix's manifest, or None when there is none yet (or it cannot be parsed)."""
    if MANIFEST_NAME not in {e.name for e in dst.list(suffixes=(".json",))}:
        return None
    try:
        return json.loads(dst.read(MANIFEST_NAME))
    except ValueError:
        return None


def manifest(dst, items: list[Item], new_records: list[dict], header: dict) -> dict:
    """The manifest of ``items`` (the input's images at this run, translated now or before): each row is the
    record of the item's key, from this run, the previous manifest or its record file."""
    by_key = {r["key"]: r for r in ((read_manifest(dst) or {}).get("items") or [])}
    by_key.update({r["key"]: r for r in new_records})
    rows = []
    for item in sorted(items, key=lambda i: i.name):
        row = by_key.get(item.key)
        if row is None:
            try:
                row = json.loads(dst.read(record_name(item.key)))
            except (PrefixError, ValueError):
                continue  # unreadable input or not translated in this run: not in the manifest
        rows.append(row)
    return {**header, "items": rows}


def write_manifest(dst, doc: dict) -> str:
    return dst.write(MANIFEST_NAME, (json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n").encode())
