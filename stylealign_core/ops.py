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
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


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


# ---- 2-D convolution with first-class higher derivatives ---------------------------------------------
# y = conv(x, w) has two linear adjoints: dx = I(gy, w) and dw = W(x, gy). Their derivatives are again
# conv, I and W, so a closed set of three autograd Functions gives every derivative order with the
# standard (mkldnn / cuDNN) forward, backward-data and backward-weights kernels. Autograd's generic
# double backward computes the weight term as a convolution over batch-transposed copies instead, which on
# CPU costs several times the backward-weights kernel (about a fifth of an R1 step). A gradient that
# this backward pass will not use (R1's first pass only wants d/dx) is not computed.

def _conv_args(stride, padding):
    return [stride, stride], [padding, padding], [1, 1], False, [0, 0], 1


def _conv_dx(g, w, x_like, stride, padding):
    return torch.ops.aten.convolution_backward(g, x_like, w, None, *_conv_args(stride, padding),
                                               [True, False, False])[0]


def _conv_dw(x, g, w_like, stride, padding):
    return torch.ops.aten.convolution_backward(g, x, w_like, None, *_conv_args(stride, padding),
                                               [False, True, False])[1]


def _wanted(ctx, i: int) -> bool:
    """Will the running backward pass use the gradient of input ``i``?"""
    if not ctx.needs_input_grad[i]:
        return False
    node = ctx.next_functions[i][0]
    try:
        return node is None or bool(torch._C._will_engine_execute_node(node))
    except (RuntimeError, AttributeError):  # a leaf under autograd.grad(), or an older torch: compute it
        return True


class _Conv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding):
        ctx.save_for_backward(x, w)
        ctx.cfg = (stride, padding)
        with torch.autocast(x.device.type, enabled=False):  # also when re-entered from a backward pass
            return F.conv2d(x, w, b, stride=stride, padding=padding)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        stride, padding = ctx.cfg
        want = [_wanted(ctx, i) for i in range(3)]
        if not torch.is_grad_enabled():  # plain backward: one fused kernel call
            gx, gw, gb = torch.ops.aten.convolution_backward(gy, x, w, [w.shape[0]] if want[2] else None,
                                                             *_conv_args(stride, padding), want)
            return gx, gw, gb, None, None
        gx = _ConvDx.apply(gy, w, x, stride, padding) if want[0] else None
        gw = _ConvDw.apply(x, gy, w, stride, padding) if want[1] else None
        gb = gy.sum(dim=[0, 2, 3]) if want[2] else None
        return gx, gw, gb, None, None


class _ConvDx(torch.autograd.Function):
    """dx = I(g, w): the input gradient of conv(x, w); ``x_like`` gives its shape and layout."""

    @staticmethod
    def forward(ctx, g, w, x_like, stride, padding):
        ctx.save_for_backward(g, w)
        ctx.cfg = (stride, padding)
        return _conv_dx(g, w, x_like, stride, padding)

    @staticmethod
    def backward(ctx, ggx):
        g, w = ctx.saved_tensors
        stride, padding = ctx.cfg
        dg = _Conv.apply(ggx, w, None, stride, padding) if _wanted(ctx, 0) else None
        dw = _ConvDw.apply(ggx, g, w, stride, padding) if _wanted(ctx, 1) else None
        return dg, dw, None, None, None


class _ConvDw(torch.autograd.Function):
    """dw = W(x, g): the weight gradient of conv(x, w) for output gradient g; ``w_like`` gives its shape."""

    @staticmethod
    def forward(ctx, x, g, w_like, stride, padding):
        ctx.save_for_backward(x, g)
        ctx.cfg = (stride, padding)
        return _conv_dw(x, g, w_like, stride, padding)

    @staticmethod
    def backward(ctx, ggw):
        x, g = ctx.saved_tensors
        stride, padding = ctx.cfg
        dx = _ConvDx.apply(g, ggw, x, stride, padding) if _wanted(ctx, 0) else None
        dg = _Conv.apply(x, ggw, None, stride, padding) if _wanted(ctx, 1) else None
        return dx, dg, None, None, None


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride: int = 1,
           padding: int = 0) -> torch.Tensor:
    """F.conv2d (groups 1, symmetric int stride/padding) with cheap derivatives of every order.

    Follows autocast like F.conv2d: under an active autocast, x, weight and bias are cast to its dtype
    first (outside the autograd Function, so the parameter gradients come back in their own dtype)."""
    if torch.is_autocast_enabled(x.device.type):
        dtype = torch.get_autocast_dtype(x.device.type)
        x, weight = x.to(dtype), weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
    return _Conv.apply(x, weight.to(x.dtype), None if bias is None else bias.to(x.dtype), int(stride), int(padding))


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


