"""The on-disk format: atomic writer, overwrite swap, stale temporaries, validation, split."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stylealign_core.atomic import remove_stale_dirs
from stylealign_core.data import DataError, DatasetWriter, hash_split, read_metadata
from stylealign_core.data.dataset import ImageDataset
from stylealign_core.data.format import FORMAT_NAME, check_id, check_resolution, verify_dataset
from stylealign_core.data.images import encode_png


def _write(out, n=3, overwrite=False, value=10, has_masks=True):
    with DatasetWriter(out, 4, has_masks=has_masks, overwrite=overwrite) as w:
        for i in range(n):
            img = np.full((4, 4, 3), value + i, np.uint8)
            w.add(f"img{i}", encode_png(img), encode_png(np.full((4, 4), 255, np.uint8)),
                  split=hash_split(str(i)), label=i)
        return w.finish({"name": "t"})


def test_writer_produces_complete_dataset(tmp_path):
    out = _write(tmp_path / "ds")
    meta = read_metadata(out)
    assert meta["format"] == FORMAT_NAME and meta["num_images"] == 3 and meta["has_masks"]
    assert sorted(os.listdir(out)) == ["dataset.json", "images", "manifest.parquet", "masks",
                                       "skipped.json"]
    assert json.loads((out / "skipped.json").read_text()) == {"count": 0, "files": []}
    assert verify_dataset(out) == []
    (out / "images" / "img1.png").write_bytes(encode_png(np.zeros((4, 4, 3), np.uint8)))
    assert verify_dataset(out) == ["images/img1.png: sha256 mismatch"]
    assert list(tmp_path.iterdir()) == [out]


def test_existing_output_needs_overwrite_and_is_swapped(tmp_path):
    out = _write(tmp_path / "ds", value=10)
    with pytest.raises(DataError, match="already exists.*--overwrite"):
        _write(out)
    _write(out, n=2, overwrite=True, value=50)
    ds = ImageDataset(out)
    assert ds.num_images == 2 and int(ds[0][0][0, 0, 0]) == 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_failure_inside_writer_leaves_nothing(tmp_path):
    out = tmp_path / "ds"
    with pytest.raises(RuntimeError):
        with DatasetWriter(out, 4, has_masks=False) as w:
            w.add("a", encode_png(np.zeros((4, 4, 3), np.uint8)), split="train")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_killed_process_leaves_only_tmp_which_readers_refuse_and_next_build_removes(tmp_path):
    out = tmp_path / "ds"
    code = (
        "import os, numpy as np\n"
        "from stylealign_core.data import DatasetWriter\n"
        "from stylealign_core.data.images import encode_png\n"
        f"w = DatasetWriter({str(out)!r}, 4, has_masks=False).__enter__()\n"
        "w.add('a', encode_png(np.zeros((4, 4, 3), np.uint8)), split='train')\n"
        "os._exit(9)\n")  # dies without cleanup, like SIGKILL
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 9
    leftovers = list(tmp_path.iterdir())
    assert len(leftovers) == 1 and ".tmp-" in leftovers[0].name and not out.exists()
    with pytest.raises(DataError, match="unfinished build"):
        ImageDataset(leftovers[0])
    _write(out)  # a later build cleans the dead process's temporary directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    assert remove_stale_dirs(out) == []


def test_empty_dataset_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no usable images.*1 inputs skipped.*x.png: broken"):
        with DatasetWriter(tmp_path / "ds", 4, has_masks=None) as w:
            w.skip("x.png", "broken")
            w.finish({})
    assert list(tmp_path.iterdir()) == []


def test_masks_auto_mode_fills_missing_masks(tmp_path):
    with DatasetWriter(tmp_path / "ds", 4, has_masks=None) as w:
        w.add("a", encode_png(np.zeros((4, 4, 3), np.uint8)), split="train")
        w.add("b", encode_png(np.zeros((4, 4, 3), np.uint8)),
              encode_png(np.zeros((4, 4), np.uint8)), split="test")
        out = w.finish({})
    ds = ImageDataset(out, with_masks=True)
    assert int(ds[0][2].min()) == 255 and int(ds[1][2].max()) == 0
    with DatasetWriter(tmp_path / "ds2", 4, has_masks=None) as w:
        w.add("a", encode_png(np.zeros((4, 4, 3), np.uint8)), split="train")
        out2 = w.finish({})
    assert not (out2 / "masks").exists() and not read_metadata(out2)["has_masks"]


def test_validation_errors(tmp_path):
    with pytest.raises(DataError, match="invalid image id"):
        check_id("../evil")
    with pytest.raises(DataError, match="power of two"):
        check_resolution(48)
    out = _write(tmp_path / "ds")
    meta = json.loads((out / "dataset.json").read_text())
    meta["format_version"] = 99
    (out / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="newer than this stylealign reads.*upgrade"):
        read_metadata(out)
    with pytest.raises(DataError, match="duplicate image id"):
        with DatasetWriter(tmp_path / "d3", 4, has_masks=False) as w:
            w.add("a", b"x", split="train")
            w.add("a", b"x", split="train")


def test_hash_split_is_stable_and_near_fraction():
    keys = [f"k{i}" for i in range(4000)]
    s = [hash_split(k, 0, 0.1) for k in keys]
    assert s == [hash_split(k, 0, 0.1) for k in keys]
    assert 0.08 < s.count("test") / len(s) < 0.12
    assert s != [hash_split(k, 1, 0.1) for k in keys]
    assert hash_split("1F600", 0, 0.1) == "test"  # pinned: changing the hash changes every split
