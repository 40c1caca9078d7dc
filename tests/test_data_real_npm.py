"""The real emoji packages, fetched with npm (tarballs cached in $STYLEALIGN_CACHE/npm, default
~/.cache/stylealign/npm, so reruns need no network). Skipped only when npm is not installed."""
import shutil
import time

import pytest

from stylealign_core.data import ImageDataset, build_emoji_dataset, read_manifest, read_metadata


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_real_google_and_twitter_emoji(tmp_path):
    out = {s: build_emoji_dataset(s, tmp_path / s, progress=False)
           for s in ("google", "twitter")}
    man = {s: read_manifest(p) for s, p in out.items()}
    for s, df in man.items():
        meta = read_metadata(out[s])
        assert len(df) == 3786 and meta["counts"]["skipped"] == 0, s
        assert (df["skin_tone"] == 0).sum() == 1911 and (df["skin_tone"] > 0).sum() == 1875
        assert df["category"].nunique() == 10 and df["subcategory"].nunique() == 99  # 98 + Component/skin-tone
        assert (df.groupby("base_id")["split"].nunique() == 1).all()
        assert 0.07 < (df["split"] == "test").mean() < 0.13
        assert meta["source"]["integrity"].startswith("sha512-")
    g, t = man["google"], man["twitter"]
    assert list(g["id"]) == list(t["id"])
    assert list(g["split"]) == list(t["split"])
    assert "CC-BY 4.0" in (out["twitter"] / "ATTRIBUTION.txt").read_text()
    assert "Apache License" in (out["google"] / "LICENSE").read_text()
    t0 = time.perf_counter()
    ds = ImageDataset(out["google"], split="test", with_masks=True)
    assert time.perf_counter() - t0 < 10
    assert ds.num_images == (g["split"] == "test").sum()
    img, _, mask = ds[0]
    assert img.shape == (3, 64, 64) and mask.shape == (1, 64, 64)
    assert set(ImageDataset(out["twitter"], split="test").ids) == set(ds.ids)
