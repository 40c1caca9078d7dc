"""A pickle reader for stylegan2-ada-pytorch / stylegan3 network pickles that runs no foreign code.

The official loader executes ``module_src`` (the Python source stored in the pickle) to recreate the
network classes. This reader never does: ``find_class`` resolves only an explicit allowlist of
globals, and ``torch_utils.persistence._reconstruct_persistent_obj`` is mapped to a function that
returns a :class:`PersistentRecord` (class name + state dict of plain data and tensors). Every other
global (``os.system``, ``builtins.eval``, ``subprocess.Popen``, any class...) raises CheckpointError
before it can be called. Tensor storages are decoded with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import _compat_pickle
import codecs
import collections
import hashlib
import io
import pickle
from dataclasses import dataclass, field

import numpy as np
import torch
import torch._utils

from .errors import CheckpointError

try:  # numpy >= 2 writes numpy._core.*, numpy 1.x wrote numpy.core.*
    from numpy._core import multiarray as _np_multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _np_multiarray


@dataclass
class PersistentRecord:
    """What a persistent object (a network module) holds, read as data: its code is never run."""
    class_name: str
    state: dict
    version: int | None = None
    module_src_sha256: str | None = None
    module_src_lines: int = field(default=0, repr=False)


def _reconstruct_persistent_obj(meta):
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("class_name"), str):
        raise _Refused("a persistent object whose meta is not {type: 'class', class_name, state}")
    state = meta.get("state")
    if not isinstance(state, dict):
        raise _Refused(f"persistent object {meta['class_name']!r} whose state is a {type(state).__name__}")
    src = meta.get("module_src")
    src = src if isinstance(src, str) else ""
    return PersistentRecord(meta["class_name"], state, meta.get("version"),
                            hashlib.sha256(src.encode("utf-8", "replace")).hexdigest() if src else None,
                            src.count("\n"))


class _Refused(Exception):
    """Raised inside the unpickler; turned into CheckpointError with the file name."""


def _plain_hooks(hooks) -> None:
    if hooks:  # backward hooks are functions: a real snapshot never has any
        raise _Refused("a tensor carrying backward hooks")


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise _Refused(f"a tensor built from a {type(storage).__name__} instead of a storage")
    _plain_hooks(backward_hooks)
    if metadata is not None and not isinstance(metadata, dict):
        raise _Refused("tensor metadata that is not a dict")
    return torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, False,
                                           collections.OrderedDict(), metadata)


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    if not isinstance(data, torch.Tensor):
        raise _Refused(f"a parameter built from a {type(data).__name__}")
    _plain_hooks(backward_hooks)
    return data.detach()  # a plain tensor: parameters are re-created by our own modules


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in (_rebuild_tensor_v2, _rebuild_parameter) or new_type not in (torch.Tensor, torch.nn.Parameter):
        raise _Refused(f"tensor subclass reconstruction ({getattr(new_type, '__name__', new_type)})")
    return func(*args)


def _load_from_bytes(b):
    if not isinstance(b, (bytes, bytearray)):
        raise _Refused("storage bytes that are not bytes")
    return torch.load(io.BytesIO(b), map_location="cpu", weights_only=True)


def _np_scalar(dtype, *args):
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise _Refused(f"a numpy scalar of dtype {dtype!r}")
    return _np_multiarray.scalar(dtype, *args)


def _np_reconstruct(subtype, shape, dtype):
    if subtype is not np.ndarray or not isinstance(dtype, (bytes, str, np.dtype)):
        raise _Refused("a numpy array of a foreign subtype")
    return _np_multiarray._reconstruct(subtype, shape, dtype)


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused("_codecs.encode used for anything but protocol-2 bytes")
    return codecs.encode(obj, encoding, errors)


class EasyDictData(dict):
    """Stands in for ``dnnlib.EasyDict`` (a dict subclass rebuilt via NEWOBJ): plain dict behaviour."""

    def __setstate__(self, state):  # EasyDict never has instance attributes worth keeping
        pass


_ALLOWED = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDictData,
    ("dnnlib", "EasyDict"): EasyDictData,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("_codecs", "encode"): _codecs_encode,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch._tensor", "Tensor"): torch.Tensor,
    ("torch", "Tensor"): torch.Tensor,
    ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("torch", "Size"): torch.Size,
    ("numpy", "dtype"): np.dtype,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy.core.multiarray", "scalar"): _np_scalar,
    ("numpy._core.multiarray", "scalar"): _np_scalar,
    ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct,
}
for _name in ("float32", "float16", "bfloat16", "float64", "int64", "int32", "uint8", "bool"):
    _ALLOWED[("torch", _name)] = getattr(torch, _name)
for _name in ("Float32DType", "Float64DType", "Int64DType", "Int32DType", "BoolDType", "Float16DType"):
    if hasattr(np.dtypes, _name):
        _ALLOWED[("numpy.dtypes", _name)] = getattr(np.dtypes, _name)

ALLOWED_GLOBALS = tuple(sorted(f"{m}.{n}" for m, n in _ALLOWED))


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only :data:`ALLOWED_GLOBALS` (see module docstring)."""

    def find_class(self, module, name):
        # protocol <= 2 pickles name Python 2 modules (__builtin__.set); translate as pickle itself does
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        fn = _ALLOWED.get((module, name))
        if fn is None and module.startswith("dnnlib.tflib"):
            raise _Refused(f"this is a TensorFlow StyleGAN pickle ({module}.{name}); convert it to PyTorch with "
                           "stylegan2-ada-pytorch's legacy.py first")
        if fn is None:
            raise _Refused(f"refused global {module}.{name}: not on the allowlist of a StyleGAN2 network pickle")
        return fn

    def persistent_load(self, pid):
        raise _Refused("refused persistent id (a torch.save file is not a network pickle)")


def load_restricted(path) -> object:
    """Unpickle ``path`` with :class:`RestrictedUnpickler`; any failure is a CheckpointError."""
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f).load()
    except _Refused as exc:
        raise CheckpointError(path, f"unsafe or unsupported pickle content: {exc}",
                              "only stylegan2-ada-pytorch / stylegan3 network pickles are read; nothing was executed"
                              ) from None
    except (EOFError, pickle.UnpicklingError) as exc:
        raise CheckpointError(path, f"truncated or corrupt pickle ({type(exc).__name__}: {exc})",
                              "download or copy the file again") from None
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - a malformed stream can fail anywhere in the allowed callables
        raise CheckpointError(path, f"corrupt pickle ({type(exc).__name__}: {exc})",
                              "download or copy the file again") from None
