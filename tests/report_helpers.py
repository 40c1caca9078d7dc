"""Small real inputs of the report: a tiny parent/child pair, two tiny data sets, a real `analyze` run and a
real (short) training log, built once per test session in a temporary directory."""
from __future__ import annotations

import json
from pathlib import Path

from stylealign_core.checkpoints import save_checkpoint
from stylealign_core.params_analysis import AnalyzeParams
from stylealign_core.params_edit import TranslateParams

from analysis_helpers import perturbed_child, tiny_parent
from test_training import blob_dataset

# fid: none: FID's 2048x2048 sqrtm costs tens of seconds whatever the counts (FID itself: test_metrics_*)
TINY_ANALYZE = {"fid_kid": {"num_gen": 5, "num_real": 5, "kid_subsets": 5, "batch": 5, "fid": "none"},
                "reset": {"num_gen": 3},
                "alignment": {"latents": 3, "channels": 2, "std_samples": 16},
                "controls": {"count": 2, "pca_samples": 40, "strip_seeds": 2, "steps": [-2.0, 0.0, 2.0]}}


def _parent_latents(path: Path, parent, parent_path: Path) -> Path:
    """What the invert stage leaves: z codes of three child-data ids, inverted "in" the parent checkpoint."""
    import torch

    from stylealign_core.checkpoints import load_generator_and_sha
    from stylealign_core.inversion import LatentsTable, write_latents
    sha = load_generator_and_sha(parent_path.with_suffix(".json"))[1]
    z = torch.randn(3, parent.z_dim, generator=torch.Generator().manual_seed(5))
    path.parent.mkdir(parents=True)
    write_latents(path, LatentsTable(["img000", "img001", "img002"], "z", z, sha, "test"))
    return path


def analyzed_run(root: Path, g_kwargs: dict) -> dict:
    """``root`` holding what the stages before `report` write: runs/child (network-final.json,
    parent_vs_child.png, log.parquet), metrics/finetune.json, runs/invert/parent/latents.parquet (three z codes),
    runs/analyze (a real run_analysis, the resets also scored by translation quality)."""
    import pandas as pd
    import torch

    from stylealign_core.analysis.stage import run_analysis
    from stylealign_core.reports import parent_vs_child_grid
    torch.manual_seed(0)
    parent = tiny_parent(g_kwargs)
    child = perturbed_child(parent, {"conv"})
    run = root / "runs" / "child"
    run.mkdir(parents=True)
    parent_path = save_checkpoint(root / "models" / "parent", {"G_ema": parent})
    child_path = save_checkpoint(run / "network-final", {"G_ema": child})
    parent_vs_child_grid(parent, child, run / "parent_vs_child.png", [0, 1, 2, 3])
    pd.DataFrame({"kimg": [0.016, 0.032, 0.048], "loss_G": [2.0, 1.5, 1.2], "loss_D": [1.0, 1.1, 0.9],
                  "images_per_s": [20.0, 21.0, 19.0]}).to_parquet(run / "log.parquet")
    (root / "metrics").mkdir()
    (root / "metrics" / "finetune.json").write_text(json.dumps({"kimg": 0.048, "steps": 3, "seconds": 1.5,
                                                                 "images_per_s": 20.0}))
    domains = {"parent": blob_dataset(root / "data" / "parent", 0, 8), "child": blob_dataset(root / "data" / "child", 1, 8)}
    latents = _parent_latents(root / "runs" / "invert" / "parent" / "latents.parquet", parent, parent_path)
    summary = run_analysis(parent_path.with_suffix(".json"), child_path.with_suffix(".json"), domains,
                           root / "runs" / "analyze", AnalyzeParams.model_validate(TINY_ANALYZE), progress=False,
                           translate=TranslateParams(metric="stlpips-alex", boot=50), parent_latents=latents)
    return {"root": root, "summary": summary}
