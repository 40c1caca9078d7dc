"""Inversion: images -> codes in Z, W, W+ or S of a generator, for whole data sets.

    from stylealign_core.inversion import read_latents
    table = read_latents("runs/invert-parent/latents.parquet")   # ids, space, latents, generator_sha256, metric

* :mod:`.projector`: the batched optimisation projector (per-image noise maps, official schedule).
* :mod:`.encoder`, :mod:`.encoder_train`, :mod:`.encoder_eval`: encoder inversion (a small CNN -> W+/W,
  trained for one generator), its training, and the quality floor against the projector.
* :mod:`.perceptual`: perceptual distances loaded offline (shift-tolerant LPIPS, LPIPS, NVlabs vgg16.pt).
* :mod:`.run`: a data set (or one shard of it) -> latents table, reconstructions, contact sheet.
* :mod:`.table`, :mod:`.shards`, :mod:`.cache`: the Parquet table, shard merge, the latents cache.

No Prefect or DVC imports here.
"""
from .cache import LatentsCache, cache_key, inversion_cache_dir
from .encoder import Encoder, check_encoder, encoder_codes, encoder_options, load_encoder, save_encoder
from .encoder_eval import evaluate_encoder, quality_floor, refine_settings
from .encoder_train import EncoderTrainSettings, load_init, load_reals, train_encoder, warm_start_settings
from .errors import InversionError
from .perceptual import DEFAULT_METRIC, METRICS, PerceptualDistance, load_metric
from .projector import RECIPES, Projection, ProjectorSettings, project, recipe_settings
from .run import InvertOptions, InvertResult, image_seed, invert_dataset, invert_images
from .shards import merge_shards, parse_shard
from .table import LatentsTable, concat_tables, read_latents, write_latents

__all__ = ["DEFAULT_METRIC", "METRICS", "Encoder", "EncoderTrainSettings", "InversionError", "InvertOptions", "InvertResult", "LatentsCache",
           "LatentsTable", "PerceptualDistance", "Projection", "ProjectorSettings", "cache_key", "check_encoder", "concat_tables", "encoder_codes",
           "encoder_options", "evaluate_encoder", "load_encoder", "load_init", "load_reals", "quality_floor", "refine_settings", "save_encoder",
           "train_encoder", "warm_start_settings",
           "image_seed", "inversion_cache_dir", "invert_dataset", "invert_images", "load_metric", "merge_shards",
           "parse_shard", "project", "read_latents", "recipe_settings", "write_latents", "RECIPES"]