def bias_act(x: torch.Tensor, bias: torch.Tensor | None, act: str = "linear", gain: float = 1.0,
             clamp: float | None = None, dim: int = 1) -> torch.Tensor:
    """x + bias, then activation, times gain, then optional symmetric clamp (stylegan2 ``bias_act``)."""
    if bias is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + bias.to(x.dtype).reshape(shape)
    if act == "lrelu":
        x = F.leaky_relu(x, LRELU_SLOPE)
    elif act != "linear":
        raise ValueError(f"unknown activation {act!r} (expected 'linear' or 'lrelu')")
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def scale_bias_act(x: torch.Tensor, scale: torch.Tensor | None = None, noise: torch.Tensor | None = None,
                   bias: torch.Tensor | None = None, act: str = "linear", gain: float = 1.0,
                   clamp: float | None = None) -> torch.Tensor:
    """act(x * scale + noise + bias) * gain, then an optional symmetric clamp, in few passes.

    ``scale`` is [B, C] (per sample and channel, e.g. demodulation coefficients), ``noise`` broadcasts
    to x, ``bias`` is [C]. A positive ``gain`` is folded into scale, noise and bias before the
    activation (lrelu(g t) = g lrelu(t) for g > 0), so the epilogue is a multiply(-add), a bias add and
    an activation, the adds and the activation in place on the fresh tensor. (addcmul fuses the
    multiply and the noise add, but its autograd backward spends an extra full pass, so it is used for
    inference only.) Equal to ``bias_act`` of the unfused sum up to float rounding.
    """
    if act not in ("linear", "lrelu"):
        raise ValueError(f"unknown activation {act!r} (expected 'linear' or 'lrelu')")
    post = 1.0
    if gain <= 0:
        post, gain = gain, 1.0
    dtype = x.dtype
    s = None if scale is None else (scale * gain if gain != 1 else scale).to(dtype).reshape(*scale.shape, 1, 1)
    if s is None and gain != 1:
        s = gain
    n = None if noise is None else (noise * gain if gain != 1 else noise).to(dtype)
    b = None if bias is None else (bias * gain if gain != 1 else bias).to(dtype).reshape(1, -1, 1, 1)
    fresh = True
    if s is None:
        if n is not None:
            y = x + n
        elif b is not None:
            y, b = x + b, None
        else:
            y, fresh = x, False
    elif isinstance(s, torch.Tensor) and (n is not None or b is not None) and not _needs_grad(x, s):
        # inference: one fused multiply-add (autograd's addcmul backward would spend an extra full pass)
        if n is not None:
            y = torch.addcmul(n, x, s)
        else:
            y, b = torch.addcmul(b, x, s), None
    elif n is not None and not isinstance(s, torch.Tensor):
        y = torch.add(n, x, alpha=s)
    else:
        y = x * s
        if n is not None:
            y = y.add_(n)
    if b is not None:
        y = y.add_(b)
    if act == "lrelu":
        y = F.leaky_relu(y, LRELU_SLOPE, inplace=fresh)
        fresh = True
    if post != 1:
        y = y * post
    if clamp is not None:  # out of place: lrelu_'s backward needs its result
        y = y.clamp(-clamp, clamp)
    return y


def _needs_grad(*tensors) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def conv_up2(x: torch.Tensor, weight: torch.Tensor, f: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """3x3 conv with 2x upsampling: stride-2 transposed conv, then the FIR blur (gain 4)."""
    if groups == 1:
        w = weight.transpose(0, 1)
    else:  # [G*out, in, k, k] -> [G*in, out, k, k] for grouped transposed conv
        out_ch, in_ch, kh, kw = weight.shape
        w = weight.reshape(groups, out_ch // groups, in_ch, kh, kw).transpose(1, 2)
        w = w.reshape(groups * in_ch, out_ch // groups, kh, kw)
    x = F.conv_transpose2d(x, w.to(x.dtype), stride=2, groups=groups)
    fw, kw = f.shape[-1], weight.shape[-1]
    pad = (fw + 1) // 2 + kw // 2 - (kw - 1)  # = 1 for a 3x3 kernel and a 4-tap filter
    return blur(x, f, pad=pad, gain=4.0)


def conv_down2(x: torch.Tensor, weight: torch.Tensor, f: torch.Tensor,
               bias: torch.Tensor | None = None) -> torch.Tensor:
    """Conv (+ bias) with 2x downsampling: FIR blur, then a stride-2 conv (1x1 kernels: strided blur first)."""
    kw, fw = weight.shape[-1], f.shape[-1]
    if kw == 1:
        x = blur(x, f, pad=(fw - 1) // 2, stride=2)
        return conv2d(x, weight, bias)
    pad = kw // 2 + (fw - 1) // 2  # = 2 for 3x3 and a 4-tap filter
    x = blur(x, f, pad=pad)
    return conv2d(x, weight, bias, stride=2)


def _atleast_f32(t: torch.Tensor) -> torch.Tensor:
    """float16/bfloat16 -> float32; float32/float64 unchanged."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def demod_coefficients(weight: torch.Tensor, styles: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per-sample, per-output-channel demodulation: rsqrt(sum_{in,k} (w * s)^2 + eps), in float32
    (also under autocast).

    sum_{i,k} w[o,i,k]^2 s[b,i]^2 is computed as a [B, in] x [in, out] matmul instead of
    materialising the [B, out, in, k, k] modulated weight.
    """
    with torch.autocast(weight.device.type, enabled=False):
        wsq = _atleast_f32(weight).square().sum(dim=[2, 3])  # [out, in]
        return (_atleast_f32(styles).square() @ wsq.t().to(_atleast_f32(styles).dtype) + eps).rsqrt()  # [B, out]


def _modulated_conv1x1(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                       dcoefs: torch.Tensor | None) -> torch.Tensor:
    """1x1 modulated conv as one batched matmul with per-sample weights [B, out, in] (no pass over x to
    modulate it, and no grouped conv). Keeps x's memory layout (channels_last stays channels_last)."""
    batch, in_ch, h, w = x.shape
    wb = _atleast_f32(weight)[None, :, :, 0, 0] * _atleast_f32(styles)[:, None, :]  # [B, out, in]
    if dcoefs is not None:
        wb = wb * dcoefs[:, :, None]
    wb = wb.to(x.dtype)
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        y = torch.bmm(x.permute(0, 2, 3, 1).reshape(batch, h * w, in_ch), wb.transpose(1, 2))  # [B, HW, out]
        return y.reshape(batch, h, w, -1).permute(0, 3, 1, 2)
    return torch.bmm(wb, x.reshape(batch, in_ch, h * w)).reshape(batch, -1, h, w)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                     noise: torch.Tensor | None = None, up: int = 1, demodulate: bool = True,
                     resample_filter: torch.Tensor | None = None, fused: bool = False,
                     bias: torch.Tensor | None = None, act: str = "linear", gain: float = 1.0,
                     clamp: float | None = None) -> torch.Tensor:
    """StyleGAN2 modulated convolution of x [B, in, H, W] with weight [out, in, k, k], styles [B, in].

    ``fused=False`` (the CPU path, 1.4-1.9x faster there) scales activations instead of weights:
    one shared-weight conv for the whole batch. ``fused=True`` builds per-sample weights and runs a
    grouped conv, which is faster on GPUs at inference. Both give the same result up to rounding.
    1x1 kernels without upsampling (ToRGB) always run as one batched matmul with per-sample weights.

    The optional epilogue ``act(conv + noise + bias) * gain``, clamped to +-``clamp``, is applied in
    the same few passes as the demodulation (see ``scale_bias_act``); with the defaults (no bias,
    linear, gain 1, no clamp) the result is the modulated conv plus noise.
    """
    batch = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    dcoefs = demod_coefficients(weight, styles) if demodulate else None
    if kh == kw == 1 and up == 1:
        x = _modulated_conv1x1(x, weight, styles, dcoefs)
        return scale_bias_act(x, None, noise, bias, act, gain, clamp)
    if not fused:
        x = x * styles.to(x.dtype).reshape(batch, -1, 1, 1)
        if up == 2:
            x = conv_up2(x, weight, resample_filter)
        else:
            x = conv2d(x, weight, padding=kw // 2)
        return scale_bias_act(x, dcoefs, noise, bias, act, gain, clamp)
    w = weight[None].float() * styles.float().reshape(batch, 1, -1, 1, 1)
    if dcoefs is not None:
        w = w * dcoefs.reshape(batch, -1, 1, 1, 1)
    w = w.reshape(batch * out_ch, in_ch, kh, kw).to(x.dtype)
    x = x.reshape(1, batch * in_ch, *x.shape[2:])
    if up == 2:
        x = conv_up2(x, w, resample_filter, groups=batch)
    else:
        x = F.conv2d(x, w, padding=kw // 2, groups=batch)
    x = x.reshape(batch, out_ch, *x.shape[2:])
    return scale_bias_act(x, None, noise, bias, act, gain, clamp)


def use_channels_last(flag: bool | None, device_type: str) -> bool:
    """Resolve a network's ``channels_last`` setting: True/False as given; None (the default) = auto:
    channels_last on CPU (the faster layout there for convs, depthwise blurs and transposed convs, fp32
    and bf16 alike) and on CUDA under autocast (tensor cores); NCHW for CUDA fp32."""
    if flag is not None:
        return bool(flag)
    if device_type == "cpu":
        return True
    return torch.is_autocast_enabled(device_type)


class _ToChannelsLast(torch.autograd.Function):
    """x.contiguous(channels_last) whose gradient comes back in x's own layout (e.g. R1 gradients
    with respect to a plain NCHW image batch stay NCHW)."""

    @staticmethod
    def forward(ctx, x):
        ctx.fmt = _memory_format(x)
        return x.contiguous(memory_format=torch.channels_last)

    @staticmethod
    def backward(ctx, grad):
        return grad.contiguous(memory_format=ctx.fmt)


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """channels_last copy of a 4-D tensor (no copy if it already is); gradients keep x's layout."""
    if x.is_contiguous(memory_format=torch.channels_last):
        return x
    return _ToChannelsLast.apply(x)


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Pixel norm: x / sqrt(mean(x^2) + eps) along ``dim`` (applied to z and to label embeddings)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()
