"""How far fine-tuning moved each weight: relative change ||child - parent|| / ||parent||, per tensor,
per layer and per component, raw and per unit of effective learning rate.

The mapping network learns at ``lr_multiplier`` 0.01 (equalized lr: its weights are stored 100x larger and
its gradients steps 100x smaller in effect), so its relative change is ~100x smaller than a synthesis layer's
for the same number of Adam steps *by construction*. ``relative_change_per_lr`` divides by the multiplier to
take that out; neither column alone says how much the mapping "wanted" to move.

Only parameters are compared (buffers such as ``w_avg`` are statistics, not learned weights; the component
reset does put them back). Tables are pandas DataFrames (written as Parquet by the CLI):

* :func:`tensor_changes`  one row per parameter: name, component, layer, numel, norms, lr_multiplier
* :func:`layer_changes`   one row per (layer, component), in network order
* :func:`component_changes` one row per component: aggregate relative change and its share
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from .components import ANALYSIS_COMPONENTS, analysis_component, layer_of, lr_multiplier_of
from .pair import check_aligned


def tensor_changes(parent: torch.nn.Module, child: torch.nn.Module) -> pd.DataFrame:
    """One row per generator parameter (network order) with its change from parent to child."""
    check_aligned(parent, child)
    child_params = dict(child.named_parameters())
    rows = []
    for order, (name, p) in enumerate(parent.named_parameters()):
        before = p.detach().double()
        diff_norm = float((child_params[name].detach().double() - before).norm())
        parent_norm = float(before.norm())
        lr_mult = lr_multiplier_of(parent, name)
        rel = _relative(diff_norm, parent_norm)
        rows.append(dict(order=order, name=name, component=analysis_component(name), layer=layer_of(name),
                         numel=p.numel(), parent_norm=parent_norm, diff_norm=diff_norm, relative_change=rel,
                         lr_multiplier=lr_mult, relative_change_per_lr=rel / lr_mult))
    return pd.DataFrame(rows)


def _aggregate(group: pd.DataFrame) -> pd.Series:
    """Norms of a set of tensors taken together (sqrt of summed squares), and the relative change; per unit
    of lr, each tensor's change is divided by its own multiplier before summing."""
    parent_norm = math.sqrt(float((group["parent_norm"] ** 2).sum()))
    diff_norm = math.sqrt(float((group["diff_norm"] ** 2).sum()))
    diff_per_lr = math.sqrt(float(((group["diff_norm"] / group["lr_multiplier"]) ** 2).sum()))
    return pd.Series(dict(order=int(group["order"].min()), numel=int(group["numel"].sum()),
                          parent_norm=parent_norm, diff_norm=diff_norm,
                          relative_change=_relative(diff_norm, parent_norm),
                          lr_multiplier=float(group["lr_multiplier"].min()),
                          relative_change_per_lr=_relative(diff_per_lr, parent_norm)))


def _relative(diff_norm: float, parent_norm: float) -> float:
    """diff / parent; 0 for no change, inf for a change of a tensor that was all zeros in the parent."""
    if parent_norm > 0:
        return diff_norm / parent_norm
    return 0.0 if diff_norm == 0 else math.inf


def _grouped(tensors: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    rows = [dict(zip(keys, key if isinstance(key, tuple) else (key,))) | _aggregate(group).to_dict()
            for key, group in tensors.groupby(keys, sort=False)]
    return pd.DataFrame(rows).sort_values("order").reset_index(drop=True)


def layer_changes(tensors: pd.DataFrame) -> pd.DataFrame:
    """One row per (layer, component) in network order: e.g. ``b16.conv0`` conv (weight + bias),
    ``b16.conv0.affine`` affine, ``b16.conv0`` noise (its noise strength)."""
    return _grouped(tensors, ["layer", "component"])


def component_changes(tensors: pd.DataFrame) -> pd.DataFrame:
    """One row per component (ANALYSIS_COMPONENTS order): the components' tensors taken together.

    ``share_of_relative_change``: the component's relative change over the sum of all components' (a
    scale-free split; sums to 1). ``share_of_squared_change``: its part of ||child - parent||^2 (depends
    on how many weights a component has). ``mean_layer_relative_change``: the mean over its layers."""
    table = _grouped(tensors, ["component"])
    layers = layer_changes(tensors)
    table["mean_layer_relative_change"] = [
        float(layers.loc[layers["component"] == c, "relative_change"].mean()) for c in table["component"]]
    finite = table["relative_change"].where(np.isfinite(table["relative_change"]), np.nan)
    total_rel = float(finite.sum())
    table["share_of_relative_change"] = finite / total_rel if total_rel > 0 else 0.0
    total_sq = float((table["diff_norm"] ** 2).sum())
    table["share_of_squared_change"] = table["diff_norm"] ** 2 / total_sq if total_sq > 0 else 0.0
    rank = {c: i for i, c in enumerate(ANALYSIS_COMPONENTS)}
    return table.sort_values("component", key=lambda s: s.map(rank)).reset_index(drop=True)


def weight_change_headline(components: pd.DataFrame) -> dict:
    """The paper's claim as numbers: relative change of the synthesis convolutions against the mapping
    network and the affines (raw, and per unit of learning rate), and the share of each component."""
    by = components.set_index("component")

    def ratio(a: str, b: str, column: str) -> float | None:
        if a not in by.index or b not in by.index or by.at[b, column] == 0:
            return None
        return float(by.at[a, column] / by.at[b, column])

    def column(name: str) -> dict:  # JSON has no inf/NaN: a change of an all-zero parent tensor is null
        return {c: float(v) if math.isfinite(v) else None for c, v in by[name].items()}

    return {
        "relative_change": column("relative_change"),
        "relative_change_per_lr": column("relative_change_per_lr"),
        "share_of_relative_change": column("share_of_relative_change"),
        "share_of_squared_change": column("share_of_squared_change"),
        "conv_over_mapping": ratio("conv", "mapping", "relative_change"),
        "conv_over_affine": ratio("conv", "affine", "relative_change"),
        "conv_over_mapping_per_lr": ratio("conv", "mapping", "relative_change_per_lr"),
        "conv_share_vs_mapping_affine": _share(by, "conv", ("mapping", "affine")),
        "note": "mapping learns at lr_multiplier 0.01: its raw relative change is ~100x smaller by construction; "
                "relative_change_per_lr divides each tensor's change by its multiplier",
    }


def _share(by: pd.DataFrame, part: str, others: tuple[str, ...]) -> float | None:
    """rel[part] / (rel[part] + sum rel[others]): the synthesis convs' share of the relative change among
    {convs, mapping, affines}."""
    names = (part, *others)
    if any(n not in by.index for n in names):
        return None
    values = [float(by.at[n, "relative_change"]) for n in names]
    total = sum(values)
    return values[0] / total if total > 0 and math.isfinite(total) else None
