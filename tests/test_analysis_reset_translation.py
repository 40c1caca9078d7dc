"""Component reset scored by translation quality: the translate stage's recipe on a tiny real pair and an
emoji-like child data set (the filled summary/metrics.json keys through a real run_analysis: test_report.py)."""
import json

import torch

from stylealign_core.analysis.reset_translation import reset_translation
from stylealign_core.analysis.stage import _reset_translation_part
from stylealign_core.editing import AlignedPair
from stylealign_core.editing.evaluate import load_paired_truth, score_translation
from stylealign_core.editing.inputs import Codes
from stylealign_core.editing.translate import translate
from stylealign_core.params_analysis import AnalyzeParams
from stylealign_core.params_edit import TranslateParams
from stylealign_core.reports.metrics_json import build_metrics, ReportInputs

from analysis_helpers import perturbed_child, tiny_parent
from test_zeroshot_helpers import write_emoji_like

IDS = ["E012", "E013", "E014", "E015"]  # the test-split base emoji of write_emoji_like


def pixel_l2(a, b):
    """A real (if plain) perceptual-distance callable: per-pair L2 over pixels."""
    return (a - b).flatten(1).norm(dim=1)


def _pair_and_codes(g_kwargs, components=("conv", "noise", "const")):
    torch.manual_seed(0)
    parent = tiny_parent(g_kwargs)
    child = perturbed_child(parent, set(components))
    codes = Codes(list(IDS), "z", torch.randn(len(IDS), parent.z_dim, generator=torch.Generator().manual_seed(3)),
                  "test codes")
    return parent, child, codes


def test_resetting_all_that_changed_scores_as_the_parent_and_nothing_as_the_child(tiny_g_kwargs, tmp_path):
    parent, child, codes = _pair_and_codes(tiny_g_kwargs)  # the child differs in the synthesis group only
    truth = write_emoji_like(tmp_path / "tw", style=1)
    result = reset_translation(parent, child, codes, truth, distance=pixel_l2, n_boot=50)
    models = result["models"]
    assert list(models) == ["child", "parent", "mapping", "affine", "synthesis", "torgb"]
    for key in ("perceptual", "mse", "mask_iou"):
        assert models["synthesis"][key] == models["parent"][key], key  # everything that changed, reset
        for group in ("mapping", "affine", "torgb"):  # resets of what did not change leave the child's score
            assert models[group][key] == models["child"][key], (group, key)
    assert models["child"]["perceptual"] != models["parent"]["perceptual"]
    assert models["child"]["mse"] != models["parent"]["mse"]
    assert all(m["n_items"] == 4 and m["metric"] == "pixel_l2" for m in models.values())
    assert result["info"]["truncation_psi"] == 0.5 and result["info"]["groups"] == "base_id"  # z: StyleAlign's 0.5
    # the child's row is the translate stage's own translation score (same recipe, same scorer)
    paired = load_paired_truth(truth, IDS)
    outputs = translate(AlignedPair(parent, child), codes.latents, "z", 0.5)
    _, summary, _ = score_translation(outputs, outputs, paired, child, 0.5, pixel_l2, n_boot=50)
    means = {r["metric"]: r["mean"] for r in summary.to_dict("records") if r["method"] == "translation"}
    assert {k: models["child"][k] for k in ("perceptual", "mse", "mask_iou")} == {
        k: means[k] for k in ("perceptual", "mse", "mask_iou")}


def test_analyze_part_records_why_without_the_parent_table_and_fills_metrics_json_with_it(tiny_g_kwargs, tmp_path):
    from stylealign_core.inversion import LatentsTable, write_latents
    parent, child, codes = _pair_and_codes(tiny_g_kwargs, ("conv", "mapping"))
    truth = write_emoji_like(tmp_path / "tw", style=1)
    pair, cfg = (parent, child, {"parent": "a" * 64, "child": "b" * 64}), AnalyzeParams()
    missing = tmp_path / "runs" / "invert" / "parent" / "latents.parquet"
    entry, why = _reset_translation_part(tmp_path, pair, truth, cfg, TranslateParams(), missing, {})
    assert entry is None and str(missing) in why and "run the `invert` stage" in why
    off = AnalyzeParams.model_validate({"reset": {"enabled": False}})
    assert _reset_translation_part(tmp_path, pair, truth, off, TranslateParams(), missing, {}) == (None, None)
    summary = {"not_run": {"reset_translation": why}}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    reset = build_metrics(ReportInputs(analyze_out=tmp_path))["alignment"]["reset"]
    assert reset["synthesis"]["translation_lpips"] is None and reset["synthesis"]["translation_lpips_reason"] == why
    # with the table: every model scored, reset_translation.json written, metrics.json keys filled
    missing.parent.mkdir(parents=True)
    write_latents(missing, LatentsTable(codes.ids, "z", codes.latents, "a" * 64, "test"))
    timings = {}
    entry, why = _reset_translation_part(tmp_path, pair, truth, cfg, TranslateParams(metric="none", boot=20),
                                         missing, timings)
    assert why is None and "reset_translation_s" in timings
    assert set(entry["models"]) == {"child", "parent", "mapping", "affine", "synthesis", "torgb"}
    assert entry["models"]["mapping"]["mse"] != entry["models"]["child"]["mse"]  # the mapping changed this time
    on_disk = json.loads((tmp_path / "reset_translation.json").read_text())
    assert on_disk["models"] == entry["models"] and on_disk["info"]["codes"] == str(missing)
    (tmp_path / "summary.json").write_text(json.dumps({"reset_translation": entry, "not_run": {}}))
    reset = build_metrics(ReportInputs(analyze_out=tmp_path))["alignment"]["reset"]
    for model in ("mapping", "affine", "synthesis", "torgb", "child", "parent"):
        assert reset[model]["translation_mse"] == entry["models"][model]["mse"]
        assert reset[model]["translation_mask_iou"] == entry["models"][model]["mask_iou"]
        assert reset[model]["translation_lpips"] is None and "no perceptual distance" in \
            reset[model]["translation_lpips_reason"]  # metric none
    assert reset["translation_n_items"] == 4 and reset["translation_metric"] is None
