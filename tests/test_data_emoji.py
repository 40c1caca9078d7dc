"""Emoji builder and npm fetching on fake emoji-datasource packages and a fake `npm` client."""
import json

import numpy as np
import pytest

from stylealign_core.data import (STYLES, DataError, EmojiStyle, ImageDataset, build_emoji_dataset,
                                  fetch_npm_tarball, read_manifest, register_style)
from stylealign_core.data.emoji import emoji_records
from stylealign_core.data.npm_fetch import file_integrity
from test_data_helpers import (FAKE_EMOJI_JSON, GOOD_IDS, make_fake_npm, make_fake_package,
                               make_tgz)


@pytest.fixture
def fake_styles(tmp_path, monkeypatch):
    """Two npm styles (fake-a, fake-b) served by a fake npm, plus a folder style; isolated cache."""
    monkeypatch.setenv("STYLEALIGN_CACHE", str(tmp_path / "cache"))
    tgz = {}
    for vendor in ("a", "b"):
        root = make_fake_package(tmp_path / f"pkg-{vendor}", vendor=vendor)
        tgz[vendor] = make_tgz(root, tmp_path / f"emoji-datasource-{vendor}-1.0.0.tgz")
    npm = make_fake_npm(tmp_path / "bin", {f"emoji-datasource-{v}@1.0.0": p
                                           for v, p in tgz.items()})
    monkeypatch.setenv("STYLEALIGN_NPM", str(npm))
    added = []
    for vendor in ("a", "b"):
        added.append(register_style(EmojiStyle(
            key=f"fake-{vendor}", title=f"Fake {vendor}", package=f"emoji-datasource-{vendor}",
            version="1.0.0", image_paths=(f"package/img/{vendor}/64/{{image}}",),
            has_img_flag=f"has_img_{vendor}", license="CC0-1.0", attribution=f"Fake {vendor}.")))
    folder_pkg = make_fake_package(tmp_path / "pkg-folder", vendor="c", broken="missing")
    added.append(register_style(EmojiStyle(
        key="fake-folder", title="Fake folder", folder=str(folder_pkg / "package/img/c/64"),
        image_paths=("{unified}.png", "{image}"), metadata_from="fake-a",
        license="CC0-1.0", attribution="Fake folder style.")))
    yield {"tgz": tgz, "npm": npm, "tmp": tmp_path}
    for s in added:
        STYLES.pop(s.key, None)


def test_records_cover_bases_and_skin_tones():
    recs = emoji_records(FAKE_EMOJI_JSON)
    by_id = {r["id"]: r for r in recs}
    assert len(recs) == 6 + 5 + 1
    assert by_id["1F44B-1F3FD"]["skin_tone"] == 3 and by_id["1F44B-1F3FD"]["base_id"] == "1F44B"
    assert by_id["1F44B-1F3FD"]["name"] == "WAVING HAND SIGN: MEDIUM SKIN TONE"
    two = by_id["1FAF1-1F3FB-200D-1FAF2-1F3FF"]
    assert (two["skin_tone"], two["skin_tone_2"], two["base_id"]) == (1, 5, "1F91D")
    assert by_id["1F600"]["skin_tone"] == 0 and by_id["1F600"]["category"] == "Smileys & Emotion"


def test_build_from_fake_npm_package(fake_styles):
    out = build_emoji_dataset("fake-a", fake_styles["tmp"] / "a64", progress=False)
    meta = json.loads((out / "dataset.json").read_text())
    df = read_manifest(out)
    assert list(df["id"]) == GOOD_IDS
    for col in ("id", "name", "category", "subcategory", "skin_tone", "base_id", "split",
                "sha256", "mask_sha256"):
        assert col in df.columns
    assert meta["counts"]["skipped"] == 1 and meta["source"]["not_in_style"] == 1
    skipped = json.loads((out / "skipped.json").read_text())
    assert skipped["files"][0]["name"] == "package/img/a/64/0023-fe0f-20e3.png"
    assert meta["source"]["integrity"] == file_integrity(fake_styles["tgz"]["a"])
    assert meta["split"] == {"method": "hash", "key": "base_id", "seed": 0, "test_fraction": 0.1}
    assert set(meta["label_columns"]) == {"category", "subcategory", "skin_tone"}
    # every skin-tone variant is on the side of its base emoji
    assert (df.groupby("base_id")["split"].nunique() == 1).all()
    assert "Fake a." in (out / "ATTRIBUTION.txt").read_text()
    assert "MIT" in (out / "ATTRIBUTION.txt").read_text()
    ds = ImageDataset(out, with_masks=True)
    img, label, mask = ds[0]
    assert img.shape == (3, 64, 64) and mask.shape == (1, 64, 64) and label.numel() == 0
    assert tuple(img[:, 0, 0].tolist()) == (255, 255, 255) and int(mask[0, 32, 32]) == 255


