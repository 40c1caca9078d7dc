"""`stylealign data folder`: users' own images from a folder or zip, bad inputs, strict mode."""
import json
import shutil
import tarfile
import zipfile

import numpy as np
import pytest

from stylealign_core.data import DataError, ImageDataset, build_folder_dataset, read_manifest
from stylealign_core.data import convert as convert_mod
from test_data_helpers import write_mixed_folder

GOOD = {"cats/rgba.png", "cats/wide.jpg", "cats/gray.png", "dogs/palette.png", "dogs/cmyk.tif",
        "dogs/deep/i16.png", "top.bmp"}
BAD = {"bad/zero.png": "empty", "bad/notes.txt": "not an image",
       "bad/truncated.png": "corrupt or truncated", "bad/crc.png": "corrupt or truncated"}


@pytest.fixture
def mixed(tmp_path):
    write_mixed_folder(tmp_path / "in")
    return tmp_path / "in"


def test_folder_build_skips_bad_files_and_reports_them(mixed, tmp_path):
    out = build_folder_dataset(mixed, tmp_path / "out", 16, progress=False)
    meta = json.loads((out / "dataset.json").read_text())
    df = read_manifest(out)
    assert set(df["source"]) == GOOD and meta["num_images"] == len(GOOD)
    skipped = json.loads((out / "skipped.json").read_text())
    assert skipped["count"] == len(BAD) == meta["counts"]["skipped"]
    for entry in skipped["files"]:
        assert BAD[entry["name"]] in entry["reason"]
    assert meta["has_masks"]  # one RGBA input -> masks for all, full for the others
    assert meta["label_columns"]["class_name"]["classes"] == ["", "cats", "dogs"]
    row = df.set_index("source").loc["dogs/deep/i16.png"]
    assert row["id"] == "dogs__deep__i16" and row["class_name"] == "dogs"
    assert row["orig_mode"] == "I;16"
    ds = ImageDataset(out, with_masks=True, labels=["class_name"])
    assert ds.resolution == 16 and ds.label_dim == 3
    by_src = {s: i for i, s in enumerate(df["source"])}
    img, label, mask = ds[by_src["dogs/deep/i16.png"]]
    assert int(img.min()) == 255 and int(mask.min()) == 255    # 16-bit white stays white
    img, _, mask = ds[by_src["cats/rgba.png"]]
    assert tuple(img[:, 0, 0].tolist()) == (255, 255, 255) and int(mask[0, 0, 0]) == 0
    img, _, _ = ds[by_src["dogs/cmyk.tif"]]
    assert int(img.min()) == 255
    img, _, _ = ds[by_src["cats/gray.png"]]
    assert (img == 100).all()


def test_strict_names_the_bad_file(mixed, tmp_path):
    with pytest.raises(DataError, match=r"bad/crc\.png: corrupt.*drop --strict"):
        build_folder_dataset(mixed, tmp_path / "out", 16, strict=True, progress=False)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in"]


def test_zip_and_tgz_inputs_give_the_same_images_as_the_folder(mixed, tmp_path):
    zpath = tmp_path / "in.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for f in sorted(mixed.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(mixed).as_posix())
    tpath = tmp_path / "in.tgz"
    with tarfile.open(tpath, "w:gz") as t:
        t.add(mixed, arcname=".")
    a = build_folder_dataset(mixed, tmp_path / "a", 8, progress=False)
    b = build_folder_dataset(zpath, tmp_path / "b", 8, progress=False)
    c = build_folder_dataset(tpath, tmp_path / "c", 8, progress=False)
    da, db = read_manifest(a), read_manifest(b)
    assert list(da["sha256"]) == list(db["sha256"]) and list(da["id"]) == list(db["id"])
    dc = read_manifest(c)
    assert sorted(dc["sha256"]) == sorted(da["sha256"])


def test_build_is_deterministic(mixed, tmp_path):
    a = build_folder_dataset(mixed, tmp_path / "a", 8, progress=False, workers=1)
    b = build_folder_dataset(mixed, tmp_path / "b", 8, progress=False, workers=2)
    for name in ("manifest.parquet", "skipped.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    ja, jb = (json.loads((p / "dataset.json").read_text()) for p in (a, b))
    ja["name"] = jb["name"] = None
    assert ja == jb


def test_empty_and_missing_inputs_are_errors(tmp_path):
    (tmp_path / "only_bad").mkdir()
    (tmp_path / "only_bad" / "x.png").write_bytes(b"")
    with pytest.raises(DataError, match="no usable images.*x.png: empty"):
        build_folder_dataset(tmp_path / "only_bad", tmp_path / "out", 8, progress=False)
    assert not (tmp_path / "out").exists()
    with pytest.raises(DataError, match="input not found"):
        build_folder_dataset(tmp_path / "nope", tmp_path / "out", 8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no files"):
        build_folder_dataset(tmp_path / "empty", tmp_path / "out", 8)
    with pytest.raises(DataError, match="power of two"):
        build_folder_dataset(tmp_path / "only_bad", tmp_path / "out", 48)
    with pytest.raises(DataError, match="inside the input folder"):
        build_folder_dataset(tmp_path / "only_bad", tmp_path / "only_bad" / "out", 8)


def test_interrupted_build_leaves_no_output(mixed, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = convert_mod.images.square_resize

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(convert_mod.images, "square_resize", flaky)
    with pytest.raises(KeyboardInterrupt):
        build_folder_dataset(mixed, tmp_path / "out", 8, progress=False, workers=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_overwrite_replaces_existing(mixed, tmp_path):
    out = build_folder_dataset(mixed, tmp_path / "out", 8, progress=False)
    with pytest.raises(DataError, match="already exists"):
        build_folder_dataset(mixed, out, 8)
    shutil.rmtree(mixed / "dogs")
    build_folder_dataset(mixed, out, 16, overwrite=True, progress=False, masks="never")
    ds = ImageDataset(out)
    assert ds.resolution == 16 and ds.num_images == len(GOOD) - 3 and not ds.has_masks
    assert np.asarray(ds[0][0]).shape == (3, 16, 16)
