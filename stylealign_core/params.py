"""``params.yaml``: the one source of configuration of the pipeline, loaded and validated here.

Pure Python (no Prefect, no DVC): the flows, the CLI and the tests all call :func:`load_params`.
Every section is a typed dataclass; a value of the wrong type, out of range, or a key the schema
does not know fails with a :class:`ParamsError` whose message names the file and the dotted key::

    params.yaml: finetune.train.batch: expected int, got 'abc'

Sections, one per pipeline stage (same names in ``dvc.yaml``, ``flows/pipeline.py`` and ``tasks/``):

* ``data``     -> :class:`DataParams`      the parent-domain and child-domain image data sets
* ``parent``   -> :class:`ParentParams`    where the parent checkpoint comes from
* ``finetune`` -> :class:`FinetuneParams`  child fine-tuning; ``train:`` is a
  :class:`stylealign_core.training.config.TrainConfig` (validated by ``TrainConfig.from_dict``)

Adding a stage: write its section dataclass, add it to :class:`Params` and to ``SECTIONS``.

Relative paths in the file are relative to the directory holding it (for DVC, the stage's
``wdir``): :meth:`Params.resolve` turns them into absolute paths.
"""
from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

INIT_URI = "init"
_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")


class ParamsError(ValueError):
    """params.yaml is unreadable or a value in it is invalid. ``str(err)`` is one line:
    ``<file>: <dotted key>: <problem>``; ``key`` and ``problem`` are also attributes."""

    def __init__(self, source: str | Path | None, key: str | None, problem: str):
        self.source = None if source is None else str(source)
        self.key = key
        self.problem = problem
        parts = [p for p in (self.source, key) if p]
        super().__init__(": ".join(parts + [problem]))


# ---- section schemas -------------------------------------------------------------------------
# ``field(metadata={"check": fn})``: fn(value) -> problem text or None, run after type checks.

def _positive(v):
    return None if v is None or v > 0 else f"must be > 0, got {v!r}"


def _nonneg(v):
    return None if v >= 0 else f"must be >= 0, got {v!r}"


def _fraction(v):
    return None if 0.0 <= v < 1.0 else f"must be in [0, 1), got {v!r}"


def _power_of_two(v):
    return None if v is None or (v >= 8 and v & (v - 1) == 0) else f"must be a power of two >= 8, got {v!r}"


def _relpath(v):
    if v is None:
        return None
    if not v.strip():
        return "must be a non-empty path"
    return None


def _check(fn):
    return {"check": fn}


@dataclass(frozen=True)
class DatasetParams:
    """One image data set: an emoji style fetched from npm, or the user's own images."""
    out: str = field(metadata=_check(_relpath))         # output directory (a DVC out)
    source: Literal["emoji", "folder"] = "emoji"
    style: str | None = None                             # emoji style key (source: emoji)
    path: str | None = field(default=None, metadata=_check(_relpath))  # folder/.zip/.tgz (source: folder)


@dataclass(frozen=True)
class DataParams:
    parent: DatasetParams = field(default_factory=lambda: DatasetParams("data/emoji-google-64", style="google"))
    child: DatasetParams = field(default_factory=lambda: DatasetParams("data/emoji-twitter-64", style="twitter"))
    resolution: int = field(default=64, metadata=_check(_power_of_two))
    seed: int = 0                                        # seed of the hash train/test split
    test_fraction: float = field(default=0.1, metadata=_check(_fraction))
    limit: int | None = field(default=None, metadata=_check(_positive))  # keep the first N images


@dataclass(frozen=True)
class NetworkParams:
    """Architecture of a freshly initialised parent (same keys as ``finetune.train.network``)."""
    z_dim: int = field(default=512, metadata=_check(_positive))
    w_dim: int = field(default=512, metadata=_check(_positive))
    mapping_layers: int = field(default=8, metadata=_check(_positive))
    channel_base: int = field(default=16384, metadata=_check(_positive))
    channel_max: int = field(default=512, metadata=_check(_positive))
    conv_clamp: float | None = field(default=None, metadata=_check(_positive))
    mbstd_group_size: int = field(default=4, metadata=_check(_positive))


@dataclass(frozen=True)
class ParentInitParams:
    """Used when ``parent.uri`` is ``init``: a freshly initialised (untrained) parent."""
    seed: int = 0
    resolution: int | None = field(default=None, metadata=_check(_power_of_two))  # None: data.resolution
    network: NetworkParams = field(default_factory=NetworkParams)


