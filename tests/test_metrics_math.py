"""FID/KID formulas, subset drawing, names and records: no detector needed (fast).

The golden test compares with figures made once by the official stylegan2-ada-pytorch metric code
(tests/golden_metrics/make_golden.py; its commit is in golden.json) on stored features."""
import json
from pathlib import Path

import numpy as np
import pytest

from stylealign_core.metrics import (MetricsError, append_records, compute_fid, compute_kid, draw_kid_subsets,
                                     format_record, frechet_distance, mean_cov, parse_metric, parse_metric_list,
                                     read_records)
from stylealign_core.metrics.kid import mmd2_per_subset

GOLDEN = Path(__file__).parent / "golden_metrics"


def _gauss(n, d, shift=0.0, seed=0):
    return (np.random.RandomState(seed).randn(n, d) + shift).astype(np.float32)


def test_mean_cov_is_float64_and_normalised_by_n():
    x = _gauss(50, 6)
    mean, cov = mean_cov(x)
    assert mean.dtype == cov.dtype == np.float64
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(x.astype(np.float64), rowvar=False, bias=True), rtol=1e-10, atol=1e-12)


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-10)
    assert frechet_distance(mu1, np.diag(s1), mu1, np.diag(s1)) == pytest.approx(0.0, abs=1e-10)


def test_fid_orders_same_versus_shifted_distributions():
    same = compute_fid(_gauss(400, 8, seed=1), _gauss(400, 8, seed=2))
    shifted = compute_fid(_gauss(400, 8, seed=1), _gauss(400, 8, shift=1.0, seed=2))
    assert 0 <= same < 0.5 and shifted == pytest.approx(8.0, rel=0.2)


def test_kid_subsets_are_those_of_the_official_unseeded_loop_once_seeded():
    gen_idx, real_idx = draw_kid_subsets(num_real=30, num_gen=25, num_subsets=4, max_subset_size=10, seed=5)
    np.random.seed(5)  # the official loop: per subset, generated indices then real ones, global generator
    for i in range(4):
        np.testing.assert_array_equal(gen_idx[i], np.random.choice(25, 10, replace=False))
        np.testing.assert_array_equal(real_idx[i], np.random.choice(30, 10, replace=False))
    other = draw_kid_subsets(30, 25, 4, 10, seed=6)[0]
    assert not np.array_equal(other, gen_idx)
    assert draw_kid_subsets(5, 9, 2, 1000, seed=0)[0].shape == (2, 5)  # m = min(real, gen, max size)


def _kernel(a, b):
    return (a @ b / len(a) + 1) ** 3


def test_kid_per_subset_is_the_unbiased_mmd2_of_the_cubic_kernel():
    real, gen = _gauss(12, 5, seed=3), _gauss(12, 5, shift=0.3, seed=4)
    gen_idx, real_idx = draw_kid_subsets(12, 12, 2, 7, seed=1)
    got = mmd2_per_subset(real, gen, gen_idx, real_idx)
    for value, g, r in zip(got, gen_idx, real_idx):
        x, y, m = gen[g].astype(np.float64), real[r].astype(np.float64), len(g)
        within = sum(_kernel(x[i], x[j]) + _kernel(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
        across = sum(_kernel(x[i], y[j]) for i in range(m) for j in range(m))
        assert value == pytest.approx(within / (m * (m - 1)) - 2 * across / m**2, rel=1e-9)
    result = compute_kid(real, gen, num_subsets=2, max_subset_size=7, seed=1)
    assert result.value == pytest.approx(got.mean()) and result.std == pytest.approx(got.std())


def test_kid_near_zero_for_one_distribution_and_positive_for_two():
    same = compute_kid(_gauss(300, 16, seed=1), _gauss(300, 16, seed=2), num_subsets=20, max_subset_size=100)
    apart = compute_kid(_gauss(300, 16, seed=1), _gauss(300, 16, shift=0.5, seed=2), num_subsets=20,
                        max_subset_size=100)
    assert abs(same.value) < 3 * same.std + 1e-3 and apart.value > 10 * abs(same.value) + 0.01


def test_fid_and_kid_equal_the_official_code_on_golden_features():
    golden = json.loads((GOLDEN / "golden.json").read_text())
    assert len(golden["official_commit"]) == 40
    with np.load(GOLDEN / "golden.npz") as f:
        real, gen = f["real"], f["gen"]
    assert (len(real), len(gen)) == (golden["num_real"], golden["num_gen"])
    assert compute_fid(real, gen) == pytest.approx(golden["fid"], rel=1e-7)
    for case in golden["kid"]:
        ours = compute_kid(real, gen, case["num_subsets"], case["max_subset_size"], seed=case["seed"])
        # same subsets; the official kernel sums are float32, ours float64
        assert ours.value == pytest.approx(case["value"], rel=1e-5), case
    reseeded = compute_kid(real, gen, 10, 12, seed=124)
    assert reseeded.value != pytest.approx(golden["kid"][0]["value"], rel=1e-5)


def test_metric_names():
    assert parse_metric("fid2k").num_gen == 2000 and parse_metric("KID500").num_gen == 500
    assert parse_metric("fid", num_gen=64).num_gen == 64
    specs = parse_metric_list("fid,kid,fid", num_gen=10)
    assert [(s.name, s.base, s.num_gen) for s in specs] == [("fid", "fid", 10), ("kid", "kid", 10)]
    with pytest.raises(MetricsError, match="unknown metric 'ppl'"):
        parse_metric("ppl")
    with pytest.raises(MetricsError, match="no image count"):
        parse_metric("kid")


def test_records_append_as_json_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rec = {"metric": "kid", "value": 0.01, "std": 0.002, "num_real": 10, "num_gen": 8, "subsets": 3,
           "subset_size": 8, "seed": 0}
    append_records(path, [rec])
    append_records(path, [dict(rec, metric="fid", std=None, subsets=None)])
    assert [r["metric"] for r in read_records(path)] == ["kid", "fid"]
    assert "real 10, generated 8, 3 subsets of 8, seed 0" in format_record(rec)
