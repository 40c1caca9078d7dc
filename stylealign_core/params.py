"""``params.yaml``: the one source of configuration of the pipeline, loaded and validated here.

Pure Python (no Prefect, no DVC): the flows, the CLI and the tests all call :func:`load_params`.
Every section is a pydantic model (:class:`stylealign_core.schema.Schema`: strict types, no unknown
keys); a value of the wrong type, out of range, or a key the schema does not know fails with a
:class:`ParamsError` whose message names the file and the dotted key::

    params.yaml: finetune.train.batch: expected int, got 'abc'

Sections, one per pipeline stage (same names in ``dvc.yaml``, ``flows/pipeline.py`` and ``tasks/``):

* ``data``     -> :class:`DataParams`      the parent-domain and child-domain image data sets
* ``parent``   -> :class:`ParentParams`    where the parent checkpoint comes from
* ``finetune`` -> :class:`FinetuneParams`  child fine-tuning; ``train:`` is a
  :class:`stylealign_core.training.config.TrainConfig` (the same schema as ``stylealign finetune``)
* ``invert``, ``translate``, ``morph``: the editing stages, in :mod:`stylealign_core.params_edit`
* ``analyze``  -> :class:`~stylealign_core.params_analysis.AnalyzeParams`  FID/KID and alignment analysis
* ``report``   -> :class:`~stylealign_core.params_analysis.ReportParams`   metrics.json and the HTML report

Adding a stage: write its section model and add it to :class:`Params` (``SECTIONS`` follows).

Relative paths in the file are relative to the directory holding it (for DVC, the stage's
``wdir``): :meth:`Params.resolve` turns them into absolute paths.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from .data.styles import EMOJI_RESOLUTIONS, STYLES
from .params_edit import InvertParams, MorphParams, TranslateParams, edit_outputs
from .params_analysis import AnalyzeParams, ReportParams
from .schema import KeyedProblem, Schema, first_problem
from .training.config import ConfigError, NetworkConfig, TrainConfig

INIT_URI = "init"
_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")


class ParamsError(ConfigError):
    """params.yaml is unreadable or a value in it is invalid. ``str(err)`` is one line:
    ``<file>: <dotted key>: <problem>``; ``key`` and ``problem`` are also attributes."""

    def __init__(self, source: str | Path | None, key: str | None, problem: str):
        self.source = None if source is None else str(source)
        self.key = key
        self.problem = problem
        parts = [p for p in (self.source, key) if p]
        super().__init__(": ".join(parts + [problem]))


# ---- value rules --------------------------------------------------------------------------------

def _non_empty_path(v: str) -> str:
    if not v.strip():
        raise ValueError("must be a non-empty path")
    return v


def _power_of_two(v: int | None) -> int | None:
    if v is not None and (v < 8 or v & (v - 1)):
        raise ValueError(f"must be a power of two >= 8, got {v!r}")
    return v


def _uri(v: str) -> str:
    if not v.strip():
        raise ValueError("must not be empty (use 'init', a path, an https:// or an s3:// URL)")
    if "://" in v and not v.startswith(("https://", "s3://")):
        raise ValueError(f"unsupported URL scheme in {v!r}: use an https:// or s3:// URL, a local path or 'init'")
    return v


def _sha256(v: str | None) -> str | None:
    if v is not None and not _SHA256_RE.match(v):
        raise ValueError(f"expected 64 hex digits, got {v!r}")
    return v


PathStr = Annotated[str, AfterValidator(_non_empty_path)]
Resolution = Annotated[int, AfterValidator(_power_of_two)]


class Section(Schema):
    """A params.yaml section: read-only once validated."""
    model_config = ConfigDict(frozen=True)


# ---- section schemas -------------------------------------------------------------------------------

class DatasetParams(Section):
    """One image data set: an emoji style fetched from npm, or the user's own images."""
    out: PathStr                                        # output directory (a DVC out)
    source: Literal["emoji", "folder"] = "emoji"
    style: str | None = None                             # emoji style key (source: emoji)
    path: PathStr | None = None                          # folder/.zip/.tgz (source: folder)

    @model_validator(mode="after")
    def _source_fields(self) -> "DatasetParams":
        known = ", ".join(sorted(STYLES))
        if self.source == "emoji":
            if not self.style:
                raise KeyedProblem("style", f"required when source is 'emoji' (one of: {known})")
            if self.style not in STYLES:
                raise KeyedProblem("style", f"unknown emoji style {self.style!r} (known: {known})")
            if self.path is not None:
                raise KeyedProblem("path", "only used when source is 'folder'; remove it")
        else:
            if not self.path:
                raise KeyedProblem("path", "required when source is 'folder' (a folder, .zip or .tgz of images)")
            if self.style is not None:
                raise KeyedProblem("style", "only used when source is 'emoji'; remove it")
        return self


