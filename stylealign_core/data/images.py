"""Decode, convert, crop and resize images for the data sets (Pillow + NumPy).

Every input becomes an 8-bit RGB image composited on white, plus its alpha (0-255) as a foreground
mask when the input had transparency. Conversions:

* RGB, L, 1, P (palette), YCbCr, LAB, HSV, CMYK: converted to RGB by Pillow (CMYK naively, no ICC).
* RGBA, LA, PA, La, RGBa, and L/RGB/P with a ``transparency`` entry: RGB + alpha.
* 16-bit and 32-bit grey (``I;16``, ``I;16B``, ``I;16L``, ``I``): scaled from 0..65535 to 0..255
  (``I`` is clipped to 0..65535 first); ``F`` (float): values in [0, 1] are scaled by 255, otherwise
  clipped to 0..255.
* EXIF orientation is applied; animated images use their first frame.

Resizing centre-crops to a square (the shorter side) and resamples with Lanczos the colour
composited on white (identical to resampling alpha-premultiplied colour, then compositing), so no
dark or coloured fringes leak in from transparent pixels; the alpha is resampled on its own.
Inputs that are corrupt, truncated, empty or not images raise
:class:`BadImage` with a short reason.
"""
from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

RESAMPLE = Image.Resampling.LANCZOS
_ALPHA_MODES = {"RGBA", "LA", "PA", "La", "RGBa"}
_HIGH_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


class BadImage(ValueError):
    """An input file is not a usable image; ``str(err)`` is the reason (no file name)."""


def open_image(data: bytes) -> Image.Image:
    """Fully decode ``data`` (the bytes of one file) and return the first frame, oriented.

    Raises :class:`BadImage` for empty, non-image, corrupt, truncated or oversized input.
    """
    if len(data) == 0:
        raise BadImage("empty file (0 bytes)")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise BadImage("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set, truncated files could not be "
                       "detected; unset it")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                probe.verify()
            img = Image.open(io.BytesIO(data))
            img.load()
    except UnidentifiedImageError:
        raise BadImage("not an image (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadImage(f"image too large ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        msg = str(exc) or type(exc).__name__
        raise BadImage(f"corrupt or truncated image ({msg})") from None
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block must not lose an otherwise good image
        pass
    if img.width < 1 or img.height < 1:
        raise BadImage(f"image has no pixels ({img.width}x{img.height})")
    return img


def _high_bit_to_l(img: Image.Image) -> Image.Image:
    a = np.asarray(img)
    if img.mode == "F":
        a = a.astype(np.float64)
        a = a * 255.0 if np.nanmax(a) <= 1.0 else a
        a = np.nan_to_num(a)
    else:
        a = np.clip(a.astype(np.float64), 0, 65535) / 257.0
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")


def to_rgb_alpha(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """``(rgb uint8 [H,W,3], alpha uint8 [H,W] or None)`` of any Pillow image (see module doc).

    ``rgb`` is NOT composited yet: where alpha is 0 its colour is meaningless.
    """
    mode = img.mode
    if mode in _HIGH_BIT_MODES or mode == "F":
        img, mode = _high_bit_to_l(img), "L"
    has_alpha = mode in _ALPHA_MODES or (mode in {"P", "L", "RGB", "1"} and
                                         "transparency" in img.info)
    if has_alpha:
        rgba = np.asarray(img.convert("RGBA"))
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    return np.asarray(img.convert("RGB")), None


def center_crop_box(width: int, height: int) -> tuple[int, int, int, int]:
    """Box ``(left, top, right, bottom)`` of the centred square of side ``min(width, height)``."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def composite_on_white(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """uint8 RGB over a white background (``alpha`` None: ``rgb`` unchanged)."""
    if alpha is None:
        return rgb
    a = alpha.astype(np.float32)[..., None] / 255.0
    out = rgb.astype(np.float32) * a + 255.0 * (1.0 - a)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def square_resize(rgb: np.ndarray, alpha: np.ndarray | None,
                  size: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Centre-crop to a square, resize to ``size`` and composite on white.

    Returns ``(rgb uint8 [size,size,3] on white, alpha uint8 [size,size] or None)``. An input that
    already is ``size`` x ``size`` is only composited (bit-exact).

    Compositing on white is linear in (premultiplied colour, alpha), so resampling the composited
    image equals resampling premultiplied colour and compositing afterwards with the resampled
    alpha: transparent pixels (whatever colour they store) add nothing but white, no dark fringes.
    The mask is the alpha resampled on its own (clipped to 0..255).
    """
    h, w = rgb.shape[:2]
    flat = composite_on_white(rgb, alpha)
    if (h, w) == (size, size):
        return flat, alpha
    box = center_crop_box(w, h)
    out = np.asarray(Image.fromarray(flat, "RGB").resize((size, size), RESAMPLE, box=box))
    if alpha is None:
        return out, None
    mask = np.asarray(Image.fromarray(alpha, "L").resize((size, size), RESAMPLE, box=box))
    return out, mask


def load_square(data: bytes, size: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode ``data`` and return it as ``size`` x ``size`` RGB on white plus its alpha mask."""
    rgb, alpha = to_rgb_alpha(open_image(data))
    return square_resize(rgb, alpha, size)


def encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of a uint8 [H,W] (L) or [H,W,3] (RGB) array (deterministic for a given Pillow)."""
    mode = "L" if array.ndim == 2 else {1: "L", 3: "RGB"}[array.shape[2]]
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array), mode).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def decode_array(data: bytes, channels: int | None = None) -> np.ndarray:
    """uint8 [H,W,C] of stored data set image bytes (C = ``channels`` or the file's own: 1 or 3).

    Images with transparency are composited on white; any other mode converts as in the module doc.
    """
    img = Image.open(io.BytesIO(data))
    if img.mode == "RGB" and channels in (None, 3):
        return np.asarray(img)
    if img.mode == "L" and channels in (None, 1):
        return np.asarray(img)[..., None]
    rgb, alpha = to_rgb_alpha(img)
    rgb = composite_on_white(rgb, alpha)
    if channels == 1 or (channels is None and img.mode in {"L", "1", "F"} | _HIGH_BIT_MODES):
        return np.asarray(Image.fromarray(rgb, "RGB").convert("L"))[..., None]
    return rgb
