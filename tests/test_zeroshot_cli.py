"""`stylealign zeroshot train` / `eval` end to end on tiny emoji-like data sets."""
import json

import pandas as pd

from stylealign.cli import main
from stylealign_core.analysis.zeroshot import task_data
from test_zeroshot_helpers import one_thread, save_png_folder, write_emoji_like  # noqa: F401 (autouse fixture)

TINY = ["--epochs", "2", "--batch", "16", "--width", "4", "--resolution", "16", "--no-progress", "--threads", "1"]


def test_train_and_eval_end_to_end(tmp_path, capsys):
    parent, child = write_emoji_like(tmp_path / "parent", 0), write_emoji_like(tmp_path / "child", 1)
    assert main(["zeroshot", "train", "--data", str(parent), "--task", "all", "--out", str(tmp_path / "m")] + TINY) == 0
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        f"{t}.{e}" for t in ("category", "mask", "skin_tone") for e in ("json", "safetensors")]
    assert main(["zeroshot", "train", "--data", str(child), "--task", "category", "--out", str(tmp_path / "c")]
                + TINY) == 0
    # the identity translation as a folder: the child test images themselves, named by id
    folder = tmp_path / "translated"
    for task in ("category", "skin_tone", "mask"):
        test = task_data(child, task, "test")
        save_png_folder(folder, test.ids, test.images)
    out = tmp_path / "report"
    args = ["zeroshot", "eval", "--models", str(tmp_path / "m"), "--child-data", str(child), "--parent-data",
            str(parent), "--to-parent-images", str(folder), "--resamples", "40", "--out", str(out), "--no-progress"]
    capsys.readouterr()
    assert main(args) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())["zeroshot"]
    assert json.loads(printed[:printed.rindex("}") + 1])["zeroshot"] == metrics
    for task in ("category", "skin_tone"):
        assert {"acc", "acc_direct", "acc_supervised", "chance"} <= set(metrics[task])
        assert metrics[task]["acc"] == metrics[task]["acc_direct"]
    assert {"miou", "miou_direct", "miou_supervised"} <= set(metrics["mask"])
    assert metrics["mask"]["miou"] == metrics["mask"]["miou_direct"]
    table = pd.read_parquet(out / "zeroshot.parquet")
    assert set(table.task) == {"category", "skin_tone", "mask"}
    assert json.loads((out / "zeroshot.json").read_text())["rows"][0]["task"] == "category"
    # an existing --out is refused (exit 2, one line), --overwrite replaces it
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert main(args + ["--overwrite", "--task", "category", "--supervised-models", str(tmp_path / "c")]) == 0
    assert json.loads((out / "metrics.json").read_text())["zeroshot"]["category"]["acc_supervised"] is not None


def test_eval_errors_name_the_fix(tmp_path, capsys):
    child = write_emoji_like(tmp_path / "child", 1)
    (tmp_path / "empty").mkdir()
    assert main(["zeroshot", "eval", "--models", str(tmp_path / "empty"), "--child-data", str(child),
                 "--out", str(tmp_path / "o")]) == 2
    assert "zeroshot train" in capsys.readouterr().err
    assert main(["zeroshot", "train", "--data", str(tmp_path / "nowhere"), "--task", "mask",
                 "--out", str(tmp_path / "m")] + TINY) == 2
    assert "stylealign: error:" in capsys.readouterr().err
    assert main(["zeroshot", "eval", "--models", str(tmp_path / "empty"), "--child-data", str(child),
                 "--parent-latents", "p.parquet", "--out", str(tmp_path / "o")]) == 2
    assert "--child-latents" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