class DataParams(Section):
    parent: DatasetParams = Field(default_factory=lambda: DatasetParams(out="data/emoji-google-64", style="google"))
    child: DatasetParams = Field(default_factory=lambda: DatasetParams(out="data/emoji-twitter-64", style="twitter"))
    resolution: Resolution = 64
    seed: int = 0                                        # seed of the hash train/test split
    test_fraction: float = Field(0.1, ge=0, lt=1)
    limit: int | None = Field(None, gt=0)                # keep the first N images

    @model_validator(mode="after")
    def _emoji_resolution(self) -> "DataParams":
        emoji = [w for w in ("parent", "child") if getattr(self, w).source == "emoji"]
        if emoji and self.resolution not in EMOJI_RESOLUTIONS:
            sizes = ", ".join(map(str, EMOJI_RESOLUTIONS))
            raise KeyedProblem("resolution", f"data.{emoji[0]} is an emoji set; emoji images are {max(EMOJI_RESOLUTIONS)} px and "
                               f"never upsampled: use one of {sizes} (or source: folder with larger images), "
                               f"got {self.resolution}")
        return self


class ParentInitParams(Section):
    """Used when ``parent.uri`` is ``init``: a freshly initialised (untrained) parent."""
    seed: int = 0
    resolution: Resolution | None = None                 # None: data.resolution
    network: NetworkConfig = Field(default_factory=NetworkConfig)


class ParentParams(Section):
    uri: Annotated[str, AfterValidator(_uri)] = "models/parent/emoji-noto-64"
    sha256: Annotated[str | None, AfterValidator(_sha256)] = None
    out: PathStr = "models/parent-resolved"
    init: ParentInitParams = Field(default_factory=ParentInitParams)

    @property
    def is_init(self) -> bool:
        return self.uri == INIT_URI

    @property
    def is_url(self) -> bool:
        return self.uri.startswith(("https://", "s3://"))


class GridParams(Section):
    """The parent-vs-child comparison grid: ``columns`` samples, same z, parent row then child row."""
    columns: int = Field(8, gt=0)
    seed: int = 0
    truncation_psi: float = 1.0


class FinetuneParams(Section):
    out: PathStr = "runs/child"
    metrics: PathStr = "metrics/finetune.json"
    resume: Literal["latest"] | None = "latest"          # None: start fresh (clears ``out``)
    threads: int | None = Field(None, gt=0)              # torch CPU threads
    grid: GridParams = Field(default_factory=GridParams)
    train: TrainConfig = Field(default_factory=TrainConfig)


class Params(Section):
    """The whole params.yaml. ``source`` is the file; ``root`` its directory (paths resolve there)."""
    data: DataParams = Field(default_factory=DataParams)
    parent: ParentParams = Field(default_factory=ParentParams)
    finetune: FinetuneParams = Field(default_factory=FinetuneParams)
    invert: InvertParams = Field(default_factory=InvertParams)
    translate: TranslateParams = Field(default_factory=TranslateParams)
    morph: MorphParams = Field(default_factory=MorphParams)
    analyze: AnalyzeParams = Field(default_factory=AnalyzeParams)
    report: ReportParams = Field(default_factory=ReportParams)
    _source: Path = PrivateAttr()
    _raw: dict = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> Path:
        return self._source

    @property
    def raw(self) -> dict:
        """The document as read (before defaults were filled in)."""
        return self._raw

    @property
    def root(self) -> Path:
        return self.source.parent

    def resolve(self, path: str | Path) -> Path:
        """``path`` relative to the params file's directory (absolute paths are kept)."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.root / p).resolve()

    def section(self, name: str) -> dict:
        """The validated section ``name`` as plain JSON-able data (for logs and cache keys)."""
        return getattr(self, name).model_dump(mode="json")


SECTIONS: dict[str, type[Section]] = {name: f.annotation for name, f in Params.model_fields.items()}


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
    try:
        params = Params.model_validate(doc)
    except ValidationError as exc:
        key, problem = first_problem(exc, Params, section_word="section")
        raise ParamsError(source, key or None, problem) from None
    params._source = source.absolute()
    params._raw = doc
    _check_outputs(params, source)
    return params


def _check_outputs(params: Params, source: Path) -> None:
    """Every stage output needs its own path (none inside another)."""
    outs = {"data.parent.out": params.data.parent.out, "data.child.out": params.data.child.out,
            "parent.out": params.parent.out, "finetune.out": params.finetune.out,
            "finetune.metrics": params.finetune.metrics, "analyze.out": params.analyze.out,
            "report.out": params.report.out, **edit_outputs(params)}
    resolved = {k: params.resolve(v) for k, v in outs.items()}
    keys = list(resolved)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            pa, pb = resolved[a], resolved[b]
            if pa == pb or pa.is_relative_to(pb) or pb.is_relative_to(pa):
                raise ParamsError(source, b, f"output path {outs[b]!r} overlaps {a} ({outs[a]!r}); "
                                  "every stage output needs its own path")
