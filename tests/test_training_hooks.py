"""on_tick / on_snapshot hooks: what they see, what they record, and that they cannot change the run."""
import json

import pytest
import torch

from stylealign_core.training.hooks import HookContext, read_records, truncate_records
from stylealign_core.training.loop import train
from stylealign_core.training.rundir import RunDir
from test_training import blobs, cfg, state


def test_hooks_see_the_run_record_their_values_and_leave_training_unchanged(tmp_path):
    seen = []

    def noisy_tick(ctx: HookContext):
        seen.append(ctx)
        torch.randn(1000)  # a hook drawing random numbers must not change the run
        return {"loss_G_seen": ctx.row["loss_G"], "nan_becomes_null": float("nan")}

    def pixels(ctx: HookContext):
        seen.append(ctx)
        with torch.no_grad():
            img = ctx.G_ema(torch.zeros(1, ctx.G_ema.z_dim), None, noise_mode="const")
        return {"mean_pixel": img.mean(), "snapshot_exists": ctx.snapshot.is_dir()}

    run = RunDir(tmp_path / "hooked")
    hooked = train(cfg(), blobs(), run.root, progress=False, on_tick=noisy_tick, on_snapshot=[pixels])
    plain = train(cfg(), blobs(), tmp_path / "plain", progress=False)
    for name in ("G", "D", "G_ema"):
        a, b = state(hooked[name]), state(plain[name])
        assert all(torch.equal(a[k], b[k]) for k in a), name

    ticks = [c for c in seen if c.event == "tick"]
    snaps = [c for c in seen if c.event == "snapshot"]
    assert [c.kimg for c in snaps] == [0.016, 0.032] and [c.step for c in snaps] == [4, 8]
    assert snaps[-1].final and not snaps[0].final and snaps[-1].run_dir == run
    assert snaps[-1].snapshot == run.snapshot(32)
    with pytest.raises(TypeError):
        ticks[0].row["loss_G"] = 0.0  # read-only
    records = read_records(run.metrics)
    assert [(r["event"], r["hook"], r["kimg"]) for r in records] == [
        ("tick", "noisy_tick", 0.016), ("snapshot", "pixels", 0.016),
        ("tick", "noisy_tick", 0.032), ("snapshot", "pixels", 0.032)]
    assert records[0]["results"] == {"loss_G_seen": ticks[0].row["loss_G"], "nan_becomes_null": None}
    assert records[-1]["results"]["snapshot_exists"] is True
    assert records[-1]["snapshot"] == str(run.snapshot(32))
    assert isinstance(records[-1]["results"]["mean_pixel"], float)


def test_a_hook_returning_a_non_dict_is_named(tmp_path):
    def bad_metric(ctx):
        return [1, 2]

    with pytest.raises(TypeError, match="on_snapshot hook bad_metric: returned list"):
        train(cfg(total_kimg=0.016), blobs(), tmp_path / "run", progress=False, on_snapshot=bad_metric)
    with pytest.raises(TypeError, match="on_tick: expected callables"):
        train(cfg(total_kimg=0.016), blobs(), tmp_path / "run2", progress=False, on_tick=["not callable"])


def test_truncate_records_rewinds_to_a_snapshot_and_drops_a_torn_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"kimg": k, "results": {"x": k}}) for k in (0.016, 0.032, 0.048)]
    path.write_text("\n".join(lines) + "\n" + '{"kimg": 0.06')  # killed mid-write
    truncate_records(path, 0.032)
    assert [r["kimg"] for r in read_records(path)] == [0.016, 0.032]
    assert path.read_text().endswith("\n")
