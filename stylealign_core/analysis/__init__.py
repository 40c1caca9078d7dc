"""Alignment statistics of an aligned parent/child pair (the StyleAlign analysis); no Prefect/DVC here.

    from stylealign_core.analysis import load_pair, alignment_report, reset_generators
    parent, child = load_pair("parent.json", "child.json")
    summary = alignment_report(parent, child, "reports/alignment")

Modules: ``components`` (tensor -> component, layer, lr multiplier), ``pair`` (the aligned-pair check),
``weights`` (relative weight change), ``reset`` (component reset and its KID), ``reset_translation`` (the
resets scored by translation quality), ``effects`` (effect maps
and their correlation), ``style_alignment`` (StyleSpace channels), ``directions`` (W directions),
``plots`` and ``report`` (the output directory), ``domain_metrics`` (FID/KID of several generators against
several domains, each feature set extracted once), ``stage`` (the pipeline's ``analyze`` stage) and
``optin`` (its opt-in parts: the controls' transfer score, zero-shot label transfer).
"""
from .components import ANALYSIS_COMPONENTS, RESET_GROUPS, analysis_component, component_map, lr_multiplier_of
from .directions import random_directions, w_direction_alignment
from .pair import check_aligned, load_pair
from .report import SUMMARY_FILE, KidSettings, alignment_report
from .reset import reset_component, reset_generators, score_resets_kid
from .style_alignment import EffectSettings, layer_alignment, style_channel_alignment
from .weights import component_changes, layer_changes, tensor_changes, weight_change_headline

__all__ = ["ANALYSIS_COMPONENTS", "EffectSettings", "KidSettings", "RESET_GROUPS", "SUMMARY_FILE",
           "alignment_report", "analysis_component", "check_aligned", "component_changes", "component_map",
           "layer_alignment", "layer_changes", "load_pair", "lr_multiplier_of", "random_directions",
           "reset_component", "reset_generators", "score_resets_kid", "style_channel_alignment",
           "tensor_changes", "w_direction_alignment", "weight_change_headline"]
