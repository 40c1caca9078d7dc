"""Image decoding, mode conversion, crop/resize with premultiplied alpha, bad-input detection."""
import io

import numpy as np
import pytest
from PIL import Image

from stylealign_core.data import images
from test_data_helpers import corrupt_png, gradient_rgb, png_bytes, rgba_disc


def test_rgba_is_composited_on_white_and_alpha_kept():
    rgb, alpha = images.load_square(png_bytes(rgba_disc(64)), 64)
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    assert alpha.shape == (64, 64) and alpha[0, 0] == 0 and alpha[32, 32] == 255
    assert tuple(rgb[0, 0]) == (255, 255, 255)          # transparent black -> white
    assert tuple(rgb[32, 32]) == (220, 40, 30)


def test_downsample_uses_premultiplied_alpha_no_dark_fringe():
    # Red disc on transparent BLACK: with straight alpha the edge pixels would darken.
    rgb, alpha = images.load_square(png_bytes(rgba_disc(64, (255, 0, 0))), 32)
    assert rgb.shape == (32, 32, 3) and alpha.shape == (32, 32)
    assert rgb[..., 0].min() >= 250                      # red channel stays ~255 everywhere
    edge = (alpha > 20) & (alpha < 235)
    assert edge.any()
    # On white, a partly covered red pixel is pink: G == B == 255 * (1 - a).
    g = rgb[..., 1][edge].astype(int)
    expected = np.rint(255 * (1 - alpha[edge] / 255.0)).astype(int)
    assert np.abs(g - expected).max() <= 6


@pytest.mark.parametrize("make, expect", [
    (lambda: Image.fromarray(np.full((16, 16), 65535, np.uint16)), 255),            # I;16
    (lambda: Image.fromarray(np.full((16, 16), 32896, np.uint16)), 128),            # I;16
    (lambda: Image.fromarray(np.full((16, 16), 40000, np.int32), "I"), 156),        # I
    (lambda: Image.fromarray(np.full((16, 16), 0.5, np.float32), "F"), 128),        # F
    (lambda: Image.new("CMYK", (16, 16), (0, 0, 0, 0)), 255),                       # CMYK white
    (lambda: Image.new("L", (16, 16), 77), 77),
    (lambda: Image.new("1", (16, 16), 1), 255),
    (lambda: gradient_rgb(16, 16).convert("P"), None),
])
def test_modes_convert_to_8bit_rgb(make, expect):
    img = make()
    rgb, alpha = images.to_rgb_alpha(img)
    assert rgb.dtype == np.uint8 and rgb.shape == (16, 16, 3) and alpha is None
    if expect is not None:
        assert abs(int(rgb[0, 0, 0]) - expect) <= 1 and (rgb[..., 0] == rgb[..., 2]).all()


def test_i16_png_roundtrip_through_file_bytes():
    data = png_bytes(Image.fromarray(np.full((8, 8), 65535, np.uint16)))
    rgb, alpha = images.load_square(data, 8)
    assert (rgb == 255).all() and alpha is None


def test_palette_with_transparency_and_la_give_alpha():
    p = Image.new("P", (8, 8), 0)
    p.putpalette([0, 0, 0, 10, 200, 10] + [0] * 762)
    p.putpixel((4, 4), 1)
    p.info["transparency"] = 0
    rgb, alpha = images.to_rgb_alpha(Image.open(io.BytesIO(png_bytes(p))))
    assert alpha is not None and alpha[0, 0] == 0 and alpha[4, 4] == 255
    la = Image.merge("LA", [Image.new("L", (8, 8), 50), Image.new("L", (8, 8), 128)])
    rgb, alpha = images.to_rgb_alpha(la)
    assert alpha is not None and alpha[0, 0] == 128
    out = images.composite_on_white(rgb, alpha)
    assert abs(int(out[0, 0, 0]) - round(50 * 128 / 255 + 255 * 127 / 255)) <= 1


def test_center_crop_and_resize_non_square():
    # Left third black, middle third white, right third black: the centre crop is all white.
    a = np.zeros((30, 90, 3), np.uint8)
    a[:, 30:60] = 255
    rgb, alpha = images.square_resize(a, None, 16)
    assert rgb.shape == (16, 16, 3) and alpha is None
    assert rgb[2:-2, 2:-2].min() >= 250
    assert images.center_crop_box(90, 30) == (30, 0, 60, 30)
    assert images.center_crop_box(31, 50) == (0, 9, 31, 40)


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"hello, not an image", "not an image"),
    (png_bytes(gradient_rgb(32, 32))[:150], "corrupt or truncated"),
    (corrupt_png(), "corrupt or truncated"),
])
def test_bad_inputs_raise_badimage(data, reason):
    with pytest.raises(images.BadImage, match=reason):
        images.open_image(data)


def test_encode_decode_roundtrip_is_exact_and_deterministic():
    a = np.asarray(gradient_rgb(12, 12))
    png = images.encode_png(a)
    assert png == images.encode_png(a)
    assert (images.decode_array(png) == a).all()
    g = images.decode_array(images.encode_png(a[..., 0]))
    assert g.shape == (12, 12, 1)


def test_parallel_conversion_matches_serial_and_keeps_order():
    from stylealign_core.data.convert import convert_many
    items = [(i, png_bytes(rgba_disc(24, (i, 255 - i, 7))) if i % 7 else b"", None)
             for i in range(100)]
    serial = list(convert_many(items, 16, workers=1))
    parallel = list(convert_many(iter(items), 16, workers=2))
    assert [k for k, _ in parallel] == list(range(100))
    assert serial == parallel
    assert parallel[0][1] == ("bad", "empty file (0 bytes)") and parallel[1][1][0] == "ok"
