"""The shared base of the configuration schemas (``params.yaml``, ``TrainConfig``), built on pydantic.

Every schema derives from :class:`Schema`: strict types (``"64"`` is not an int, ``2.5`` is not an
int, ``true`` is not a number; an int is accepted for a float), finite floats, and unknown keys
refused. :func:`first_problem` turns pydantic's ``ValidationError`` into one ``(dotted key,
problem)`` pair in the project's wording::

    ("finetune.train.batch", "expected int, got 'abc'")

A rule that involves several fields raises :class:`KeyedProblem` from a model validator to name the
key it is about (pydantic alone would name the enclosing section).
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

_TYPE_NAMES = {"int_type": "int", "float_type": "float", "bool_type": "bool (true/false)", "string_type": "str",
               "list_type": "a list", "tuple_type": "a list", "finite_number": "a finite number",
               "model_type": "a mapping", "dict_type": "a mapping", "model_attributes_type": "a mapping"}
_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="), "less_than": ("lt", "<"),
           "less_than_equal": ("le", "<=")}


class Schema(BaseModel):
    """Base of every configuration section: strict types, finite floats, no unknown keys. A nested
    section given as null (a YAML key whose lines are all commented out) takes its defaults."""
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _null_sections_take_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            fields = cls.model_fields
            data = {k: v for k, v in data.items()
                    if not (v is None and k in fields and _nested_model(fields[k].annotation))}
        return data


class KeyedProblem(ValueError):
    """Raised in a model validator: ``key`` (relative to the model) is at fault, ``problem`` says why."""

    def __init__(self, key: str, problem: str):
        self.key, self.problem = key, problem
        super().__init__(problem)


def show(value: Any) -> str:
    """A value as an error message quotes it: mappings and lists by kind, scalars by repr."""
    if isinstance(value, (dict, list, tuple)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return repr(value)


def first_problem(exc: ValidationError, model: type[BaseModel], section_word: str = "key") -> tuple[str, str]:
    """The first error of ``exc`` (raised validating ``model``) as (dotted key, problem).

    ``section_word`` names a top-level key in "unknown ..." messages (params.yaml: "section")."""
    errors = exc.errors()
    loc = errors[0]["loc"]
    if errors[0]["type"] == "extra_forbidden":  # the unknown key itself is no field: resolve its parent
        return _describe(errors[0], _field_path(loc[:-1], model)[0] + [loc[-1]], model, section_word)
    path, tagged = _field_path(loc, model)
    if tagged:  # a union: every alternative failed at the same key
        alternatives = [e for e in errors if _field_path(e["loc"], model)[0] == path]
        expected = " or ".join(dict.fromkeys(_expected(e) for e in alternatives))
        return _join(path), f"expected {expected}, got {show(errors[0]['input'])}"
    return _describe(errors[0], path, model, section_word)


def _describe(err: dict, path: list, model: type[BaseModel], section_word: str) -> tuple[str, str]:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "value_error" and isinstance(ctx.get("error"), KeyedProblem):
        problem = ctx["error"]
        return _join(path + problem.key.split(".")), problem.problem
    if kind == "extra_forbidden":
        known = ", ".join(_model_at(model, path[:-1]).model_fields)
        word = "section" if len(path) == 1 and section_word == "section" else "key"
        return _join(path), f"unknown {word} (known: {known})"
    if kind == "missing" and path and isinstance(path[-1], int):  # a fixed-length list (tuple) too short
        return _join(path[:-1]), f"too few values (item {path[-1]} missing)"
    if kind == "missing":
        return _join(path), "missing (required)"
    if kind == "value_error":
        return _join(path), str(ctx.get("error", err["msg"]))
    if kind in _BOUNDS:
        return _join(path), f"must be {_range(model, path, kind, ctx)}, got {show(value)}"
    if kind in ("too_short", "too_long"):
        return _join(path), f"expected {ctx.get('min_length', ctx.get('max_length'))} values, got {show(value)}"
    return _join(path), f"expected {_expected(err)}, got {show(value)}"


def _range(model: type[BaseModel], path: list, kind: str, ctx: dict) -> str:
    """"> 0", or "in [0, 1)" when the field has a lower and an upper bound."""
    bounds = {}
    if all(isinstance(p, str) for p in path):
        info = _model_at(model, path[:-1]).model_fields[path[-1]]
        for meta in info.metadata:
            bounds.update({k: getattr(meta, k) for k in ("gt", "ge", "lt", "le") if getattr(meta, k, None) is not None})
    lower = [k for k in ("gt", "ge") if k in bounds]
    upper = [k for k in ("lt", "le") if k in bounds]
    if lower and upper:
        lo, hi = lower[0], upper[0]
        return (f"in {'(' if lo == 'gt' else '['}{_num(bounds[lo])}, {_num(bounds[hi])}"
                f"{')' if hi == 'lt' else ']'}")
    name, sign = _BOUNDS[kind]
    return f"{sign} {_num(ctx[name])}"


def _num(x: Any) -> Any:
    return int(x) if isinstance(x, float) and x.is_integer() else x


def _expected(err: dict) -> str:
    if err["type"] == "literal_error":
        choices = err["ctx"]["expected"]
        return "one of " + choices.replace(" or ", ", ") if " or " in choices else choices
    if err["type"] == "none_required":
        return "null"
    return _TYPE_NAMES.get(err["type"], err["msg"])


def _field_path(loc: tuple, model: type[BaseModel]) -> tuple[list, bool]:
    """``loc`` cut to the real keys and list indices; True when a union member tag was cut off."""
    path: list = []
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            path.append(part)
            current = None
        elif isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            path.append(part)
            current = _nested_model(current.model_fields[part].annotation)
        else:
            return path, True
    return path, False


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _model_at(model: type[BaseModel], path: list) -> type[BaseModel]:
    for part in path:
        model = _nested_model(model.model_fields[part].annotation) or model
    return model


def _join(path: list) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
