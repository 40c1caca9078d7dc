"""2-D convolution with cheap derivatives of every order (``conv2d``) and the resampling convs
built on it (``conv_up2``: transposed conv then blur; ``conv_down2``: blur then strided conv)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .fir import blur


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
