"""ImageDataset over the stylealign format and over stylegan2-ada-pytorch zips."""
import json
import zipfile

import numpy as np
import pytest
import torch

from stylealign_core.data import (DataError, DatasetWriter, ImageDataset, hash_split, make_loader,
                                  open_dataset)
from stylealign_core.data.images import encode_png
from test_data_helpers import make_stylegan_zip, png_bytes
from PIL import Image


@pytest.fixture
def small(tmp_path):
    """20 images 8x8 with an asymmetric pattern, masks, category + score columns."""
    rng = np.random.default_rng(0)
    with DatasetWriter(tmp_path / "ds", 8, has_masks=True) as w:
        for i in range(20):
            img = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            mask = np.zeros((8, 8), np.uint8)
            mask[:, :3] = 255
            w.add(f"im{i:02d}", encode_png(img), encode_png(mask),
                  split="test" if i % 4 == 0 else "train", category=["x", "y", "z"][i % 3],
                  score=float(i) / 10)
        w.finish({}, label_columns={"category": {"type": "categorical",
                                                 "classes": ["x", "y", "z"]}})
    return tmp_path / "ds"


def test_items_are_uint8_chw_and_labels_onehot(small):
    ds, meta = open_dataset(small, labels=["category", "score"])
    assert meta["num_images"] == 20 and len(ds) == 20 and ds.num_images == 20
    img, label = ds[5]
    assert img.dtype == torch.uint8 and img.shape == (3, 8, 8)
    assert label.dtype == torch.float32 and label.tolist() == [0, 0, 1, 0.5]
    assert ds.label_dim == 4 and ds.label_shape == [4] and ds.has_labels
    assert not ds.has_onehot_labels
    assert ds.image_shape == [3, 8, 8] and ds.resolution == 8
    assert ds.get_details(5)["id"] == "im05"
    ds_nl = ImageDataset(small)
    assert ds_nl[0][1].numel() == 0 and not ds_nl.has_labels
    assert ImageDataset(small, labels=True).label_dim == 3


def test_split_xflip_masks(small):
    test = ImageDataset(small, split="test", xflip=True, with_masks=True)
    assert test.num_images == 5 and len(test) == 10
    assert test.ids == ["im00", "im04", "im08", "im12", "im16"]
    img, _, mask = test[1]
    fimg, _, fmask = test[6]
    assert torch.equal(fimg, img.flip(-1)) and torch.equal(fmask, mask.flip(-1))
    assert int(mask[0, 0, 0]) == 255 and int(fmask[0, 0, 0]) == 0
    assert ImageDataset(small, split="train").num_images == 15
    with pytest.raises(DataError, match="unknown split"):
        ImageDataset(small, split="val")


def test_lazy_and_preloaded_agree(small):
    a = ImageDataset(small, preload=True, with_masks=True)
    b = ImageDataset(small, preload=False, with_masks=True)
    assert b._cache_images is None
    for i in (0, 7, 19):
        for x, y in zip(a[i], b[i]):
            assert torch.equal(x, y)


def test_shards_cover_everything_once(small):
    ds = ImageDataset(small, preload=False)
    shards = [ds.shard(i, 3) for i in range(3)]
    assert [s.num_images for s in shards] == [7, 7, 6]
    assert sum((s.ids for s in shards), []) == ds.ids
    shards[1].preload()  # a view loads only its own images, the parent stays lazy
    assert ds._cache_images is None and len(shards[1]._cache_images) == 7
    assert torch.equal(shards[1][0][0], ds[7][0])
    with pytest.raises(DataError, match="invalid shard"):
        ds.shard(3, 3)
    test_shard = ImageDataset(small, split="test").shard(1, 2)
    assert test_shard.ids == ["im12", "im16"]


