"""Typed training configuration with stylegan2-ada-pytorch defaults (ANCHORS.md section 2).

``TrainConfig.from_dict`` validates a plain dict (e.g. a section of params.yaml) through the pydantic
schema (:mod:`stylealign_core.schema`) and names the offending key on error (``train.batch: expected
int, got 'abc'``). ``NetworkConfig`` is the one architecture schema: ``train.network`` here and
``parent.init.network`` in params.yaml. Derived values (``r1_gamma`` "auto", ``ema_kimg``) are resolved
by ``resolved()`` so a snapshot records the numbers actually used.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from ..components import COMPONENTS
from ..errors import StylealignError
from ..precision import PRECISIONS
from ..schema import KeyedProblem, Schema, first_problem

# TrainConfig key (dotted inside `network` / `finetune`) -> its `stylealign train` / `finetune` flag. The CLI
# turns set flags into config values with it, and a model card's reproduce command turns non-default values
# back into flags with it, so the two cannot drift apart. `--lr` sets lr_g and lr_d together; list values are
# comma lists on the command line; finetune.* flags exist on `stylealign finetune` only, network.* on `train` only.
CLI_FLAGS = {
    "total_kimg": "--kimg", "batch": "--batch", "batch_gpu": "--batch-gpu", "lr_g": "--lr", "r1_gamma": "--gamma",
    "snapshot_kimg": "--snapshot-kimg", "keep_snapshots": "--keep", "seed": "--seed", "precision": "--precision",
    "device": "--device", "augment": "--aug", "ada_target": "--target", "ada_kimg": "--ada-kimg", "xflip": "--mirror",
    "grid_size": "--grid", "ema_kimg": "--ema-kimg", "ema_rampup": "--ema-rampup", "cond": "--cond",
    "metrics": "--metrics", "metrics_num_gen": "--metrics-num-gen", "network.channel_base": "--cbase", "network.channel_max": "--cmax",
    "network.mapping_layers": "--map", "network.z_dim": "--z-dim", "network.w_dim": "--w-dim",
    "network.mbstd_group_size": "--mbstd-group", "finetune.freeze": "--freeze",
    "finetune.freeze_resolutions": "--freeze-res", "finetune.freeze_d": "--freezed",
}


class ConfigError(StylealignError, ValueError):
    """A configuration value is missing, of the wrong type or out of range; the message names the key."""


class NetworkConfig(Schema):
    """StyleGAN2 architecture (G and D) of a parent trained or initialised from scratch."""
    z_dim: int = Field(512, gt=0)
    w_dim: int = Field(512, gt=0)
    mapping_layers: int = Field(8, gt=0)
    channel_base: int = Field(16384, gt=0)    # channels at resolution r: min(channel_base / r, channel_max)
    channel_max: int = Field(512, gt=0)
    conv_clamp: float | None = Field(None, gt=0)
    mbstd_group_size: int = Field(4, gt=0)


class FinetuneConfig(Schema):
    """Child fine-tuning: which parts of the parent stay fixed."""
    freeze: list[str] = []                 # subset of COMPONENTS
    freeze_resolutions: list[int] = []
    freeze_d: int = Field(0, ge=0)         # FreezeD: first N discriminator layers

    @field_validator("freeze")
    @classmethod
    def _known_components(cls, value: list[str]) -> list[str]:
        bad = sorted(set(value) - set(COMPONENTS))
        if bad:
            raise ValueError(f"unknown component(s) {bad}; choose from {', '.join(COMPONENTS)}")
        return value

    @field_validator("freeze_resolutions")
    @classmethod
    def _powers_of_two(cls, value: list[int]) -> list[int]:
        bad = [r for r in value if r < 4 or r & (r - 1)]
        if bad:
            raise ValueError(f"resolutions are powers of two >= 4, got {bad}")
        return value


class TrainConfig(Schema):
    total_kimg: float = Field(1000.0, gt=0)
    batch: int = Field(32, gt=0)
    batch_gpu: int | None = Field(None, gt=0)  # per-process micro-batch (gradient accumulation); None = batch / world
    lr_g: float = Field(0.0025, gt=0)
    lr_d: float = Field(0.0025, gt=0)
    betas: tuple[float, float] = Field((0.0, 0.99), strict=False)  # a YAML/JSON list is accepted
    eps: float = Field(1e-8, gt=0)
    r1_gamma: float | Literal["auto"] = "auto"  # "auto" = 0.0002 * res^2 / batch
    r1_interval: int = Field(16, ge=1)
    pl_weight: float = Field(2.0, ge=0)
    pl_interval: int = Field(4, ge=1)
    pl_decay: float = Field(0.01, ge=0)
    pl_batch_shrink: int = Field(2, ge=1)
    style_mixing: float = Field(0.9, ge=0, le=1)
    ema_kimg: float | None = Field(None, ge=0)  # None = batch * 10 / 32
    ema_rampup: float = Field(0.05, ge=0)  # EMA half-life <= this x images shown; 0: no ramp-up (None read as 0)
    augment: Literal["bgc", "bg", "noaug"] = "bgc"  # ADA preset, or "noaug"
    ada_target: float = Field(0.6, gt=0, lt=1)
    ada_interval: int = Field(4, ge=1)
    ada_kimg: float = Field(500.0, gt=0)
    augment_p: float = Field(0.0, ge=0, le=1)  # initial p
    xflip: bool = False                 # dataset x-flips (doubles the data)
    snapshot_kimg: float = Field(50.0, gt=0)
    keep_snapshots: int = Field(3, ge=1)
    grid_size: int = Field(8, gt=0)     # grid_size x grid_size sample images per snapshot
    seed: int = 0
    precision: Literal[PRECISIONS] = "fp32"  # fp32 | bf16 | fp16 | auto
    channels_last: bool = True
    device: str = "cpu"                 # cpu | cuda | cuda:N (checked against this torch's devices)
    cond: bool = False                  # class-conditional: G and D take the data set's labels
    metrics: list[str] = []             # at every snapshot, e.g. ["fid2k", "kid2k"] (stylealign_core.metrics names)
    metrics_num_gen: int = Field(2000, ge=2)  # generated images of a metric named without a count ("fid")
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)

    @field_validator("ema_rampup", mode="before")
    @classmethod
    def _no_rampup_is_zero(cls, value):
        """One spelling of 'no ramp-up' (0), so a recorded config's reproduce command always carries it."""
        return 0.0 if value is None else value

    @field_validator("betas")
    @classmethod
    def _betas(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in value):
            raise ValueError(f"two values in [0, 1), got {list(value)}")
        return value

    @field_validator("r1_gamma")
    @classmethod
    def _gamma(cls, value: float | str) -> float | str:
        if value != "auto" and value < 0:
            raise ValueError(f"must be 'auto' or >= 0, got {value!r}")
        return value

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, value: list[str]) -> list[str]:
        from ..metrics.registry import MetricsError, parse_metric
        for name in value:
            try:
                parse_metric(name, num_gen=2)  # a known name
            except MetricsError as exc:
                raise ValueError(str(exc)) from None
        return [name.strip().lower() for name in value]

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        return check_device(value)

    @model_validator(mode="after")
    def _cross_field_rules(self) -> "TrainConfig":
        group = self.network.mbstd_group_size
        if self.batch % group and self.batch >= group:
            raise KeyedProblem("batch", f"must be a multiple of network.mbstd_group_size ({group}), got {self.batch}")
        if self.batch_gpu is not None and self.batch % self.batch_gpu:
            raise KeyedProblem("batch_gpu", f"must divide batch ({self.batch}), got {self.batch_gpu}")
        if self.precision == "fp16" and self.device == "cpu":
            raise KeyedProblem("precision", "'fp16' is for CUDA devices; on CPU use 'bf16', 'fp32' or 'auto'")
        return self

    # ---- the API the trainer, the CLI and the pipeline use -----------------------------------
    def validate(self) -> "TrainConfig":
        """Check the current values (e.g. after setting attributes); returns self or raises ConfigError."""
        TrainConfig.from_dict(self.to_dict())
        return self

    def resolved(self, resolution: int) -> "TrainConfig":
        """A copy with "auto"/None values replaced by the numbers used."""
        update = {}
        if self.r1_gamma == "auto":
            update["r1_gamma"] = 0.0002 * resolution ** 2 / self.batch
        if self.ema_kimg is None:
            update["ema_kimg"] = self.batch * 10 / 32
        return self.model_copy(update=update, deep=True)

    def replace(self, **changes) -> "TrainConfig":
        """A validated copy with ``changes`` applied (dotted keys not supported: pass ``network=...``)."""
        return TrainConfig.from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict:
        """Every setting as plain Python values (nested dicts for ``network`` / ``finetune``)."""
        return self.model_dump()

    @classmethod
    def from_dict(cls, values: dict | None) -> "TrainConfig":
        """Validate ``values`` (unset keys keep their defaults); ConfigError names the key at fault."""
        if values is not None and not isinstance(values, dict):
            raise ConfigError(f"train: expected a mapping, got {type(values).__name__}")
        try:
            return cls.model_validate(values or {})
        except ValidationError as exc:
            key, problem = first_problem(exc, cls)
            raise ConfigError(f"train.{key}: {problem}" if key else f"train: {problem}") from None


def check_device(device: str) -> str:
    """``device`` if it names a device this torch can use ('cpu', 'cuda', 'cuda:N'); ValueError otherwise."""
    kind, _, index = device.partition(":")
    if kind == "cpu" and not index:
        return device
    if kind != "cuda" or (index and not index.isdigit()):
        raise ValueError(f"'cpu' or 'cuda[:N]', got {device!r}")
    import torch

    if not torch.cuda.is_available():
        raise ValueError(f"{device!r}, but this torch ({torch.__version__}) sees no CUDA device (a CPU-only build "
                         "or no GPU): use 'cpu', or install a CUDA build of torch on a machine with a GPU")
    count = torch.cuda.device_count()
    if index and int(index) >= count:
        raise ValueError(f"{device!r}, but this machine has {count} CUDA device(s): use cuda:0..cuda:{count - 1}")
    return device
