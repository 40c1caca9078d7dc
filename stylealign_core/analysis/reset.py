"""Component reset: the child with one component (mapping network, affines, synthesis convolutions or
ToRGB) put back to the parent's weights, and each such generator scored by KID to the child domain.

If fine-tuning changed mostly the synthesis convolutions (the StyleAlign finding), resetting the mapping
network or the affines keeps the child's domain (KID stays near the child's own), while resetting the
synthesis convolutions brings the parent's domain back (KID rises towards the parent's).

:func:`reset_generators` returns the reset generators by name, for any other scoring (translation quality
is scored by :mod:`.reset_translation` with the same generators). Inputs are never modified: each reset is a deep copy.
"""
from __future__ import annotations

import copy

import torch

from .components import RESET_GROUPS, RESETS, analysis_component
from .errors import AnalysisError
from .pair import check_aligned


def reset_component(parent: torch.nn.Module, child: torch.nn.Module, group: str) -> torch.nn.Module:
    """A copy of ``child`` whose tensors (parameters and buffers) in reset group ``group`` (a key of
    RESETS) are the parent's. ``parent`` and ``child`` are left as they are."""
    if group not in RESETS:
        raise AnalysisError(f"unknown reset group {group!r}; choose from {', '.join(RESETS)}")
    check_aligned(parent, child)
    reset = copy.deepcopy(child)
    parent_state = parent.state_dict()
    with torch.no_grad():
        for name, tensor in reset.state_dict().items():  # state_dict tensors share storage with the copy
            if analysis_component(name) in RESETS[group]:
                tensor.copy_(parent_state[name])
    return reset


def reset_generators(parent: torch.nn.Module, child: torch.nn.Module, groups=tuple(RESET_GROUPS)) -> dict:
    """``{group: child with that group reset to the parent}`` for each group, in the order given."""
    return {group: reset_component(parent, child, group) for group in groups}


def reset_models(parent: torch.nn.Module, child: torch.nn.Module, groups=tuple(RESET_GROUPS)) -> dict:
    """``{"child": child, "parent": parent, "reset_<group>": child with that group reset, ...}``: the models
    every reset score compares (the child and the parent as references)."""
    return {"child": child, "parent": parent,
            **{f"reset_{g}": G for g, G in reset_generators(parent, child, groups).items()}}


def score_resets_kid(parent, child, data, *, num_gen: int, max_real: int | None = None, split: str | None = "train",
                     kid_subsets: int = 100, kid_subset_size: int = 1000, kid_seed: int = 0,
                     groups=tuple(RESET_GROUPS), detector=None, cache_dir: str | None = None,
                     progress: bool | None = None) -> list[dict]:
    """KID to ``data`` (the child domain) of the child, the parent and every reset, one metrics record each
    (``model`` = "child", "parent" or "reset_<group>"; ``value``, ``std``, ``num_gen``, ``num_real``,
    subsets and seeds as :func:`stylealign_core.metrics.evaluate_metrics` records them).

    All models are sampled at the same seeds 0..num_gen-1; real features are extracted once (cached)."""
    from ..metrics import MetricOptions, evaluate_metrics, load_detector
    detector = detector or load_detector()
    options = MetricOptions(max_real=max_real, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size,
                            kid_seed=kid_seed, cache_dir=cache_dir, progress=progress)
    records = []
    for name, G in reset_models(parent, child, groups).items():
        (record,) = evaluate_metrics(G, data, "kid", num_gen=num_gen, split=split, options=options,
                                     detector=detector, network=name)
        records.append({"model": name, **record})
    return records
