"""Training reads its data through the data set, one batch at a time: same run as from an in-memory
array, x-flips from the data set, labels reaching G and D (class-conditional training)."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from stylealign_core.checkpoints import load_checkpoint
from stylealign_core.data import DataError, DatasetWriter, ImageDataset
from stylealign_core.data.format import categorical
from stylealign_core.training.api import train_parent
from stylealign_core.training.build import build_networks
from stylealign_core.training.loop import train
from stylealign_core.training.sampler import ArraySource, as_source
from test_training import blobs, cfg, state

SHAPES = ["disc", "square", "ring"]


def labelled_dataset(path, n=12, seed=0, labels=True):
    images = blobs(n, seed=seed)
    names = [SHAPES[i % 3] for i in range(n)]
    with DatasetWriter(path, 16, has_masks=False) as writer:
        for i, img in enumerate(images):
            buf = io.BytesIO()
            Image.fromarray(img.transpose(1, 2, 0)).save(buf, format="PNG")
            writer.add(f"img{i:03d}", buf.getvalue(), split="train", shape=names[i])
        writer.finish({"name": path.name}, label_columns={"shape": categorical(names)} if labels else None)
    return path


def test_training_from_a_dataset_with_xflip_matches_the_in_memory_array(tmp_path):
    data = labelled_dataset(tmp_path / "data")
    streamed = ImageDataset(data, split="train", xflip=True, preload=False)
    assert len(streamed) == 24 and streamed._cache_images is None  # nothing decoded up front
    array = ImageDataset(data, split="train").images_array()
    in_memory = np.concatenate([array, array[..., ::-1]])  # what training did before: a flipped copy
    a = train(cfg(total_kimg=0.016), streamed, tmp_path / "streamed", progress=False)
    b = train(cfg(total_kimg=0.016), in_memory, tmp_path / "array", progress=False)
    for name in ("G", "D", "G_ema"):
        sa, sb = state(a[name]), state(b[name])
        assert all(torch.equal(sa[k], sb[k]) for k in sa), name
    assert (tmp_path / "streamed" / "reals.png").read_bytes() == (tmp_path / "array" / "reals.png").read_bytes()


def test_labels_of_the_dataset_reach_g_and_d(tmp_path):
    data = ImageDataset(labelled_dataset(tmp_path / "data"), split="train", labels=True)
    assert data.label_dim == 3
    known = {tuple((data[i][0].float() / 127.5 - 1).flatten().tolist()): data.get_label(i) for i in range(len(data))}
    config = cfg(total_kimg=0.008, augment="noaug")
    G, D = build_networks(config, 16, 3, 3)
    seen_d, seen_g = [], []
    D.register_forward_pre_hook(lambda mod, args: seen_d.append((args[0].detach().float(), args[1])))
    G.mapping.register_forward_pre_hook(lambda mod, args: seen_g.append(args[1]))

    class Parent:  # a conditional parent; deep copies keep the recording hooks
        networks = {"G": G, "D": D}

    result = train(config, data, tmp_path / "run", parent=Parent, progress=False)
    assert result["G"].c_dim == 3 and result["D"].c_dim == 3
    real_calls = 0
    for images, c in seen_d:
        assert c is not None and c.shape == (len(images), 3)
        for img, label in zip(images, c):
            want = known.get(tuple(img.flatten().tolist()))
            if want is not None:  # a real image: D sees its own label
                real_calls += 1
                assert torch.equal(label.cpu(), torch.from_numpy(want))
    assert real_calls >= 8
    assert seen_g and all(c is not None and torch.all(c.sum(1) == 1) for c in seen_g)  # one-hot labels to G


def test_cond_trains_a_conditional_model_through_the_api(tmp_path):
    config = cfg(total_kimg=0.008)
    config.cond = True  # TrainConfig.cond (bool, default False): read with getattr by the API
    result = train_parent(config, labelled_dataset(tmp_path / "data"), tmp_path / "run", progress=False)
    ckpt = load_checkpoint(result["checkpoint"] + ".json")
    assert ckpt.networks["G_ema"].c_dim == 3 and ckpt.networks["D"].c_dim == 3
    assert ckpt.metadata["recipe"]["label_dim"] == 3
    with pytest.raises(DataError, match=r"--cond"):
        train_parent(config, labelled_dataset(tmp_path / "plain", labels=False), tmp_path / "run2", progress=False)
    unconditional = train_parent(cfg(total_kimg=0.004), tmp_path / "data", tmp_path / "run3", progress=False)
    assert unconditional["G"].c_dim == 0


def test_a_stylegan2_ada_zip_with_labels_trains_conditionally(tmp_path):
    import json
    import zipfile
    path, labels = tmp_path / "data.zip", []
    with zipfile.ZipFile(path, "w") as zf:
        for i, img in enumerate(blobs(8)):
            buf = io.BytesIO()
            Image.fromarray(img.transpose(1, 2, 0)).save(buf, format="PNG")
            name = f"00000/img{i:08d}.png"
            zf.writestr(name, buf.getvalue())
            labels.append([name, i % 4])
        zf.writestr("dataset.json", json.dumps({"labels": labels}))
    config = cfg(total_kimg=0.004)
    config.cond = True
    result = train_parent(config, path, tmp_path / "run", progress=False)  # a zip has no train/test split
    assert result["G"].c_dim == 4 and result["D"].c_dim == 4


def test_bad_training_data_is_named():
    with pytest.raises(ValueError, match=r"uint8 \[N, C, R, R\], got float32"):
        as_source(np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"labels must be float \[N, c\] with N = 2"):
        ArraySource(np.zeros((2, 3, 8, 8), np.uint8), np.zeros((3, 1)))
    with pytest.raises(TypeError, match="lacks"):
        as_source([1, 2, 3])
