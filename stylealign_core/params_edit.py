"""The ``invert``, ``translate`` and ``morph`` sections of params.yaml (the editing stages after ``finetune``).

Registered in :class:`stylealign_core.params.Params`; validated like every section (strict types, no unknown
keys, errors naming the dotted key). Each field mirrors an option of ``stylealign invert`` / ``translate`` /
``morph`` and keeps its default unless the budget of a pipeline run needs less (see params.yaml).

* ``invert``    -> :class:`InvertParams`     parent-domain test images -> parent latents, child-domain test
  images -> child latents (``OUT/parent/latents.parquet``, ``OUT/child/latents.parquet``)
* ``translate`` -> :class:`TranslateParams`  parent latents rendered by the child, scored against the child
  domain's images of the same ids (``OUT/`` as ``stylealign translate``; flat DVC metrics file)
* ``morph``     -> :class:`MorphParams`      parent image a -> child image b for a few pairs
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field

from .schema import Schema
from .training.config import check_device



def _path(v: str) -> str:
    if not v.strip():
        raise ValueError("must be a non-empty path")
    return v


def _id_pair(v: list[str]) -> list[str]:
    if len(v) != 2 or not all(s.strip() for s in v):
        raise ValueError(f"expected two ids [a, b], got {v!r}")
    return v


PathStr = Annotated[str, AfterValidator(_path)]
IdPair = Annotated[list[str], AfterValidator(_id_pair)]
Device = Annotated[str, AfterValidator(check_device)]
Schedule = Literal["linear", "cosine", "smoothstep"]
Space = Literal["z", "w", "w+", "s"]                       # the latent spaces the projector inverts into
_RUNNER_RE = re.compile(r"^(local|dask|ray|(dask|tcp|ray)://\S+)$")


def _task_runner(v: str) -> str:
    if not _RUNNER_RE.match(v):
        raise ValueError(f"expected local, dask, dask://HOST:PORT, ray or ray://HOST:PORT, got {v!r}")
    return v


# == stylealign_core.inversion.perceptual.DEFAULT_METRIC (a test checks it). The inversion package is imported
# only when a metric is validated: importing params (every stage does) must not load it.
DEFAULT_METRIC = "stlpips-vgg"


def _metric(extra: tuple[str, ...] = ()):
    def check(v: str) -> str:
        from .inversion.perceptual import METRICS
        allowed = (*extra, *METRICS)
        if v not in allowed:
            raise ValueError(f"unknown perceptual metric {v!r} (use one of: {', '.join(allowed)})")
        return v
    return AfterValidator(check)


def _power_of_two(v: int | None) -> int | None:
    if v is not None and (v < 4 or v & (v - 1)):
        raise ValueError(f"must be a synthesis block resolution (a power of two >= 4), got {v!r}")
    return v


class _Section(Schema):
    model_config = ConfigDict(frozen=True)


class InvertEncoderParams(_Section):
    """``invert.method: encode``: the parent's shipped encoder, and the child's warm-started from it in the stage."""
    parent: PathStr = "models/encoder/emoji-noto-64/encoder.json"  # trained for the pinned parent (its sha256)
    child_kimg: float = Field(2.0, gt=0)                  # the child's: the parent's encoder, its own recipe, this
                                                          # many kimg on the child's samples and train images
    refine: int = Field(50, ge=0)                         # projector steps from the encoder's codes


class InvertParams(_Section):
    """``stylealign invert`` of both domains' images, sharded over a Prefect task runner."""
    out: PathStr = "runs/invert"                          # OUT/parent/ and OUT/child/ (each as `stylealign invert`)
    split: Literal["train", "test"] | None = "test"       # which split of each data set (null: all images)
    limit: int | None = Field(64, gt=0)                   # the first N images of that split (null: all)
    space: Space = "w+"
    recipe: Literal["official", "fast"] = "official"     # the projector's recipe (RECIPES); null fields: its values
    steps: int | None = Field(None, gt=0)                 # optimisation steps per image (null: the recipe's)
    lr: float | None = Field(None, gt=0)                  # null: the recipe's
    batch: int = Field(16, gt=0)                          # images optimised together
    stats_samples: int = Field(10_000, gt=0)              # z samples for the space's mean/std
    noise: Literal["optimize", "const"] | None = None     # null: the recipe's
    metric: Annotated[str, _metric()] = DEFAULT_METRIC
    seed: int = 0
    shards: int = Field(1, gt=0)                          # shards per domain, mapped over the task runner
    task_runner: Annotated[str, AfterValidator(_task_runner)] = "local"
    workers: int = Field(2, gt=0)                         # threads (local) / processes (dask) of the runner
    device: Device = "cpu"
    threads: int | None = Field(None, gt=0)               # torch CPU threads per shard
    method: Literal["project", "encode"] = "project"      # encode: encoder + `encoder.refine` projector steps
    encoder: InvertEncoderParams = Field(default_factory=InvertEncoderParams)

    def projector_settings(self) -> dict:
        """The ``ProjectorSettings`` fields this section sets (the rest keep the projector's defaults). With the
        metric and the seed they make the latents-cache key, so the invert stage and the zero-shot route a,
        which both build their projector from here, share finished images."""
        from .inversion.projector import recipe_values
        return recipe_values(self.recipe, steps=self.steps, lr=self.lr, noise=self.noise, space=self.space,
                             stats_samples=self.stats_samples)


