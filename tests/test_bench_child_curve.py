"""bench/child_curve.py (the default child's curve, parent issue item 6) on a tiny parent and two tiny data
sets: a row per point with KID to both domains, the parent at kimg 0, grids, and the last point equal to the
KID of the run's final checkpoint computed afresh."""
from __future__ import annotations

import csv
import json

import pytest
import yaml

from stylealign_core.training.api import train_parent
from bench_helpers import load_bench
from test_training import TINY, blob_dataset, cfg


def test_verdict_needs_two_std_below_the_parent_and_below_the_other_domain():
    curve = load_bench("child_curve")
    parent = {"kid_child": 0.10, "kid_child_std": 0.01, "kid_parent": 0.05}
    assert curve.verdict({"kid_child": 0.07, "kid_child_std": 0.01, "kid_parent": 0.09}, parent)
    assert not curve.verdict({"kid_child": 0.085, "kid_child_std": 0.01, "kid_parent": 0.09}, parent)  # < 2 std
    assert not curve.verdict({"kid_child": 0.07, "kid_child_std": 0.01, "kid_parent": 0.06}, parent)  # nearer parent


def test_curve_rows_grids_and_the_last_point_match_the_final_checkpoint(tmp_path):
    from stylealign_core.analysis.domain_metrics import domain_metrics
    from stylealign_core.checkpoints import load_generator
    from stylealign_core.metrics import MetricOptions

    curve = load_bench("child_curve")
    data_p, data_c = blob_dataset(tmp_path / "data-p", 0, 8), blob_dataset(tmp_path / "data-c", 1, 8)
    parent = train_parent(cfg(total_kimg=0.004), data_p, tmp_path / "parent", progress=False)["checkpoint"]
    train = {k: v for k, v in TINY.items() if k != "network"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"finetune": {"train": train}}))
    out = tmp_path / "curve"
    assert curve.main(["--params", str(tmp_path / "params.yaml"), "--parent", str(parent) + ".json",
                       "--parent-data", str(data_p), "--child-data", str(data_c), "--points", "0.008,0.016",
                       "--num-gen", "6", "--num-real", "8", "--kid-subset-size", "4", "--grid", "2",
                       "--threads", "1", "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "curve.csv")))
    assert [float(r["kimg"]) for r in rows] == [0.0, 0.008, 0.016]
    assert rows[0]["moved_toward_child"] == "" and rows[1]["moved_toward_child"] in ("True", "False")
    assert (out / "curve.png").stat().st_size > 0
    assert (out / "grid-kimg0.008.png").is_file() and (out / "grid-kimg0.016.png").is_file()
    summary = json.loads((out / "curve.json").read_text())
    assert summary["train"]["total_kimg"] == pytest.approx(0.016)
    assert summary["real_gap"]["kid_std"] >= 0 and summary["real_gap"]["subset_size"] == 4
    # the last point is the final checkpoint's KID, recomputed with the same options
    final = load_generator(out / "run" / "network-final.json")
    records = domain_metrics({"child": final}, {"child": data_c, "parent": data_p}, num_gen=6, metrics="kid",
                             options=MetricOptions(max_real=8, kid_subset_size=4, kid_seed=0), fid="none")
    again = {r["domain"]: r["value"] for r in records}
    assert float(rows[-1]["kid_child"]) == pytest.approx(again["child"], rel=1e-5, abs=1e-7)
    assert float(rows[-1]["kid_parent"]) == pytest.approx(again["parent"], rel=1e-5, abs=1e-7)
