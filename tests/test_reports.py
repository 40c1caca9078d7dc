"""Reports: the training-curves figure drawn from a run's Parquet log, and `stylealign curves`."""
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from stylealign.cli import main
from stylealign_core.reports import plot_training_log


def fake_log(n=12, seed=0, ada=True):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(1, n + 1):
        row = {"nimg": 4000 * i, "kimg": 4.0 * i, "step": 250 * i, "images_per_s": 30 + rng.normal(),
               "loss_G": 2 - i / n + 0.1 * rng.normal(), "loss_D": 0.7 + 0.05 * rng.normal(),
               "loss_r1": 0.05 * (1 + rng.random()), "loss_pl": 0.03 * (1 + rng.random()),
               "augment_p": 0.4 * i / n if ada else 0.0, "ada_rt": rng.uniform(0.3, 0.9) if ada else float("nan")}
        rows.append(row)
    return rows


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_rows_frame_and_parquet_draw_the_same_figure(tmp_path):
    rows = fake_log()
    pd.DataFrame(rows).to_parquet(tmp_path / "log.parquet", index=False)
    shuffled = pd.DataFrame(rows).sample(frac=1, random_state=0)  # drawn sorted by kimg
    outs = [plot_training_log(log, tmp_path / f"c{i}.png", title="t", ada_target=0.6)
            for i, log in enumerate([rows, shuffled, tmp_path / "log.parquet", str(tmp_path / "log.parquet")])]
    first = pixels(outs[0])
    assert first.shape == (650, 1000, 3)
    assert first.std() > 10  # not a blank canvas
    for out in outs[1:]:
        assert np.array_equal(pixels(out), first), out.name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c0.png", "c1.png", "c2.png", "c3.png", "log.parquet"]


def test_the_data_and_the_target_change_the_figure(tmp_path):
    a = pixels(plot_training_log(fake_log(seed=0), tmp_path / "a.png", title="t", ada_target=0.6))
    b = pixels(plot_training_log(fake_log(seed=1), tmp_path / "b.png", title="t", ada_target=0.6))
    c = pixels(plot_training_log(fake_log(seed=0), tmp_path / "c.png", title="t"))
    assert not np.array_equal(a, b) and not np.array_equal(a, c)


def test_a_log_without_ada_or_regularisers_still_draws(tmp_path):
    rows = [{k: v for k, v in r.items() if k not in ("loss_r1", "loss_pl")} for r in fake_log(ada=False)]
    with_target = pixels(plot_training_log(rows, tmp_path / "a.png", title="t", ada_target=0.6))
    without = pixels(plot_training_log(rows, tmp_path / "b.png", title="t"))
    assert np.array_equal(with_target, without)  # no r_t values: no target line either
    one_row = plot_training_log(fake_log(n=1), tmp_path / "one.png")
    assert pixels(one_row).shape == (650, 1000, 3)


def test_bad_logs_name_the_file_and_write_nothing(tmp_path):
    out = tmp_path / "out" / "curves.png"
    with pytest.raises(FileNotFoundError, match="missing.parquet"):
        plot_training_log(tmp_path / "missing.parquet", out)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(ValueError, match="bad.parquet.*not a readable Parquet"):
        plot_training_log(tmp_path / "bad.parquet", out)
    with pytest.raises(ValueError, match="no rows"):
        plot_training_log([], out)
    with pytest.raises(ValueError, match="no rows"):
        plot_training_log([{"loss_G": 1.0}], out)
    assert not out.parent.exists() or not list(out.parent.iterdir())


def test_curves_command_draws_a_run_and_names_a_run_without_log(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    pd.DataFrame(fake_log()).to_parquet(run / "log.parquet", index=False)
    (run / "config.json").write_text(json.dumps({"train": {"ada_target": 0.6}}))
    assert main(["curves", "--run", str(run)]) == 0
    assert f"wrote {run / 'training-curves.png'}" in capsys.readouterr().out
    assert np.array_equal(pixels(run / "training-curves.png"),
                          pixels(plot_training_log(run / "log.parquet", tmp_path / "ref.png",
                                                   title="run: training log", ada_target=0.6)))
    assert main(["curves", "--run", str(tmp_path / "nope"), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and str(tmp_path / "nope" / "log.parquet") in err
    assert not (tmp_path / "x.png").exists()
    (run / "config.json").write_text("{not json")
    assert main(["curves", "--run", str(run)]) == 2
    assert f"error: {run / 'config.json'}: not valid JSON" in capsys.readouterr().err
