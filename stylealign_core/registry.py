"""Networks that describe themselves: registered ``nn.Module`` classes record their constructor arguments.

    @register_network
    class Encoder(torch.nn.Module):
        def __init__(self, img_resolution: int, w_dim: int = 512):
            super().__init__()
            ...

    E = Encoder(64)
    E.config                       # {"img_resolution": 64, "w_dim": 512}: every argument, defaults filled in
    save_checkpoint("enc", {"E": E})
    load_checkpoint("enc").networks["E"]   # rebuilt as Encoder(**config), weights loaded strictly

Registering a class (by its ``__name__``, or ``name=``) wraps its ``__init__``: the call's arguments are
bound to the signature, defaults applied, and kept as ``config``, a JSON copy, so whatever the constructor
accepts is recorded (a new argument is never lost on save). The checkpoint layer looks classes up here by
name: a new network saves and loads through the same safetensors+JSON format without editing it.

Rules a registered class follows (checked when it is registered or constructed):

* every constructor argument can be passed by keyword (no ``*args``, no positional-only parameters);
  ``**kwargs`` are recorded flat, as if passed by name;
* argument values are JSON (numbers, strings, booleans, None, lists, dicts): ``config`` is what a
  checkpoint stores, and tuples come back as lists;
* the class does not define ``config`` itself. An unregistered subclass of a registered class has no
  ``config`` (its arguments would be its parent's): register the subclass too.
"""
from __future__ import annotations

import copy
import functools
import inspect
import json
import re

import torch

_NETWORKS: dict[str, type[torch.nn.Module]] = {}
_CONFIG_ATTR = "_registered_config"  # (class, config) recorded by the outermost registered __init__
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NOT_BY_KEYWORD = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY)


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _scalar(value):
    """numpy / torch 0-d scalars as Python numbers (``np.int64(64)`` is a fine resolution); else refused."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def _bound_config(cls: type, signature: inspect.Signature, args: tuple, kwargs: dict) -> dict:
    """The constructor arguments of one call as a JSON-normalised dict (defaults applied, **kwargs flat)."""
    bound = signature.bind(None, *args, **kwargs)
    bound.apply_defaults()
    config = {}
    for index, (name, value) in enumerate(bound.arguments.items()):
        if index == 0:
            continue  # self
        if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            config.update(value)
        else:
            config[name] = value
    try:
        return json.loads(json.dumps(config, allow_nan=True, default=_scalar))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{cls.__name__}: a constructor argument is not a JSON value ({exc}); a registered "
                        "network is rebuilt from its config, so pass numbers, strings, booleans, None, lists "
                        "or dicts") from None


def _check_signature(cls: type, signature: inspect.Signature) -> None:
    params = list(signature.parameters.values())[1:]
    bad = [p.name for p in params if p.kind in _NOT_BY_KEYWORD]
    if bad:
        raise TypeError(f"cannot register {_qualified(cls)}: constructor parameter(s) {', '.join(bad)} cannot be "
                        "passed by keyword (*args or positional-only); a registered network is rebuilt as "
                        "cls(**config), so give every argument a name")


def _config(self) -> dict:
    recorded = self.__dict__.get(_CONFIG_ATTR)
    if recorded is None or recorded[0] is not type(self):
        raise TypeError(f"{type(self).__name__} is not a registered network, so it has no recorded config; "
                        "decorate its class with @register_network (stylealign_core.registry)")
    return copy.deepcopy(recorded[1])


def register_network(cls: type | None = None, *, name: str | None = None):
    """Class decorator (``@register_network`` or ``@register_network(name="...")``): see the module doc.

    Re-registering the same class (same module and qualified name, e.g. a reloaded module) replaces the
    entry; another class under a taken name is an error.
    """
    def register(cls: type) -> type:
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise TypeError(f"register_network takes a torch.nn.Module subclass, got {cls!r}")
        key = cls.__name__ if name is None else name
        if not isinstance(key, str) or not _NAME_RE.match(key):
            raise ValueError(f"network name {key!r} must be an identifier (letters, digits, _)")
        taken = _NETWORKS.get(key)
        if taken is not None and _qualified(taken) != _qualified(cls):
            raise ValueError(f"network name {key!r} is already registered for {_qualified(taken)}; register "
                             f"{_qualified(cls)} under another name: @register_network(name=...)")
        if "config" in cls.__dict__:
            raise TypeError(f"cannot register {_qualified(cls)}: it defines `config` itself; remove it, the "
                            "registry derives config from the constructor arguments")
        original_init = cls.__init__
        signature = inspect.signature(original_init)
        _check_signature(cls, signature)

        @functools.wraps(original_init)
        def __init__(self, *args, **kwargs):
            config = _bound_config(cls, signature, args, kwargs)  # before __init__ can mutate an argument
            original_init(self, *args, **kwargs)
            object.__setattr__(self, _CONFIG_ATTR, (cls, config))  # the outermost registered class wins

        cls.__init__ = __init__
        cls.config = property(_config, doc="The constructor arguments (JSON values, defaults filled in).")
        cls.network_name = key
        _NETWORKS[key] = cls
        return cls

    return register if cls is None else register(cls)


def registered_networks() -> dict[str, type[torch.nn.Module]]:
    """Name -> class of every registered network (a copy)."""
    return dict(_NETWORKS)


def lookup_network(name: str) -> type[torch.nn.Module] | None:
    """The class registered as ``name``, or None."""
    return _NETWORKS.get(name)


def describe_network(module: torch.nn.Module) -> tuple[str, dict]:
    """(registered name, config) of ``module``; TypeError when its exact class is not registered."""
    cls = type(module)
    key = getattr(cls, "network_name", None)
    if key is None or _NETWORKS.get(key) is not cls:
        raise TypeError(f"{_qualified(cls)} is not a registered network; decorate its class with "
                        "@register_network (stylealign_core.registry) so its constructor arguments are recorded")
    return key, module.config
