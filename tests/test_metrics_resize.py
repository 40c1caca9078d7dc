"""The detector's input stage (resize to 299 as NVlabs' detector does, range) and the generator-side
quantisation/seeds: no detector needed."""
import numpy as np
import pytest
import torch

from stylealign_core.latents import z_from_seeds
from stylealign_core.metrics.resize import resize_like_official, to_detector_range, uint8_to_rgb
from stylealign_core.metrics.sampler import generated_batches, quantize


def _reference_resize(img: np.ndarray, size: int = 299) -> np.ndarray:
    """float64 bilinear, output pixel i sampled at input position i * W / size, edges clamped
    (TensorFlow 1 resize_bilinear, align_corners=False), written independently of the module."""
    _, h, w = img.shape

    def weights(n_in):
        pos = np.arange(size) * n_in / size
        lo = np.floor(pos).astype(int)
        frac = pos - lo
        mat = np.zeros((size, n_in))
        mat[np.arange(size), np.clip(lo, 0, n_in - 1)] += 1 - frac
        mat[np.arange(size), np.clip(lo + 1, 0, n_in - 1)] += frac
        return mat

    wy, wx = weights(h), weights(w)
    return np.stack([wy @ channel @ wx.T for channel in img.astype(np.float64)])


# Sample positions are float32 grid coordinates (as in the official detector): their rounding grows
# with the input size, hence the looser tolerance for a 512 px input.
@pytest.mark.parametrize("shape,atol", [((64, 64), 2e-3), ((32, 48), 2e-3), ((512, 400), 2e-2)])
def test_resize_matches_tf_legacy_bilinear(shape, atol):
    img = np.random.RandomState(0).randint(0, 256, (2, 3, *shape)).astype(np.uint8)
    ours = resize_like_official(torch.from_numpy(img).float()).numpy()
    assert ours.shape == (2, 3, 299, 299) and ours.dtype == np.float32
    for k in range(2):
        np.testing.assert_allclose(ours[k], _reference_resize(img[k]), atol=atol)


def test_resize_is_identity_at_299_and_keeps_sample_positions():
    img = torch.from_numpy(np.random.RandomState(1).randint(0, 256, (1, 3, 299, 299)).astype(np.float32))
    torch.testing.assert_close(resize_like_official(img), img, atol=1e-2, rtol=0)  # float32 grid rounding
    ramp = torch.arange(64, dtype=torch.float32).repeat(1, 3, 64, 1)  # value = column index
    out = resize_like_official(ramp)[0, 0, 0]
    expected = np.minimum(np.arange(299) * 64 / 299, 63)  # beyond the last column: clamped
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-3)


def test_range_and_channels():
    assert to_detector_range(torch.tensor([0.0, 128.0, 255.0])).tolist() == [-1.0, 0.0, 127 / 128]
    grey = torch.zeros(2, 1, 8, 8, dtype=torch.uint8)
    assert uint8_to_rgb(grey).shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match="uint8"):
        uint8_to_rgb(torch.zeros(2, 3, 8, 8))


def test_quantize_truncates_like_the_official_metrics():
    x = torch.tensor([-1.5, -1.0, -0.999, 0.0, 0.5, 1.0, 2.0])
    assert quantize(x).tolist() == [0, 0, 0, 128, 191, 255, 255]
    assert quantize(x).dtype == torch.uint8


def test_generated_images_use_the_projects_seed_convention(tiny_g_kwargs):
    """Metrics draw z exactly as `stylealign generate` and export do (latents.z_from_seeds)."""
    from stylealign_core import Generator
    G = Generator(**tiny_g_kwargs).eval()
    (batch,) = list(generated_batches(G, [42, 7], batch_size=2))
    with torch.no_grad():
        want = quantize(G(z_from_seeds([42, 7], G.z_dim), None, noise_mode="const"))
    assert torch.equal(batch, want)
    np.testing.assert_array_equal(z_from_seeds([42], 16)[0].numpy(), np.random.RandomState(42).randn(16).astype(np.float32))