def test_loader_batches(small):
    ds = ImageDataset(small, labels=["category"])
    batches = list(make_loader(ds, 8, seed=1))
    assert len(batches) == 2 and batches[0][0].shape == (8, 3, 8, 8)
    again = list(make_loader(ds, 8, seed=1))
    assert torch.equal(batches[0][0], again[0][0])


def test_stylegan_zip_with_int_labels(tmp_path):
    z = make_stylegan_zip(tmp_path / "sg.zip", n=7, res=8, labels="int")
    ds, meta = open_dataset(z, labels=True)
    assert ds.kind == "stylegan-zip" and meta["resolution"] == 8 and ds.num_images == 7
    img, label = ds[4]
    assert img.shape == (3, 8, 8) and img.dtype == torch.uint8
    assert label.tolist() == [0, 1, 0] and ds.has_onehot_labels and ds.label_dim == 3
    with zipfile.ZipFile(z) as zf:
        ref = np.asarray(Image.open(zf.open("00000/img00000004.png"))).transpose(2, 0, 1)
    assert (img.numpy() == ref).all()
    assert ImageDataset(z).label_dim == 0
    with pytest.raises(DataError, match="has no split"):
        ImageDataset(z, split="train")
    shard = ds.shard(1, 2)
    assert shard.num_images == 3 and torch.equal(shard[0][0], ds[4][0])


def test_stylegan_zip_lazy_in_worker_processes(tmp_path):
    z = make_stylegan_zip(tmp_path / "sg.zip", n=8, res=8, labels=None)
    ds = ImageDataset(z, preload=False)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2)
    got = torch.cat([b[0] for b in loader])
    assert torch.equal(got, torch.from_numpy(ImageDataset(z).images_array()))


def test_stylegan_zip_variants(tmp_path):
    ds = ImageDataset(make_stylegan_zip(tmp_path / "f.zip", n=3, labels="float"), labels=True)
    assert ds[2][1].tolist() == [2.0, -2.0] and not ds.has_onehot_labels
    gray = ImageDataset(make_stylegan_zip(tmp_path / "g.zip", n=3, mode="L", labels="absent"))
    assert gray.num_channels == 1 and gray[0][0].shape == (1, 8, 8)
    with pytest.raises(DataError, match="labels requested but the data set has none"):
        ImageDataset(tmp_path / "g.zip", labels=True)
    bad = tmp_path / "rect.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("a.png", png_bytes(Image.new("RGB", (8, 4))))
    with pytest.raises(DataError, match="not square"):
        ImageDataset(bad)
    mixed = tmp_path / "mixed.zip"
    with zipfile.ZipFile(mixed, "w") as zf:
        zf.writestr("a.png", png_bytes(Image.new("RGB", (8, 8))))
        zf.writestr("b.png", png_bytes(Image.new("RGB", (4, 4))))
    with pytest.raises(DataError, match=r"b\.png is 4x4, expected 8x8"):
        ImageDataset(mixed)


def test_stylegan_directory_layout(tmp_path):
    z = make_stylegan_zip(tmp_path / "sg.zip", n=4, labels="int")
    with zipfile.ZipFile(z) as zf:
        zf.extractall(tmp_path / "sgdir")
    ds = ImageDataset(tmp_path / "sgdir", labels=True)
    assert ds.kind == "stylegan-dir" and ds.num_images == 4 and ds.label_dim == 3


def test_not_a_dataset(tmp_path):
    with pytest.raises(DataError, match="not found"):
        ImageDataset(tmp_path / "nope")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "a.png").write_bytes(png_bytes(Image.new("RGB", (4, 4))))
    with pytest.raises(DataError, match="no dataset.json.*stylealign data"):
        ImageDataset(tmp_path / "plain")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="not a data set directory or zip"):
        ImageDataset(tmp_path / "x.txt")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "dataset.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(DataError, match="not of format"):
        ImageDataset(tmp_path / "other")


def test_hash_split_used_by_builders_is_reexported():
    assert hash_split("x", 0, 0.0) == "train" and hash_split("x", 0, 0.999999) == "test"
