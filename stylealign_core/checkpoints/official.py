"""Import stylegan2-ada-pytorch / stylegan3 (``training.networks_stylegan2``) network pickles.

The pickle is read with :mod:`.unpickler` (no foreign code runs). Tensors come out of each
persistent record's ``_parameters`` / ``_buffers`` (recursively through ``_modules``) under the
official state-dict names, which are ours too. Constructor kwargs (``_init_kwargs``) are mapped to
our configs; options we cannot reproduce (StyleGAN3 generators, non-'skip' G or non-'resnet' D
architectures, other activations or resampling filters) are refused with a message saying which.
fp16 settings (``num_fp16_res``) and training-only switches are ignored and recorded in metadata.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .errors import CheckpointError
from .networks import NetworkSpec, RawCheckpoint
from .unpickler import PersistentRecord, load_restricted

FORMAT = "stylegan2-ada-pkl"
NETWORK_ENTRIES = ("G", "D", "G_ema")
G_CLASSES = {"Generator", "MappingNetwork", "SynthesisNetwork", "SynthesisBlock", "SynthesisLayer", "ToRGBLayer",
             "FullyConnectedLayer", "Conv2dLayer"}
D_CLASSES = {"Discriminator", "DiscriminatorBlock", "DiscriminatorEpilogue", "MinibatchStdLayer",
             "FullyConnectedLayer", "Conv2dLayer", "MappingNetwork"}
# Options that only affect speed / training on the official code: accepted, not reproduced, noted.
IGNORED = {"num_fp16_res", "fp16_channels_last", "fused_modconv_default", "channels_last", "freeze_layers"}


def plain(obj):
    """EasyDicts, numpy scalars and tuples -> JSON-friendly Python data."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, torch.Tensor):
        return obj.tolist() if obj.numel() <= 16 else f"<tensor {list(obj.shape)}>"
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return repr(obj)


def flatten_record(record: PersistentRecord, source, prefix: str = "", out=None, classes=None):
    """Official state dict (name -> tensor) of a persistent module record, and the class names seen."""
    out = {} if out is None else out
    classes = set() if classes is None else classes
    classes.add(record.class_name)
    state = record.state
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for kind in ("_parameters", "_buffers"):
        for key, value in (state.get(kind) or {}).items():
            if value is None or (kind == "_buffers" and key in skip):
                continue
            if not isinstance(value, torch.Tensor):
                raise CheckpointError(source, f"{prefix}{key} is a {type(value).__name__}, not a tensor")
            out[prefix + key] = value
    for key, sub in (state.get("_modules") or {}).items():
        if sub is None:
            continue
        if not isinstance(sub, PersistentRecord):
            raise CheckpointError(source, f"submodule {prefix}{key} is a {type(sub).__name__}, not a network module")
        flatten_record(sub, source, f"{prefix}{key}.", out, classes)
    return out, classes


class _Kwargs:
    """Reads an official kwargs dict, remembering which keys were consumed."""

    def __init__(self, kwargs, where: str, source):
        self.kw, self.where, self.source = dict(kwargs or {}), where, source
        self.used = set()

    def get(self, key, default=None):
        self.used.add(key)
        value = self.kw.get(key, default)
        return plain(value) if not isinstance(value, dict) else value

    def require(self, key, allowed, default):
        value = self.get(key, default)
        if value not in allowed:
            raise CheckpointError(self.source, f"{self.where}: {key}={value!r} is not supported (only {allowed[0]!r})",
                                  "only StyleGAN2 networks with the official defaults for this option convert")
        return value

    def leftovers(self, notes: list):
        for key in sorted(set(self.kw) - self.used):
            if key in IGNORED:
                notes.append(f"{self.where}: ignored {key}={plain(self.kw[key])!r} (official speed/training option; "
                             "stylealign runs fp32, or bf16 autocast when asked)")
            else:
                raise CheckpointError(self.source, f"{self.where}: unknown option {key}={plain(self.kw[key])!r}",
                                      "this importer reads StyleGAN2 networks of stylegan2-ada-pytorch/stylegan3 only")