def test_strict_refuses_the_corrupt_image(fake_styles):
    with pytest.raises(DataError, match=r"0023-fe0f-20e3\.png of emoji-datasource-a@1\.0\.0"):
        build_emoji_dataset("fake-a", fake_styles["tmp"] / "x", strict=True, progress=False)
    assert not (fake_styles["tmp"] / "x").exists()


def test_two_styles_share_ids_and_split_resolution_32(fake_styles):
    tmp = fake_styles["tmp"]
    a = build_emoji_dataset("fake-a", tmp / "a", resolution=32, seed=3, test_fraction=0.5,
                            progress=False)
    b = build_emoji_dataset("fake-b", tmp / "b", resolution=32, seed=3, test_fraction=0.5,
                            progress=False)
    c = build_emoji_dataset("fake-folder", tmp / "c", resolution=32, seed=3, test_fraction=0.5,
                            progress=False)
    da, db, dc = read_manifest(a), read_manifest(b), read_manifest(c)
    assert list(da["id"]) == list(db["id"]) == list(dc["id"])
    assert list(da["split"]) == list(db["split"]) == list(dc["split"])
    assert {"train", "test"} == set(da["split"])
    assert list(da["sha256"]) != list(db["sha256"])
    assert json.loads((c / "skipped.json").read_text())["files"][0]["reason"].startswith(
        "image missing")
    ds = ImageDataset(a, split="test")
    assert ds.resolution == 32 and ds[0][0].shape == (3, 32, 32)
    assert set(ds.ids) == set(da[da["split"] == "test"]["id"])


def test_npm_cache_reused_and_verified(fake_styles, monkeypatch):
    cache = fake_styles["tmp"] / "cache" / "npm"
    p = fetch_npm_tarball("emoji-datasource-a", "1.0.0")
    assert p == cache / "emoji-datasource-a-1.0.0.tgz" and p.exists()
    log = fake_styles["tmp"] / "bin" / "calls.log"
    assert len(log.read_text().splitlines()) == 1
    monkeypatch.setenv("STYLEALIGN_NPM", "/nonexistent/npm")  # cached: npm not needed
    assert fetch_npm_tarball("emoji-datasource-a", "1.0.0") == p
    with pytest.raises(DataError, match="integrity mismatch"):
        fetch_npm_tarball("emoji-datasource-a", "1.0.0", integrity="sha512-AAAA")
    p.write_bytes(p.read_bytes()[:-10])  # a damaged cache file is detected
    with pytest.raises(DataError, match="cached tarball.*integrity mismatch.*delete the file"):
        fetch_npm_tarball("emoji-datasource-a", "1.0.0")


def test_npm_errors_are_clear(fake_styles, monkeypatch, tmp_path):
    tgz = fake_styles["tgz"]
    monkeypatch.setenv("STYLEALIGN_NPM", str(make_fake_npm(tmp_path / "b1", {}, "fail")))
    with pytest.raises(DataError, match="npm pack emoji-datasource-a@1.0.0` failed.*404"):
        fetch_npm_tarball("emoji-datasource-a", "1.0.0")
    bad = make_fake_npm(tmp_path / "b2", {"emoji-datasource-a@1.0.0": tgz["a"]}, "badhash")
    monkeypatch.setenv("STYLEALIGN_NPM", str(bad))
    with pytest.raises(DataError, match="integrity reported by npm.*integrity mismatch"):
        fetch_npm_tarball("emoji-datasource-a", "1.0.0")
    ok = make_fake_npm(tmp_path / "b3", {"emoji-datasource-a@1.0.0": tgz["a"]})
    monkeypatch.setenv("STYLEALIGN_NPM", str(ok))
    with pytest.raises(DataError, match="expected the pinned"):
        fetch_npm_tarball("emoji-datasource-a", "1.0.0",
                          integrity=file_integrity(tgz["b"]))
    assert not any(p.suffix == ".tgz" for p in (tmp_path / "cache" / "npm").iterdir())
    monkeypatch.delenv("STYLEALIGN_NPM")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    with pytest.raises(DataError, match="npm client was not found.*install Node.js"):
        fetch_npm_tarball("emoji-datasource-a", "1.0.0")


def test_unknown_style_and_existing_output(fake_styles):
    with pytest.raises(DataError, match="unknown emoji style 'nope'.*google"):
        build_emoji_dataset("nope", fake_styles["tmp"] / "n")
    out = build_emoji_dataset("fake-a", fake_styles["tmp"] / "a", progress=False)
    with pytest.raises(DataError, match="already exists"):
        build_emoji_dataset("fake-a", out)
    with pytest.raises(DataError, match="exactly one of package= or folder="):
        EmojiStyle(key="x", title="x", image_paths=("{image}",), license="x", attribution="x")
    assert np.isfinite(ImageDataset(out).images_array().mean())


def test_emoji_sets_are_never_upsampled(tmp_path):
    with pytest.raises(DataError, match=r"emoji images are 64 px; resolution 128 is not one of 64, 32, 16"):
        build_emoji_dataset("google", tmp_path / "e128", resolution=128)
    assert not (tmp_path / "e128").exists()