class TranslateParams(_Section):
    """``stylealign translate --latents OUT_INVERT/parent/latents.parquet --truth CHILD_DATA --inputs PARENT_DATA``."""
    out: PathStr = "runs/translate"
    metrics: PathStr = "metrics/translate.json"           # DVC metrics: lpips, baselines, mask_iou, n_items
    truncation_psi: float | None = None                   # null: the CLI's default (0.5 for z codes, else 1)
    swap_res: Annotated[int | None, AfterValidator(_power_of_two)] = None  # layer-swapped hybrid at R
    blend: float = Field(0.0, ge=0)
    metric: Annotated[str, _metric(("auto", "none"))] = "auto"  # perceptual distance of the scores
    boot: int = Field(1000, gt=0)                         # bootstrap resamples
    prefilter: int = Field(32, ge=0)                      # nearest-image baseline: perceptual among K pixel-nearest
    sheet_rows: int = Field(16, gt=0)
    batch: int = Field(16, gt=0)
    device: Device = "cpu"
    threads: int | None = Field(None, gt=0)


class MorphParams(_Section):
    """``stylealign morph`` of a few pairs: parent image a (parent latents) -> child image b (child latents)."""
    out: PathStr = "runs/morph"                           # OUT/<a>-<b>/ per pair, OUT/pairs.json
    pairs: list[IdPair] = Field(default_factory=list)  # explicit [a, b] ids; empty: `count` pairs
    count: int = Field(3, gt=0)                           # pairs chosen from the tables when `pairs` is empty
    pairing: Literal["same", "next"] = "same"             # same: b = a's id (a Noto emoji -> its Twemoji);
                                                          # next: b = the next id of the table
    frames: int = Field(32, ge=2)
    fps: float = Field(12.0, gt=0)
    scale: int = Field(4, gt=0)                           # GIF/MP4 enlargement
    strip_frames: int = Field(9, ge=2)
    latent_schedule: Schedule = "linear"
    weight_schedule: Schedule = "linear"
    weight_order: Literal["together", "coarse-to-fine", "fine-to-coarse"] = "together"
    weight_steps: bool = False
    windows: str | None = None                            # e.g. '4:0-0.5,8:0.25-0.75,16:0.5'
    truncation_psi: float | None = None                   # null: 0.5 for z codes, else 1
    device: Device = "cpu"


def edit_outputs(params) -> dict[str, str]:
    """The output paths of these sections, by dotted key (for the overlap check of params.py)."""
    return {"invert.out": params.invert.out, "translate.out": params.translate.out,
            "translate.metrics": params.translate.metrics, "morph.out": params.morph.out}