_LRELU, _FILTER = ("lrelu",), ([1, 3, 3, 1],)


def generator_config(init_kwargs: dict, source, notes: list, name: str = "G") -> dict:
    top = _Kwargs(init_kwargs, name, source)
    mapping = _Kwargs(top.get("mapping_kwargs", {}), f"{name}.mapping_kwargs", source)
    # stylegan2-ada passes synthesis options in synthesis_kwargs; stylegan3 passes them at top level.
    synth_kw = dict(top.get("synthesis_kwargs", {}))
    for key in set(init_kwargs) - {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs",
                                   "synthesis_kwargs"}:
        synth_kw.setdefault(key, init_kwargs[key])
        top.used.add(key)
    synth = _Kwargs(synth_kw, f"{name}.synthesis_kwargs", source)
    w_dim = top.get("w_dim")
    c_dim = top.get("c_dim", 0)
    config = dict(z_dim=top.get("z_dim"), w_dim=w_dim, img_resolution=top.get("img_resolution"),
                  img_channels=top.get("img_channels"), c_dim=c_dim,
                  mapping_layers=mapping.get("num_layers", 8),
                  channel_base=synth.get("channel_base", 32768), channel_max=synth.get("channel_max", 512),
                  conv_clamp=synth.get("conv_clamp"), mapping_lr_multiplier=mapping.get("lr_multiplier", 0.01),
                  w_avg_beta=mapping.get("w_avg_beta", 0.995), layer_features=mapping.get("layer_features"),
                  use_noise=bool(synth.get("use_noise", True)))
    if None in (config["z_dim"], w_dim, config["img_resolution"], config["img_channels"]):
        raise CheckpointError(source, "G init kwargs lack z_dim/w_dim/img_resolution/img_channels")
    if config["w_avg_beta"] is None:
        raise CheckpointError(source, "G has no w_avg (mapping w_avg_beta=None); truncation needs it")
    embed = mapping.get("embed_features")
    if c_dim and embed not in (None, w_dim):
        raise CheckpointError(source, f"G.mapping_kwargs: embed_features={embed} != w_dim is not supported")
    synth.require("architecture", ("skip",), "skip")
    synth.require("activation", _LRELU, "lrelu")
    synth.require("resample_filter", _FILTER, [1, 3, 3, 1])
    synth.require("kernel_size", (3,), 3)
    mapping.require("activation", _LRELU, "lrelu")
    for kw in (top, mapping, synth):
        kw.leftovers(notes)
    return config


def discriminator_config(init_kwargs: dict, source, notes: list, name: str = "D") -> dict:
    top = _Kwargs(init_kwargs, name, source)
    block = _Kwargs(top.get("block_kwargs", {}), f"{name}.block_kwargs", source)
    mapping = _Kwargs(top.get("mapping_kwargs", {}), f"{name}.mapping_kwargs", source)
    epilogue = _Kwargs(top.get("epilogue_kwargs", {}), f"{name}.epilogue_kwargs", source)
    c_dim = top.get("c_dim", 0)
    config = dict(img_resolution=top.get("img_resolution"), img_channels=top.get("img_channels"), c_dim=c_dim,
                  channel_base=top.get("channel_base", 32768), channel_max=top.get("channel_max", 512),
                  conv_clamp=top.get("conv_clamp"), cmap_dim=top.get("cmap_dim"),
                  mbstd_group_size=epilogue.get("mbstd_group_size", 4),
                  mbstd_num_channels=epilogue.get("mbstd_num_channels", 1),
                  mapping_layers=mapping.get("num_layers", 8))
    if None in (config["img_resolution"], config["img_channels"]):
        raise CheckpointError(source, "D init kwargs lack img_resolution/img_channels")
    top.require("architecture", ("resnet",), "resnet")
    for kw in (block, mapping, epilogue):
        kw.require("activation", _LRELU, "lrelu")
    block.require("resample_filter", _FILTER, [1, 3, 3, 1])
    if c_dim:  # our D mapping uses the official defaults; other values would change its outputs
        mapping.require("lr_multiplier", (0.01,), 0.01)
        for key in ("embed_features", "layer_features"):
            mapping.require(key, (None,), None)
    for kw in (top, block, mapping, epilogue):
        kw.leftovers(notes)
    return config


