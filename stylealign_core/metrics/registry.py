"""Metric names -> functions over (real features, generated features).

Names: ``fid`` and ``kid`` (the generated count comes from ``num_gen``), or with a count in the name
like stylegan2-ada-pytorch's ``fid50k``: ``fid2k`` (2,000 generated images), ``kid500``,
``fid10k``. All real images of the chosen split are used (the official ``_full`` variants) unless
``max_real`` limits them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import MetricsError
from .fid import compute_fid
from .kid import compute_kid

_NAME = re.compile(r"^(?P<base>[a-z]+?)(?:(?P<count>\d+)(?P<k>k?))?$")


def _fid(real: np.ndarray, gen: np.ndarray, **_options) -> dict:
    return {"value": compute_fid(real, gen), "std": None}


def _kid(real: np.ndarray, gen: np.ndarray, kid_subsets: int = 100, kid_subset_size: int = 1000,
         kid_seed: int | None = 0, **_options) -> dict:
    result = compute_kid(real, gen, num_subsets=kid_subsets, max_subset_size=kid_subset_size, seed=kid_seed)
    return {"value": result.value, "std": result.std, "subsets": result.num_subsets,
            "subset_size": result.subset_size, "seed": result.seed}


METRICS: dict[str, Callable[..., dict]] = {"fid": _fid, "kid": _kid}


@dataclass(frozen=True)
class MetricSpec:
    name: str       # as asked for, e.g. "fid2k"
    base: str       # key of METRICS
    num_gen: int


def parse_metric(name: str, num_gen: int | None = None) -> MetricSpec:
    """``"fid2k"`` -> ``MetricSpec("fid2k", "fid", 2000)``; ``"kid"`` takes ``num_gen``."""
    match = _NAME.match(name.strip().lower())
    if not match or match["base"] not in METRICS:
        raise MetricsError(f"unknown metric {name!r}",
                           hint=f"use one of {sorted(METRICS)}, optionally with a count: fid2k, kid500")
    if match["count"]:
        count = int(match["count"]) * (1000 if match["k"] else 1)
    elif num_gen is not None:
        count = int(num_gen)
    else:
        raise MetricsError(f"metric {name!r} has no image count", hint=f"name one ({name}2k) or pass num_gen")
    if count < 2:
        raise MetricsError(f"metric {name!r} asks for {count} generated images", hint="use at least 2")
    return MetricSpec(name=name.strip().lower(), base=match["base"], num_gen=count)


def parse_metric_list(names: str | list[str], num_gen: int | None = None) -> list[MetricSpec]:
    """``"fid,kid"`` or ``["fid2k", "kid2k"]`` -> specs (duplicates dropped, order kept)."""
    items = names.split(",") if isinstance(names, str) else list(names)
    specs = [parse_metric(n, num_gen) for n in items if n.strip()]
    if not specs:
        raise MetricsError("no metric named", hint="e.g. --metrics fid,kid")
    return list({s.name: s for s in specs}.values())
