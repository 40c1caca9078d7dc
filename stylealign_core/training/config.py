"""Typed training configuration with stylegan2-ada-pytorch defaults (ANCHORS.md section 2).

``TrainConfig.from_dict`` validates a plain dict (e.g. a section of params.yaml) and names the
offending key on error. Derived values (``r1_gamma`` "auto", ``ema_kimg``) are resolved by
``resolved()`` so a snapshot records the numbers actually used.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ..components import COMPONENTS
from ..precision import PRECISIONS


# TrainConfig key (dotted inside `network` / `finetune`) -> its `stylealign train` / `finetune` flag. The CLI
# turns set flags into config values with it, and a model card's reproduce command turns non-default values
# back into flags with it, so the two cannot drift apart. `--lr` sets lr_g and lr_d together; list values are
# comma lists on the command line; finetune.* flags exist on `stylealign finetune` only, network.* on `train` only.
CLI_FLAGS = {
    "total_kimg": "--kimg", "batch": "--batch", "batch_gpu": "--batch-gpu", "lr_g": "--lr", "r1_gamma": "--gamma",
    "snapshot_kimg": "--snapshot-kimg", "keep_snapshots": "--keep", "seed": "--seed", "precision": "--precision",
    "device": "--device", "augment": "--aug", "ada_target": "--target", "ada_kimg": "--ada-kimg", "xflip": "--mirror",
    "grid_size": "--grid", "network.channel_base": "--cbase", "network.channel_max": "--cmax",
    "network.mapping_layers": "--map", "network.z_dim": "--z-dim", "network.w_dim": "--w-dim",
    "network.mbstd_group_size": "--mbstd-group", "finetune.freeze": "--freeze",
    "finetune.freeze_resolutions": "--freeze-res", "finetune.freeze_d": "--freezed",
}


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type or out of range; the message names the key."""


@dataclass
class NetworkConfig:
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    channel_base: int = 16384
    channel_max: int = 512
    conv_clamp: float | None = None
    mbstd_group_size: int = 4


@dataclass
class FinetuneConfig:
    """Child fine-tuning: which parts of the parent stay fixed."""
    freeze: list[str] = field(default_factory=list)        # subset of COMPONENTS
    freeze_resolutions: list[int] = field(default_factory=list)
    freeze_d: int = 0                                      # FreezeD: first N discriminator layers