def _network_spec(name: str, record: PersistentRecord, source, notes: list) -> NetworkSpec:
    expected = "Discriminator" if name == "D" else "Generator"
    if record.class_name != expected:
        raise CheckpointError(source, f"entry {name!r} is a {record.class_name}, expected a {expected}")
    state, classes = flatten_record(record, source)
    allowed = D_CLASSES if expected == "Discriminator" else G_CLASSES
    foreign = classes - allowed
    if foreign:
        sg3 = "SynthesisInput" in foreign or any(k.startswith("synthesis.L") for k in state)
        problem = ("is a StyleGAN3 (alias-free) generator" if sg3 else
                   f"contains modules this importer does not know: {sorted(foreign)}")
        raise CheckpointError(source, f"{name} {problem}; only StyleGAN2 networks convert",
                              "use a stylegan2-ada-pytorch pickle or stylegan3's --cfg=stylegan2 networks")
    init_kwargs = record.state.get("_init_kwargs")
    if not isinstance(init_kwargs, dict):
        raise CheckpointError(source, f"{name} has no _init_kwargs (not a persistent_class network)")
    if record.state.get("_init_args"):
        raise CheckpointError(source, f"{name} was built with positional args {plain(record.state['_init_args'])}; "
                              "cannot map them to options")
    own_notes: list[str] = []
    if expected == "Generator":
        config = generator_config(init_kwargs, source, own_notes, name)
    else:
        config = discriminator_config(init_kwargs, source, own_notes, name)
    notes.extend(own_notes)
    return NetworkSpec(expected, config, state, notes=own_notes)


def read_official(path: str | Path, sha256: str) -> RawCheckpoint:
    """Read a stylegan2-ada-pytorch / stylegan3 StyleGAN2 network pickle without executing it."""
    source = Path(path)
    obj = load_restricted(source)
    if isinstance(obj, PersistentRecord):  # a bare pickled network
        obj = {"G_ema" if obj.class_name == "Generator" else "D": obj}
    if not isinstance(obj, dict) or not any(isinstance(obj.get(k), PersistentRecord) for k in NETWORK_ENTRIES):
        keys = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(source, f"no G, D or G_ema network in this pickle (found {keys})",
                              "expected a stylegan2-ada-pytorch snapshot: dict(G, D, G_ema, augment_pipe, ...)")
    notes: list[str] = []
    networks = {name: _network_spec(name, obj[name], source, notes)
                for name in NETWORK_ENTRIES if isinstance(obj.get(name), PersistentRecord)}
    extra, metadata = {}, {}
    pipe = obj.get("augment_pipe")
    if isinstance(pipe, PersistentRecord):
        p = (pipe.state.get("_buffers") or {}).get("p")
        if isinstance(p, torch.Tensor) and p.is_floating_point():
            extra["augment_pipe.p"] = p.detach().float().reshape([])
        metadata["augment_kwargs"] = plain(pipe.state.get("_init_kwargs") or {})
    fp16 = {}
    for name, record in ((n, obj[n]) for n in networks):
        kw = record.state["_init_kwargs"]
        n = kw.get("num_fp16_res", (kw.get("synthesis_kwargs") or {}).get("num_fp16_res", 0))
        fp16[name] = plain(n)
    metadata.update({
        "imported_from": {"format": FORMAT, "file": source.name, "sha256": sha256},
        "official_init_kwargs": {name: plain(obj[name].state["_init_kwargs"]) for name in networks},
        "num_fp16_res": fp16,
        "import_notes": notes,
    })
    if "training_set_kwargs" in obj:
        metadata["training_set_kwargs"] = plain(obj["training_set_kwargs"])
    other = sorted(str(k) for k in obj if k not in (*NETWORK_ENTRIES, "augment_pipe", "training_set_kwargs"))
    if other:
        metadata["ignored_entries"] = other
    return RawCheckpoint(format=FORMAT, source=source, sha256=sha256, networks=networks, extra=extra,
                         metadata=metadata)
