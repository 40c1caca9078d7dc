"""Inversion: images -> codes in Z, W, W+ or S of a generator, for whole data sets.

    from stylealign_core.inversion import read_latents
    table = read_latents("runs/invert-parent/latents.parquet")   # ids, space, latents, generator_sha256, metric

* :mod:`.projector`: the batched optimisation projector (per-image noise maps, official schedule).
* :mod:`.perceptual`: perceptual distances loaded offline (shift-tolerant LPIPS, LPIPS, NVlabs vgg16.pt).
* :mod:`.run`: a data set (or one shard of it) -> latents table, reconstructions, contact sheet.
* :mod:`.table`, :mod:`.shards`, :mod:`.cache`: the Parquet table, shard merge, the latents cache.

No Prefect or DVC imports here.
"""
from .cache import LatentsCache, cache_key, inversion_cache_dir
from .errors import InversionError
from .perceptual import DEFAULT_METRIC, METRICS, PerceptualDistance, load_metric
from .projector import Projection, ProjectorSettings, project
from .run import InvertOptions, InvertResult, image_seed, invert_dataset, invert_images
from .shards import merge_shards, parse_shard
from .table import LatentsTable, concat_tables, read_latents, write_latents

__all__ = ["DEFAULT_METRIC", "METRICS", "InversionError", "InvertOptions", "InvertResult", "LatentsCache",
           "LatentsTable", "PerceptualDistance", "Projection", "ProjectorSettings", "cache_key", "concat_tables",
           "image_seed", "inversion_cache_dir", "invert_dataset", "invert_images", "load_metric", "merge_shards",
           "parse_shard", "project", "read_latents", "write_latents"]
