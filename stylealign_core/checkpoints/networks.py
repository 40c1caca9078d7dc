"""Rebuilding networks from (class name, config, state dict) without pickle.

Every importer produces a :class:`NetworkSpec`; :func:`build_network` turns it into a fresh module
and loads the tensors with ``strict=True`` after checking names, shapes and dtypes itself, so that a
bad checkpoint fails with a message that names the offending tensor instead of a torch traceback.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import torch

from ..discriminator import Discriminator
from ..generator import Generator
from .. import ops
from .errors import CheckpointError

NETWORK_CLASSES: dict[str, type[torch.nn.Module]] = {"Generator": Generator, "Discriminator": Discriminator}
GENERATOR_NAMES = ("G_ema", "G")  # preference order for "the generator" of a checkpoint
MAX_LISTED = 6  # how many offending names an error message lists


@dataclass
class NetworkSpec:
    """What a checkpoint says about one network: enough to rebuild it without executing anything."""
    class_name: str
    config: dict
    state: dict[str, torch.Tensor]
    notes: list[str] = field(default_factory=list)


def _listing(names) -> str:
    names = sorted(names)
    more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
    return ", ".join(names[:MAX_LISTED]) + more


def network_class(class_name: str, source=None) -> type[torch.nn.Module]:
    cls = NETWORK_CLASSES.get(class_name)
    if cls is None:
        raise CheckpointError(source, f"unknown network class {class_name!r}",
                              f"supported: {', '.join(NETWORK_CLASSES)}")
    return cls


def check_config(class_name: str, config: dict, source=None, name: str | None = None) -> dict:
    """The constructor kwargs, validated against the class's signature (unknown keys are an error)."""
    cls = network_class(class_name, source)
    params = inspect.signature(cls.__init__).parameters
    unknown = set(config) - set(params) - {"self"}
    what = f"network {name!r}" if name else class_name
    if unknown:
        raise CheckpointError(source, f"{what} config has options this version does not know: {_listing(unknown)}",
                              "the checkpoint was written by a newer stylealign; upgrade")
    missing = [p for p, v in params.items() if p != "self" and v.default is inspect.Parameter.empty and p not in config]
    if missing:
        raise CheckpointError(source, f"{what} config lacks {_listing(missing)}")
    return dict(config)


def new_module(class_name: str, config: dict, source=None) -> torch.nn.Module:
    """A freshly initialised network from ``config`` (CPU; construction errors become CheckpointError)."""
    cls = network_class(class_name, source)
    try:
        with torch.random.fork_rng(devices=[]):  # loading must not move the caller's RNG stream
            return cls(**config)
    except (TypeError, ValueError, RuntimeError, MemoryError) as exc:
        raise CheckpointError(source, f"invalid {class_name} config {config}: {exc}") from None


def fill_resample_filters(class_name: str, config: dict, state: dict, taps=(1, 3, 3, 1)) -> dict:
    """Add the fixed ``*.resample_filter`` buffers a foreign format does not store."""
    state = dict(state)
    f = ops.setup_filter(taps)
    for key, buf in new_module(class_name, config).named_buffers():
        if key.endswith("resample_filter") and key not in state and buf.shape == f.shape:
            state[key] = f.clone()
    return state


def check_state(spec: NetworkSpec, expected: dict[str, tuple], source=None, name: str | None = None
                ) -> dict[str, torch.Tensor]:
    """Names, shapes and dtypes of ``spec.state`` against ``expected`` (name -> shape of the module the
    config builds); returns float32 CPU tensors."""
    what = f"network {name!r}" if name else spec.class_name
    missing, extra = set(expected) - set(spec.state), set(spec.state) - set(expected)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensor(s): {_listing(missing)}")
        if extra:
            parts.append(f"unexpected {len(extra)} tensor(s): {_listing(extra)}")
        raise CheckpointError(source, f"{what} ({spec.class_name}) does not match its config: " + "; ".join(parts),
                              "the file is from another architecture or was edited; re-export it")
    out = {}
    for key, shape in expected.items():
        t = spec.state[key]
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(source, f"{what}: {key} is a {type(t).__name__}, not a tensor")
        if tuple(t.shape) != shape:
            raise CheckpointError(source, f"{what}: {key} has shape {list(t.shape)}, the config implies {list(shape)}",
                                  "the config and the weights disagree; the file is corrupt or edited")
        if not t.is_floating_point():
            raise CheckpointError(source, f"{what}: {key} has dtype {t.dtype}, expected a floating-point tensor")
        out[key] = t.detach().to(device="cpu", dtype=torch.float32)
    return out


def build_network(spec: NetworkSpec, source=None, name: str | None = None, device="cpu") -> torch.nn.Module:
    """A fresh module from ``spec`` with every tensor loaded (strict), in eval mode with
    ``requires_grad=False`` (as official snapshots are); training code turns gradients back on."""
    config = check_config(spec.class_name, spec.config, source, name)
    module = new_module(spec.class_name, config, source)
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    state = check_state(NetworkSpec(spec.class_name, config, spec.state), expected, source, name)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # check_state makes this unreachable in practice
        raise CheckpointError(source, f"network {name!r}: {exc}") from None
    return module.eval().requires_grad_(False).to(device)


def network_config(module: torch.nn.Module) -> tuple[str, dict]:
    """(class name, config) of a module this layer knows how to rebuild."""
    for class_name, cls in NETWORK_CLASSES.items():
        if type(module) is cls:
            return class_name, dict(module.config)
    raise CheckpointError(None, f"cannot save a {type(module).__name__}: only {', '.join(NETWORK_CLASSES)} "
                                "networks are rebuilt from config")


@dataclass
class RawCheckpoint:
    """A checkpoint read from disk but not yet turned into modules (any of the supported formats)."""
    format: str                          # "stylealign" | "stylegan2-ada-pkl" | "rosinality-pt"
    source: "object"                     # pathlib.Path of the file read (our format: the .json manifest)
    sha256: str                          # of the tensor file (ours: the .safetensors; others: the file)
    networks: dict[str, NetworkSpec]
    extra: dict[str, torch.Tensor] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
