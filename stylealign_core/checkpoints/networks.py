"""Rebuilding networks from (class name, config, state dict) without pickle.

Every importer produces a :class:`NetworkSpec`; :func:`build_network` turns it into a fresh module
and loads the tensors with ``strict=True`` after checking names, shapes and dtypes itself, so that a
bad checkpoint fails with a message that names the offending tensor instead of a torch traceback.

Classes are found by name in :mod:`stylealign_core.registry`: any network registered there with
``@register_network`` saves and loads without this module knowing it. A checkpoint entry may name the
module that defines its class (``"module"``); one inside the stylealign packages is imported on demand,
so a file holding, say, an encoder loads even when the caller never imported the encoder's module.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field

import torch

from .. import ops
from ..registry import describe_network, lookup_network, registered_networks
from .errors import CheckpointError

GENERATOR_NAMES = ("G_ema", "G")  # preference order for "the generator" of a checkpoint
MAX_LISTED = 6  # how many offending names an error message lists
TRUSTED_PACKAGES = ("stylealign_core", "stylealign")  # a file may ask for modules of these to be imported


@dataclass
class NetworkSpec:
    """What a checkpoint says about one network: enough to rebuild it without executing anything."""
    class_name: str
    config: dict
    state: dict[str, torch.Tensor]
    notes: list[str] = field(default_factory=list)
    module: str | None = None  # where the class is defined (our format records it); None: registered already


def _listing(names) -> str:
    names = sorted(names)
    more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
    return ", ".join(names[:MAX_LISTED]) + more


def _import_trusted(module: str | None) -> None:
    """Import ``module`` when it belongs to a stylealign package (that is how its classes register)."""
    if not isinstance(module, str) or module.split(".")[0] not in TRUSTED_PACKAGES:
        return
    try:
        importlib.import_module(module)
    except ImportError:
        pass  # reported below as an unknown class, with the module named


def network_class(class_name: str, source=None, module: str | None = None) -> type[torch.nn.Module]:
    """The registered class called ``class_name`` (importing its stylealign ``module`` first if needed)."""
    cls = lookup_network(class_name)
    if cls is None:
        _import_trusted(module)
        cls = lookup_network(class_name)
    if cls is None:
        where = f" (defined in {module})" if module else ""
        raise CheckpointError(source, f"unknown network class {class_name!r}{where}; registered: "
                              f"{', '.join(sorted(registered_networks())) or 'none'}",
                              "import the module that defines the class before loading, and decorate the class "
                              "with @register_network from stylealign_core.registry")
    return cls


def check_config(class_name: str, config: dict, source=None, name: str | None = None,
                 module: str | None = None) -> dict:
    """The constructor kwargs, validated against the class's signature (unknown keys are an error unless
    the constructor takes ``**kwargs``)."""
    cls = network_class(class_name, source, module)
    params = dict(list(inspect.signature(cls.__init__).parameters.items())[1:])
    open_ended = any(v.kind is inspect.Parameter.VAR_KEYWORD for v in params.values())
    params = {p: v for p, v in params.items() if v.kind is not inspect.Parameter.VAR_KEYWORD}
    unknown = set() if open_ended else set(config) - set(params)
    what = f"network {name!r}" if name else class_name
    if unknown:
        raise CheckpointError(source, f"{what} config has options this version does not know: {_listing(unknown)}",
                              "the checkpoint was written by a newer stylealign; upgrade")
    missing = [p for p, v in params.items() if v.default is inspect.Parameter.empty and p not in config]
    if missing:
        raise CheckpointError(source, f"{what} config lacks {_listing(missing)}")
    return dict(config)


def new_module(class_name: str, config: dict, source=None, module: str | None = None) -> torch.nn.Module:
    """A freshly initialised network from ``config`` (CPU; construction errors become CheckpointError)."""
    cls = network_class(class_name, source, module)
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


def check_state(spec: NetworkSpec, expected: dict[str, torch.Tensor], source=None, name: str | None = None
                ) -> dict[str, torch.Tensor]:
    """Names, shapes and dtypes of ``spec.state`` against ``expected`` (the state dict of the module the
    config builds); returns CPU tensors of the expected dtypes. Floating-point tensors may be stored at
    another floating precision (a half-precision export); other dtypes must match exactly."""
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
    for key, ref in expected.items():
        t = spec.state[key]
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(source, f"{what}: {key} is a {type(t).__name__}, not a tensor")
        if tuple(t.shape) != tuple(ref.shape):
            raise CheckpointError(source, f"{what}: {key} has shape {list(t.shape)}, the config implies "
                                  f"{list(ref.shape)}", "the config and the weights disagree; the file is corrupt "
                                  "or edited")
        if t.dtype != ref.dtype and not (t.is_floating_point() and ref.is_floating_point()):
            kind = "a floating-point tensor" if ref.is_floating_point() else "a tensor"
            raise CheckpointError(source, f"{what}: {key} has dtype {t.dtype}, expected {kind} ({ref.dtype})")
        out[key] = t.detach().to(device="cpu", dtype=ref.dtype)
    return out


def build_network(spec: NetworkSpec, source=None, name: str | None = None, device="cpu") -> torch.nn.Module:
    """A fresh module from ``spec`` with every tensor loaded (strict), in eval mode with
    ``requires_grad=False`` (as official snapshots are); training code turns gradients back on."""
    config = check_config(spec.class_name, spec.config, source, name, spec.module)
    module = new_module(spec.class_name, config, source, spec.module)
    state = check_state(NetworkSpec(spec.class_name, config, spec.state), module.state_dict(), source, name)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # check_state makes this unreachable in practice
        raise CheckpointError(source, f"network {name!r}: {exc}") from None
    return module.eval().requires_grad_(False).to(device)


def network_config(module: torch.nn.Module) -> tuple[str, dict]:
    """(registered class name, config) of a module this layer can rebuild."""
    try:
        return describe_network(module)
    except TypeError as exc:
        raise CheckpointError(None, f"cannot save a {type(module).__name__}: {exc}") from None


@dataclass
class RawCheckpoint:
    """A checkpoint read from disk but not yet turned into modules (any of the supported formats)."""
    format: str                          # "stylealign" | "stylegan2-ada-pkl" | "rosinality-pt"
    source: "object"                     # pathlib.Path of the file read (our format: the .json manifest)
    sha256: str                          # of the tensor file (ours: the .safetensors; others: the file)
    networks: dict[str, NetworkSpec]
    extra: dict[str, torch.Tensor] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
