"""Invert a whole data set (or one shard of it): images in, latents table + reconstructions out.

    result = invert_dataset(G, generator_sha256, "data/emoji-google-64", "runs/invert-parent",
                            metric=load_metric("stlpips-vgg"), options=InvertOptions(settings=...))

Writes, under ``out``: ``reconstructions/<id>.png``, ``contact_sheet.png`` (input | reconstruction
pairs), ``invert.json`` (settings, metric, generator, counts, skipped images) and, last and atomically,
the table ``latents.parquet`` (a shard run: the same under ``shards/``, named by the shard).
With ``options.encoder`` (an :class:`~.encoder.Encoder`) the codes are the encoder's output (method
"encode"), refined by ``options.refine`` projector steps from there ("encode+refine"); the encoder must
have been trained for this generator (its sha256), and its checkpoint's sha256 is part of the cache key. A killed run
leaves no table; the images it finished are in the latents cache, so a rerun continues from there.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..atomic import write_json_atomic
from ..grid import images_to_uint8, save_image_grid
from .cache import LatentsCache, cache_key
from .encoder import check_encoder
from .encoder_eval import encode_batches
from .errors import InversionError
from .images import InputImage, list_inputs, load_inputs, to_tensor
from .perceptual import PerceptualDistance
from .projector import ProjectorSettings, project
from .shards import SHARDS_DIR, shard_entries, shard_table_path
from .spaces import code_shape, space_stats, synthesize_codes
from .table import LatentsTable, write_latents

METHOD = "project"
SHEET_PAIRS = 32


@dataclass
class InvertOptions:
    settings: ProjectorSettings = field(default_factory=ProjectorSettings)
    batch: int = 16
    seed: int = 0
    split: str | None = None
    shard: tuple[int, int] | None = None
    limit: int | None = None        # only the first N images of the input (before sharding)
    strict: bool = False
    cache: LatentsCache = field(default_factory=lambda: LatentsCache(enabled=False))
    progress: bool = False
    generator_uri: str = ""
    encoder: object | None = None   # an Encoder: method "encode" ("encode+refine" with refine > 0 steps)
    encoder_sha256: str = ""        # of the encoder checkpoint (part of the cache key)
    encoder_uri: str = ""
    refine: int = 0                 # projector steps from the encoder's codes (see encoder_eval.refine_settings)

    @property
    def method(self) -> str:
        if self.encoder is None:
            return METHOD
        return "encode+refine" if self.refine > 0 else "encode"

    def effective_settings(self) -> ProjectorSettings:
        """The projector settings that run: ``settings``, or the refine recipe of an encoder run."""
        if self.encoder is None:
            return self.settings
        from .encoder_eval import refine_settings
        return refine_settings(self.settings, self.refine)


@dataclass
class InvertResult:
    table: LatentsTable
    table_path: Path
    computed: int
    cached: int
    skipped: list[tuple[str, str]]


def image_seed(seed: int, image_sha256: str) -> int:
    """The seed of one image's noise maps and latent noise: a function of the run seed and its content."""
    return int(hashlib.sha256(f"{seed}:{image_sha256}".encode()).hexdigest()[:8], 16)


def _settings_key(options: InvertOptions, metric: PerceptualDistance) -> dict:
    key = {**options.effective_settings().as_dict(), "metric": metric.name, "seed": options.seed}
    if options.encoder is not None:
        key["encoder_sha256"] = options.encoder_sha256
    return key


def _project_missing(G, metric, images: list[InputImage], todo: list[int], options: InvertOptions,
                     keys: list[str], results: dict) -> None:
    """Project the images at positions ``todo`` in batches, filling ``results`` and the cache."""
    if not todo:
        return
    from tqdm.auto import tqdm
    settings = options.effective_settings()
    stats = space_stats(G, settings.space, settings.stats_samples)
    bar = tqdm(total=len(todo) * max(settings.steps, 1), desc=options.method, unit="img-step",
               disable=not options.progress)
    try:
        for start in range(0, len(todo), options.batch):
            rows = todo[start:start + options.batch]
            batch = [images[r] for r in rows]
            seeds = [image_seed(options.seed, im.sha256) for im in batch]
            targets = to_tensor(batch)
            codes = None if options.encoder is None else encode_batches(G, options.encoder, targets, settings.space)
            out = project(G, targets, seeds, metric, settings, stats=stats, start=codes,
                          on_step=lambda step, active: bar.update(len(rows)))
            if not settings.steps:
                bar.update(len(rows))
            for k, r in enumerate(rows):
                entry = {"latent": out.latents[k].numpy(), "distance": float(out.distance[k]),
                         "mse": float(out.mse[k]), "loss": float(out.loss[k]), "steps": int(out.steps[k])}
                options.cache.put(keys[r], entry)
                results[r] = entry
    finally:
        bar.close()