def _check_uri(v: str):
    if not v.strip():
        return "must not be empty (use 'init', a path or an https:// URL)"
    if "://" in v and not v.startswith("https://"):
        return f"unsupported URL scheme in {v!r}: use an https:// URL, a local path or 'init'"
    return None


def _check_sha256(v):
    return None if v is None or _SHA256_RE.match(v) else f"expected 64 hex digits, got {v!r}"


@dataclass(frozen=True)
class ParentParams:
    uri: str = field(default="models/parent/emoji-noto-64", metadata=_check(_check_uri))
    sha256: str | None = field(default=None, metadata=_check(_check_sha256))
    out: str = field(default="models/parent-resolved", metadata=_check(_relpath))
    init: ParentInitParams = field(default_factory=ParentInitParams)

    @property
    def is_init(self) -> bool:
        return self.uri == INIT_URI

    @property
    def is_url(self) -> bool:
        return self.uri.startswith("https://")


@dataclass(frozen=True)
class GridParams:
    """The parent-vs-child comparison grid: ``columns`` samples, same z, parent row then child row."""
    columns: int = field(default=8, metadata=_check(_positive))
    seed: int = 0
    truncation_psi: float = 1.0


class _TrainConfigType:
    """Marker: the ``train`` value is handed to ``TrainConfig.from_dict`` (its own validation)."""


@dataclass(frozen=True)
class FinetuneParams:
    out: str = field(default="runs/child", metadata=_check(_relpath))
    metrics: str = field(default="metrics/finetune.json", metadata=_check(_relpath))
    resume: Literal["latest"] | None = "latest"          # None: start fresh (clears ``out``)
    threads: int | None = field(default=None, metadata=_check(_positive))  # torch CPU threads
    grid: GridParams = field(default_factory=GridParams)
    train: Any = field(default=None, metadata={"type": _TrainConfigType})  # a TrainConfig


