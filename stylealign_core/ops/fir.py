"""FIR resampling (StyleGAN2's [1, 3, 3, 1] blur): a linear operator with an explicit adjoint, so
its derivatives of every order (R1, path-length regularisation) are one depthwise conv each.

``upfirdn2d(x, f, up, down, padding, gain)`` is the general reference (zero-insert upsample by ``up``,
pad (negative = crop), convolve with ``f``, keep every ``down``-th pixel); ``blur`` and ``upsample2d``
are the fast paths the networks use.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def setup_filter(taps=(1, 3, 3, 1), device=None) -> torch.Tensor:
    """Separable 1-D taps -> normalised 2-D FIR filter (sums to 1), as a float32 [k, k] tensor."""
    f = torch.as_tensor(taps, dtype=torch.float32, device=device)
    if f.ndim == 1:
        f = f[:, None] * f[None, :]
    return f / f.sum()


def _depthwise(x: torch.Tensor, f: torch.Tensor, gain: float, stride: int = 1) -> torch.Tensor:
    """Depthwise correlation of every channel of ``x`` with the (symmetric) 2-D filter ``f``."""
    channels = x.shape[1]
    kernel = (f * gain).to(x.dtype)[None, None].expand(channels, 1, *f.shape)
    return F.conv2d(x, kernel, stride=stride, groups=channels)


# ---- FIR filtering as a linear operator with an explicit adjoint -------------------------------------
# The blur is linear in x with a constant filter. Autograd's generic convolution backward would also
# serve it, but (a) its double backward (needed by R1 and path-length regularisation) falls back to one
# convolution per channel group, i.e. hundreds of tiny convs per blur, and (b) its strided depthwise
# backward is a slow kernel (bf16 especially). Here the backward is the adjoint operator and the
# adjoint's backward is the forward operator again, each one depthwise conv, for any derivative order.
# Both run in the dtype of their input (autocast off inside): a bf16 activation is blurred in bf16, the
# fp32 image path stays fp32.

def _fir_kernel(f: torch.Tensor, channels: int, gain: float, dtype: torch.dtype, flip: bool = False):
    k = f.flip([0, 1]) if flip else f
    return (k * gain).to(dtype)[None, None].expand(channels, 1, *f.shape)


def _conv_same_format(x: torch.Tensor, kernel: torch.Tensor, pad: int) -> torch.Tensor:
    """Depthwise stride-1 correlation; ``pad`` < 0 crops instead of padding."""
    y = F.conv2d(x, kernel, padding=max(pad, 0), groups=x.shape[1])
    if pad < 0:
        y = y[:, :, -pad:y.shape[2] + pad, -pad:y.shape[3] + pad]
    return y


def _blur_forward(x, f, pad, stride, gain):
    with torch.autocast(x.device.type, enabled=False):
        return F.conv2d(x, _fir_kernel(f, x.shape[1], gain, x.dtype), stride=stride, padding=pad,
                        groups=x.shape[1])


def _blur_adjoint(y, f, pad, stride, gain, in_size):
    """Adjoint of ``_blur_forward`` for an input of spatial size ``in_size`` (h, w): zero-insert by
    ``stride`` (plus the trailing rows/columns no window reached), then correlate with the flipped
    filter. For stride 1 this is a plain padded depthwise conv."""
    kh, kw = f.shape
    if kh != kw:
        raise ValueError("FIR filters here are square")
    with torch.autocast(y.device.type, enabled=False):
        if stride > 1:
            batch, channels, ho, wo = y.shape
            extra_h = in_size[0] + 2 * pad - kh - (ho - 1) * stride
            extra_w = in_size[1] + 2 * pad - kw - (wo - 1) * stride
            z = torch.empty([batch, channels, (ho - 1) * stride + 1 + extra_h, (wo - 1) * stride + 1 + extra_w],
                            dtype=y.dtype, device=y.device, memory_format=_memory_format(y)).zero_()
            z[:, :, :(ho - 1) * stride + 1:stride, :(wo - 1) * stride + 1:stride] = y
            y = z
        return _conv_same_format(y, _fir_kernel(f, y.shape[1], gain, y.dtype, flip=True), kh - 1 - pad)


def _memory_format(x: torch.Tensor):
    return torch.channels_last if x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last) \
        and not x.is_contiguous() else torch.contiguous_format


class _Blur(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, f, pad, stride, gain):
        ctx.save_for_backward(f)
        ctx.cfg = (pad, stride, gain, tuple(x.shape[2:]))
        return _blur_forward(x, f, pad, stride, gain)

    @staticmethod
    def backward(ctx, gy):
        (f,) = ctx.saved_tensors
        pad, stride, gain, in_size = ctx.cfg
        return _BlurAdjoint.apply(gy, f, pad, stride, gain, in_size), None, None, None, None


class _BlurAdjoint(torch.autograd.Function):
    @staticmethod
    def forward(ctx, y, f, pad, stride, gain, in_size):
        ctx.save_for_backward(f)
        ctx.cfg = (pad, stride, gain)
        return _blur_adjoint(y, f, pad, stride, gain, in_size)

    @staticmethod
    def backward(ctx, gx):
        (f,) = ctx.saved_tensors
        pad, stride, gain = ctx.cfg
        return _Blur.apply(gx, f, pad, stride, gain), None, None, None, None, None


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1,
              padding=(0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """General upsample -> pad -> FIR filter -> downsample (padding = x0, x1, y0, y1)."""
    batch, channels, height, width = x.shape
    if up > 1:
        x = x.reshape(batch, channels, height, 1, width, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(batch, channels, height * up, width * up)
    px0, px1, py0, py1 = padding
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0):x.shape[2] - max(-py1, 0), max(-px0, 0):x.shape[3] - max(-px1, 0)]
    # The filter is flipped for a true convolution; our filters are symmetric, flip kept for generality.
    x = _depthwise(x, f.flip([0, 1]), gain)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """2x FIR upsampling (used for the skip-generator's RGB path): upfirdn2d(x, f, up=2, gain=4) with
    padding ((fw + 1) // 2, (fw - 2) // 2). For an even-length filter this is exactly the adjoint of the
    stride-2 blur with padding fw/2 - 1, which has a cheap backward of every order."""
    fw = f.shape[-1]
    if fw % 2 == 0 and f.shape[0] == fw:
        return _BlurAdjoint.apply(x, f, fw // 2 - 1, 2, 4.0, (2 * x.shape[2], 2 * x.shape[3]))
    p0, p1 = (fw + 1) // 2, (fw - 2) // 2
    return upfirdn2d(x, f, up=2, padding=(p0, p1, p0, p1), gain=4.0)


def blur(x: torch.Tensor, f: torch.Tensor, pad: int, gain: float = 1.0, stride: int = 1) -> torch.Tensor:
    """Symmetric zero padding then FIR filtering, optionally strided (fast path of upfirdn2d).

    Runs in x's dtype; its backward (and the backward of that, for R1 / path-length penalties) is one
    depthwise conv each, see ``_Blur``."""
    return _Blur.apply(x, f, pad, stride, gain)
