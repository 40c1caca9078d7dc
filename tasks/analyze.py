"""Stage `analyze`: FID/KID of the parent and the child to both domains, weight change per component,
component reset, StyleSpace channel alignment, the parent's top W directions in the child, and (opt-in) the
controls' transfer score and zero-shot label transfer.

``analyze_pair`` wraps :func:`stylealign_core.analysis.stage.run_analysis` (the same functions as
``stylealign analyze`` and ``stylealign metrics``); the output directory is published atomically.
"""
from __future__ import annotations

import time

import torch
from prefect import task
from prefect.cache_policies import NO_CACHE

from stylealign_core.analysis.stage import run_analysis
from stylealign_core.params_analysis import AnalyzeParams
from stylealign_core.params_edit import InvertParams, TranslateParams
from stylealign_core.training.api import set_threads

from ._common import logger


@task(name="analyze.analyze_pair", cache_policy=NO_CACHE)
def analyze_pair(settings: dict, parent_checkpoint: str, child_checkpoint: str, parent_data: str, child_data: str,
                 out: str, invert: dict | None = None, translate: dict | None = None,
                 parent_latents: str | None = None) -> dict:
    """Run every analysis of the pair into ``out``; returns the summary (headline numbers and counts).
    ``invert``: params.yaml's ``invert`` section (the projector of the zero-shot route a; None: its defaults).
    ``parent_latents`` (the invert stage's parent table) and ``translate`` (params.yaml's ``translate``
    section; None: its defaults) score the component resets by translation quality."""
    cfg = AnalyzeParams.model_validate(settings).effective()
    invert_cfg = InvertParams.model_validate(invert or {})
    translate_cfg = TranslateParams.model_validate(translate or {})
    set_threads(cfg.threads)
    f = cfg.fid_kid
    logger().info("analysing %s vs %s (%d torch threads): FID/KID on %d generated vs %s real images per model "
                  "and domain, resets on %d, effect maps over %d latents%s -> %s", parent_checkpoint,
                  child_checkpoint, torch.get_num_threads(), f.num_gen, f.num_real or "all", cfg.reset.num_gen,
                  cfg.alignment.latents, " (full size)" if cfg.full else "", out)
    t0 = time.time()
    summary = run_analysis(parent_checkpoint, child_checkpoint, {"parent": parent_data, "child": child_data}, out,
                           cfg, progress=False, say=logger().info, invert=invert_cfg,
                           translate=translate_cfg, parent_latents=parent_latents)
    logger().info("analysis done in %.1f s (%s)", time.time() - t0, summary["timings"])
    return summary