def invert_images(G, generator_sha256: str, images: list[InputImage], metric: PerceptualDistance,
                  options: InvertOptions) -> tuple[LatentsTable, int]:
    """Latents table of ``images`` (from the cache where possible) and how many were optimised."""
    if options.encoder is not None:
        check_encoder(options.encoder, G, generator_sha256, options.encoder_uri or "encoder",
                      options.generator_uri or "the generator")
    settings_key = _settings_key(options, metric)
    keys = [cache_key(im.sha256, generator_sha256, options.method, settings_key) for im in images]
    results = {r: hit for r, key in enumerate(keys) if (hit := options.cache.get(key)) is not None}
    todo = [r for r in range(len(images)) if r not in results]
    _project_missing(G, metric, images, todo, options, keys, results)
    shape = code_shape(G, options.settings.space)
    latents = torch.stack([torch.as_tensor(results[r]["latent"]).reshape(shape) for r in range(len(images))])
    columns = {"index": [im.entry.index for im in images], "image_sha256": [im.sha256 for im in images],
               "method": [options.method] * len(images), "seed": [image_seed(options.seed, im.sha256) for im in images],
               "truncation_psi": [options.settings.truncation_psi] * len(images)}
    for name in ("distance", "mse", "loss", "steps"):
        columns[name] = [results[r][name] for r in range(len(images))]
    table = LatentsTable(ids=[im.entry.id for im in images], space=options.settings.space, latents=latents,
                         generator_sha256=generator_sha256, metric=metric.name, columns=columns)
    return table, len(todo)


@torch.no_grad()
def write_reconstructions(G, table: LatentsTable, images: list[InputImage], out: Path, sheet_path: Path,
                          truncation_psi: float, batch: int = 32) -> None:
    """``out/reconstructions/<id>.png`` for every row and a contact sheet of the first pairs."""
    from PIL import Image
    from ..atomic import write_atomic
    pairs = []
    device = next(G.parameters()).device
    for start in range(0, len(table), batch):
        codes = table.latents[start:start + batch].to(device)
        recon = synthesize_codes(G, codes, table.space, truncation_psi).cpu()
        for k, array in enumerate(images_to_uint8(recon)):
            image_id = table.ids[start + k]
            pil = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
            write_atomic(out / "reconstructions" / f"{image_id}.png", lambda tmp: pil.save(tmp, format="PNG"))
        if len(pairs) < 2 * SHEET_PAIRS:
            inputs = to_tensor(images[start:start + batch])
            for a, b in zip(inputs, recon):
                pairs += [a, b.clamp(-1, 1)]
    pairs = pairs[:2 * SHEET_PAIRS]
    save_image_grid(torch.stack(pairs), sheet_path, ncols=min(8, len(pairs)), pad=2)


def invert_dataset(G, generator_sha256: str, data: str | os.PathLike, out: str | os.PathLike,
                   metric: PerceptualDistance, options: InvertOptions = InvertOptions()) -> InvertResult:
    """Invert the images of ``data`` (one shard of them with ``options.shard``) into ``out``."""
    out = Path(out)
    entries = list_inputs(data, options.split)[:options.limit]
    entries = shard_entries(entries, options.shard)
    images, skipped = load_inputs(data, entries, G.img_resolution, G.img_channels, strict=options.strict)
    if not images:
        raise InversionError(f"no readable image to invert in {data} ({len(skipped)} skipped)",
                             "check the input files")
    table, computed = invert_images(G, generator_sha256, images, metric, options)
    table_path = shard_table_path(out, options.shard)
    prefix = "" if options.shard is None else f"{SHARDS_DIR}/{table_path.stem}-"
    write_reconstructions(G, table, images, out, out / f"{prefix}contact_sheet.png",
                          options.settings.truncation_psi)
    write_json_atomic(out / f"{prefix}invert.json", {
        "data": str(data), "split": options.split, "shard": list(options.shard) if options.shard else None,
        "generator": options.generator_uri, "generator_sha256": generator_sha256, "method": options.method,
        **({"encoder": options.encoder_uri, "encoder_sha256": options.encoder_sha256, "refine": options.refine}
           if options.encoder is not None else {}),
        "metric": metric.name, "metric_detail": metric.detail, "settings": options.effective_settings().as_dict(),
        "seed": options.seed, "batch": options.batch, "images": len(images), "optimised": computed,
        "from_cache": len(images) - computed, "skipped": [{"file": n, "reason": r} for n, r in skipped],
        "mean_distance": float(torch.tensor(table.columns["distance"]).mean())})
    write_latents(table_path, table)
    return InvertResult(table, table_path, computed, len(images) - computed, skipped)