@dataclass
class TrainConfig:
    total_kimg: float = 1000.0
    batch: int = 32
    batch_gpu: int | None = None        # per-process micro-batch (gradient accumulation); None = batch / world
    lr_g: float = 0.0025
    lr_d: float = 0.0025
    betas: tuple[float, float] = (0.0, 0.99)
    eps: float = 1e-8
    r1_gamma: float | str = "auto"      # "auto" = 0.0002 * res^2 / batch
    r1_interval: int = 16
    pl_weight: float = 2.0
    pl_interval: int = 4
    pl_decay: float = 0.01
    pl_batch_shrink: int = 2
    style_mixing: float = 0.9
    ema_kimg: float | None = None       # None = batch * 10 / 32
    ema_rampup: float | None = 0.05
    augment: str = "bgc"                # ADA preset, or "noaug"
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_kimg: float = 500.0
    augment_p: float = 0.0              # initial p
    xflip: bool = False                 # dataset x-flips (doubles the data)
    snapshot_kimg: float = 50.0
    keep_snapshots: int = 3
    grid_size: int = 8                  # grid_size x grid_size sample images per snapshot
    seed: int = 0
    precision: str = "fp32"            # fp32 | bf16 | fp16 | auto
    channels_last: bool = True
    device: str = "cpu"
    network: NetworkConfig = field(default_factory=NetworkConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    # ---- validation --------------------------------------------------------------------------
    def validate(self) -> "TrainConfig":
        def need(cond, key, msg):
            if not cond:
                raise ConfigError(f"train.{key}: {msg}")
        need(self.total_kimg > 0, "total_kimg", f"must be > 0, got {self.total_kimg}")
        need(isinstance(self.batch, int) and self.batch > 0, "batch", f"must be a positive integer, got {self.batch!r}")
        need(self.batch % self.network.mbstd_group_size == 0 or self.batch < self.network.mbstd_group_size,
             "batch", f"must be a multiple of network.mbstd_group_size ({self.network.mbstd_group_size})")
        if self.batch_gpu is not None:
            need(self.batch_gpu > 0 and self.batch % self.batch_gpu == 0, "batch_gpu",
                 f"must divide batch ({self.batch}), got {self.batch_gpu}")
        for key in ("lr_g", "lr_d", "snapshot_kimg"):
            need(getattr(self, key) > 0, key, f"must be > 0, got {getattr(self, key)}")
        need(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "betas", f"two values in [0, 1), got {self.betas}")
        need(self.r1_gamma == "auto" or (isinstance(self.r1_gamma, (int, float)) and self.r1_gamma >= 0),
             "r1_gamma", f"must be 'auto' or >= 0, got {self.r1_gamma!r}")
        need(self.r1_interval >= 1 and self.pl_interval >= 1, "r1_interval/pl_interval", "must be >= 1")
        need(self.pl_weight >= 0, "pl_weight", f"must be >= 0, got {self.pl_weight}")
        need(0 <= self.style_mixing <= 1, "style_mixing", f"a probability, got {self.style_mixing}")
        need(self.augment in ("bgc", "bg", "noaug"), "augment", f"one of bgc, bg, noaug; got {self.augment!r}")
        need(0 < self.ada_target < 1, "ada_target", f"in (0, 1), got {self.ada_target}")
        need(self.ada_kimg > 0, "ada_kimg", f"must be > 0, got {self.ada_kimg}")
        need(self.ada_interval >= 1, "ada_interval", f"must be >= 1, got {self.ada_interval}")
        need(self.keep_snapshots >= 1, "keep_snapshots", "must be >= 1")
        need(self.precision in PRECISIONS, "precision", f"one of {PRECISIONS}, got {self.precision!r}")
        need(self.device.split(":")[0] in ("cpu", "cuda"), "device", f"'cpu' or 'cuda[:N]', got {self.device!r}")
        bad = set(self.finetune.freeze) - set(COMPONENTS)
        need(not bad, "finetune.freeze", f"unknown component(s) {sorted(bad)}; choose from {COMPONENTS}")
        need(self.finetune.freeze_d >= 0, "finetune.freeze_d", "must be >= 0")
        for r in self.finetune.freeze_resolutions:
            need(isinstance(r, int) and r >= 4 and r & (r - 1) == 0, "finetune.freeze_resolutions",
                 f"powers of two >= 4, got {r!r}")
        net = self.network
        need(net.channel_base > 0 and net.channel_max > 0, "network.channel_base/channel_max", "must be > 0")
        need(net.mapping_layers >= 1, "network.mapping_layers", "must be >= 1")
        return self

    def resolved(self, resolution: int) -> "TrainConfig":
        """A copy with "auto"/None values replaced by the numbers used."""
        cfg = dataclasses.replace(self)
        if cfg.r1_gamma == "auto":
            cfg.r1_gamma = 0.0002 * resolution ** 2 / cfg.batch
        if cfg.ema_kimg is None:
            cfg.ema_kimg = cfg.batch * 10 / 32
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None) -> "TrainConfig":
        return _build(cls, values or {}, "train").validate()


def _build(cls, values: dict, prefix: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix}: expected a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(fields)
    if unknown:
        raise ConfigError(f"{prefix}.{sorted(unknown)[0]}: unknown key (known: {', '.join(fields)})")
    kwargs = {}
    for name, value in values.items():
        f, key = fields[name], f"{prefix}.{name}"
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, key)
        else:
            kwargs[name] = _coerce(value, default, key)
    return cls(**kwargs)


def _coerce(value, default, key):
    """Check a YAML value against the type of its default (ints accepted for floats)."""
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str) or (key.endswith("r1_gamma") and isinstance(value, (int, float)))
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
        value = type(default)(value) if ok else value
    else:
        ok = True
    if not ok:
        raise ConfigError(f"{key}: expected {type(default).__name__}, got {value!r}")
    return value
