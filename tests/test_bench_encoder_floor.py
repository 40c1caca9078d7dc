"""bench/encoder_floor.py --projector-from: an earlier run's projector distance is reused only when it was measured
on the same generator, images, split, space, steps and metric; anything else is refused naming the difference."""
from __future__ import annotations

import json

import pytest

from bench_helpers import load_bench

SETTINGS = {"generator_sha256": "ab" * 32, "images": 16, "split": "test", "space": "w+", "projector_steps": 1000,
            "metric": "stlpips-alex"}


def test_projector_distance_is_reused_from_a_matching_run(tmp_path):
    bench, path = load_bench("encoder_floor"), tmp_path / "floor.json"
    path.write_text(json.dumps({**SETTINGS, "projector": 0.0857, "encoder": 0.23}))
    assert bench.projector_from(path, SETTINGS) == pytest.approx(0.0857)
    older = {k: v for k, v in SETTINGS.items() if k != "split"}          # written before 'split' was recorded
    path.write_text(json.dumps({**older, "projector": 0.0857}))
    assert bench.projector_from(path, SETTINGS) == pytest.approx(0.0857)


@pytest.mark.parametrize("key, value", [("generator_sha256", "cd" * 32), ("images", 8), ("metric", "stlpips-vgg"),
                                        ("projector_steps", 100), ("split", "train")])
def test_a_run_measured_differently_is_refused_by_name(tmp_path, key, value):
    bench, path = load_bench("encoder_floor"), tmp_path / "floor.json"
    path.write_text(json.dumps({**SETTINGS, key: value, "projector": 0.0857}))
    with pytest.raises(SystemExit, match=f"{key}: file"):
        bench.projector_from(path, SETTINGS)


def test_an_unreadable_file_is_refused(tmp_path):
    bench, path = load_bench("encoder_floor"), tmp_path / "floor.json"
    path.write_text('{"images": 16}')
    with pytest.raises(SystemExit, match="not a readable --json"):
        bench.projector_from(path, SETTINGS)
    with pytest.raises(SystemExit, match="not a readable --json"):
        bench.projector_from(tmp_path / "missing.json", SETTINGS)