@dataclass(frozen=True)
class Params:
    """The whole params.yaml. ``source`` is the file; ``root`` its directory (paths resolve there)."""
    source: Path = field(metadata={"internal": True})
    data: DataParams
    parent: ParentParams
    finetune: FinetuneParams
    raw: dict = field(repr=False, compare=False, metadata={"internal": True})

    @property
    def root(self) -> Path:
        return self.source.parent

    def resolve(self, path: str | Path) -> Path:
        """``path`` relative to the params file's directory (absolute paths are kept)."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.root / p).resolve()

    def section(self, name: str) -> dict:
        """The validated section ``name`` as plain JSON-able data (for logs and cache keys)."""
        return _plain(getattr(self, name))


SECTIONS: dict[str, type] = {"data": DataParams, "parent": ParentParams, "finetune": FinetuneParams}


# ---- loading -------------------------------------------------------------------------------------

def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate ``path``; raises :class:`ParamsError` naming the key at fault."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(path, None, "file not found (pass --params FILE)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsError(path, None, f"cannot read the file ({exc})") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ParamsError(path, None, f"not valid YAML ({where}{problem})") from None
    return validate_params(doc, source=path)


def validate_params(doc: Any, source: str | Path = "params.yaml") -> Params:
    """Validate an already parsed params document (a mapping of section name -> mapping)."""
    source = Path(source)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ParamsError(source, None, f"expected a mapping of sections ({', '.join(SECTIONS)}), "
                                        f"got {type(doc).__name__}")
    unknown = [k for k in doc if k not in SECTIONS]
    if unknown:
        raise ParamsError(source, str(unknown[0]), f"unknown section (known: {', '.join(SECTIONS)})")
    sections = {name: _build(cls, doc.get(name), name, source) for name, cls in SECTIONS.items()}
    params = Params(source=source.absolute(), raw=doc, **sections)
    _cross_checks(params, source)
    return params


def _cross_checks(params: Params, source: Path) -> None:
    """Rules that involve more than one value."""
    from .data.styles import STYLES

    for which in ("parent", "child"):
        ds: DatasetParams = getattr(params.data, which)
        key = f"data.{which}"
        if ds.source == "emoji":
            if not ds.style:
                raise ParamsError(source, f"{key}.style", "required when source is 'emoji' "
                                  f"(one of: {', '.join(sorted(STYLES))})")
            if ds.style not in STYLES:
                raise ParamsError(source, f"{key}.style", f"unknown emoji style {ds.style!r} "
                                  f"(known: {', '.join(sorted(STYLES))})")
            if ds.path is not None:
                raise ParamsError(source, f"{key}.path", "only used when source is 'folder'; remove it")
        else:
            if not ds.path:
                raise ParamsError(source, f"{key}.path", "required when source is 'folder' "
                                  "(a folder, .zip or .tgz of images)")
            if ds.style is not None:
                raise ParamsError(source, f"{key}.style", "only used when source is 'emoji'; remove it")
    outs = {"data.parent.out": params.data.parent.out, "data.child.out": params.data.child.out,
            "parent.out": params.parent.out, "finetune.out": params.finetune.out,
            "finetune.metrics": params.finetune.metrics}
    resolved = {k: params.resolve(v) for k, v in outs.items()}
    keys = list(resolved)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            pa, pb = resolved[a], resolved[b]
            if pa == pb or pa.is_relative_to(pb) or pb.is_relative_to(pa):
                raise ParamsError(source, b, f"output path {outs[b]!r} overlaps {a} ({outs[a]!r}); "
                                  "every stage output needs its own path")


# ---- the generic dataclass validator --------------------------------------------------------------

def _fail(source, key, problem):
    raise ParamsError(source, key, problem)


def _build(cls, value, key: str, source: Path):
    if value is None:
        value = {}
    if not isinstance(value, dict):
        _fail(source, key, f"expected a mapping, got {_show(value)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = [k for k in value if k not in fields]
    if unknown:
        _fail(source, f"{key}.{unknown[0]}", f"unknown key (known: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, f in fields.items():
        sub = f"{key}.{name}"
        if f.metadata.get("type") is _TrainConfigType:
            kwargs[name] = _train_config(value.get(name), sub, source)
            continue
        if name not in value:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                _fail(source, sub, "missing (required)")
            continue
        v = _coerce(value[name], hints[name], sub, source)
        check = f.metadata.get("check")
        problem = check(v) if check else None
        if problem:
            _fail(source, sub, problem)
        kwargs[name] = v
    return cls(**kwargs)


def _train_config(value, key: str, source: Path):
    from .training.config import ConfigError, TrainConfig

    if value is not None and not isinstance(value, dict):
        _fail(source, key, f"expected a mapping, got {_show(value)}")
    try:
        return TrainConfig.from_dict(value or {})
    except ConfigError as exc:
        msg = str(exc)
        # TrainConfig names keys "train.<key>: problem"; re-anchor them at this section's key.
        if msg.startswith("train."):
            sub, _, problem = msg.partition(": ")
            raise ParamsError(source, key + sub[len("train"):], problem) from None
        raise ParamsError(source, key, msg) from None


def _show(v) -> str:
    if isinstance(v, (dict, list)):
        return f"a {'mapping' if isinstance(v, dict) else 'list'}"
    return repr(v)


def _coerce(v, hint, key: str, source: Path):
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if v is None and type(None) in options:
            return None
        rest = [o for o in options if o is not type(None)]
        if len(rest) == 1:
            return _coerce(v, rest[0], key, source)
        for o in rest:
            try:
                return _coerce(v, o, key, source)
            except ParamsError:
                pass
        _fail(source, key, f"expected {' or '.join(_name(o) for o in options)}, got {_show(v)}")
    if origin is Literal:
        choices = typing.get_args(hint)
        if v not in choices:
            _fail(source, key, f"expected one of {', '.join(repr(c) for c in choices)}, got {_show(v)}")
        return v
    if dataclasses.is_dataclass(hint):
        return _build(hint, v, key, source)
    if hint is bool:
        if not isinstance(v, bool):
            _fail(source, key, f"expected bool (true/false), got {_show(v)}")
        return v
    if hint is int:
        if isinstance(v, bool) or not isinstance(v, int):
            _fail(source, key, f"expected int, got {_show(v)}")
        return v
    if hint is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            _fail(source, key, f"expected float, got {_show(v)}")
        return float(v)
    if hint is str:
        if not isinstance(v, str):
            _fail(source, key, f"expected str, got {_show(v)}")
        return v
    if v is None:
        _fail(source, key, f"expected {_name(hint)}, got null")
    return v


def _name(hint) -> str:
    if hint is type(None):
        return "null"
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(repr(c) for c in typing.get_args(hint))
    return getattr(hint, "__name__", str(hint))


def _plain(obj):
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not f.metadata.get("internal")}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj
