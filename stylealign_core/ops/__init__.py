"""Low-level StyleGAN2 ops in plain PyTorch: FIR resampling, bias+activation, modulated convolution.

Everything here is a reference implementation written with standard torch ops, so it runs on any
device without custom CUDA/C++ extensions. The numerics follow stylegan2-ada-pytorch (filter
normalisation, padding conventions, activation gains), so weights imported from official
checkpoints produce the same images.

Conventions:
  * A resampling filter is a normalised 2-D FIR kernel (``setup_filter([1, 3, 3, 1])``).
  * ``upfirdn2d(x, f, up, down, padding, gain)``: zero-insert upsample by ``up``, pad (negative =
    crop), convolve with ``f``, keep every ``down``-th pixel. The specialised helpers below are the
    fast paths used by the networks.

Modules: ``fir`` (resampling filters), ``conv`` (conv2d with cheap higher derivatives, up/down convs),
``activation`` (bias_act, scale_bias_act, pixel norm), ``modulated`` (modulated conv, channels_last).
"""
from .activation import LRELU_GAIN, LRELU_SLOPE, bias_act, normalize_2nd_moment, scale_bias_act
from .conv import conv2d, conv_down2, conv_up2
from .fir import blur, setup_filter, upfirdn2d, upsample2d
from .modulated import demod_coefficients, modulated_conv2d, to_channels_last, use_channels_last

__all__ = ["LRELU_GAIN", "LRELU_SLOPE", "bias_act", "blur", "conv2d", "conv_down2", "conv_up2",
           "demod_coefficients", "modulated_conv2d", "normalize_2nd_moment", "scale_bias_act", "setup_filter",
           "to_channels_last", "upfirdn2d", "upsample2d", "use_channels_last"]
