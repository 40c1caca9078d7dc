"""The fast code paths of the networks equal the plain ones: the FIR blur with an explicit adjoint and
the conv2d with explicit input/weight-gradient Functions (first and second derivatives), the fused
epilogues, the 1x1 modulated conv as a batched matmul, channels_last against contiguous, bf16 against
fp32, and R1 / path-length double backward against plain autograd and against stylegan2-ada-pytorch."""
import os
import sys

import pytest
import torch

from stylealign_core import Discriminator, Generator, ops
from stylealign_core.layers import Conv2dLayer
from stylealign_core.precision import autocast

F64 = torch.float64


def _rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30)).item()


def _plain_blur(x, f, pad, gain=1.0, stride=1):
    """The generic upfirdn2d path: autograd's own depthwise-conv derivatives."""
    return ops.upfirdn2d(x, f, down=stride, padding=(pad, pad, pad, pad), gain=gain)


def _plain_upsample2d(x, f):
    fw = f.shape[-1]
    return ops.upfirdn2d(x, f, up=2, padding=((fw + 1) // 2, (fw - 2) // 2) * 2, gain=4.0)


def _plain_conv2d(x, weight, bias=None, stride=1, padding=0):
    return torch.nn.functional.conv2d(x, weight.to(x.dtype), None if bias is None else bias.to(x.dtype),
                                      stride=stride, padding=padding)


@pytest.fixture
def plain_ops(monkeypatch):
    """Swap the fast blur / upsample / conv for plain autograd paths (everything else unchanged)."""
    def apply():
        monkeypatch.setattr(ops, "blur", _plain_blur)
        monkeypatch.setattr(ops, "upsample2d", _plain_upsample2d)
        monkeypatch.setattr(ops, "conv2d", _plain_conv2d)
    return apply


@pytest.mark.parametrize("stride,padding,k", [(1, 1, 3), (2, 0, 3), (1, 0, 1), (2, 1, 3)])
@pytest.mark.parametrize("with_bias", [False, True])
def test_conv2d_equals_f_conv2d_with_derivatives(stride, padding, k, with_bias):
    x = torch.randn(2, 3, 7, 6, dtype=F64, requires_grad=True)
    w = torch.randn(4, 3, k, k, dtype=F64, requires_grad=True)
    b = torch.randn(4, dtype=F64, requires_grad=True) if with_bias else None
    inputs = (x, w) + ((b,) if with_bias else ())
    fast = lambda x, w, b=None: ops.conv2d(x, w, b, stride=stride, padding=padding)  # noqa: E731
    torch.testing.assert_close(fast(*inputs), _plain_conv2d(*inputs, stride=stride, padding=padding))
    assert torch.autograd.gradcheck(fast, inputs, fast_mode=True)
    assert torch.autograd.gradgradcheck(fast, inputs, fast_mode=True)


def test_conv2d_follows_autocast_and_skips_unwanted_grads(monkeypatch):
    calls = []
    real_dw = ops.conv._conv_dw
    monkeypatch.setattr(ops.conv, "_conv_dw", lambda *a: calls.append("dw") or real_dw(*a))
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    w = torch.randn(5, 4, 3, 3, requires_grad=True)
    with autocast("cpu", "bf16"):
        y = ops.conv2d(x, w * 1.0, padding=1)
    assert y.dtype == torch.bfloat16
    (gx,) = torch.autograd.grad(y.float().square().sum(), x, create_graph=True)
    assert gx.dtype == torch.float32
    assert calls == [], "R1's first pass (d/dx only) must not compute a weight gradient"
    gx.square().sum().backward()
    assert calls and w.grad is not None and w.grad.dtype == torch.float32
    ref = torch.nn.functional.conv2d(x.detach().bfloat16(), w.detach().bfloat16(), padding=1)
    assert _rel(y, ref) < 1e-2


@pytest.mark.parametrize("taps,pad,stride", [((1, 3, 3, 1), 2, 1), ((1, 3, 3, 1), 1, 2), ((1, 3, 3, 1), 1, 1),
                                             ((1, 3, 3, 1), 0, 2), ((1, 3, 3, 1), 5, 1), ((1, 2, 1), 3, 2),
                                             ((1, 1), 0, 2), ((1, 2, 1), 1, 1)])
def test_blur_equals_upfirdn2d_with_derivatives(taps, pad, stride):
    f = ops.setup_filter(taps).to(F64)
    x = torch.randn(1, 2, 7, 8, dtype=F64, requires_grad=True)
    y = ops.blur(x, f, pad=pad, stride=stride, gain=1.5)
    ref = _plain_blur(x, f, pad, gain=1.5, stride=stride)
    assert y.shape == ref.shape
    torch.testing.assert_close(y, ref)
    fn = lambda t: ops.blur(t, f, pad=pad, stride=stride, gain=1.5)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,), fast_mode=True)
    assert torch.autograd.gradgradcheck(fn, (x,), fast_mode=True)


@pytest.mark.parametrize("taps", [(1, 3, 3, 1), (1, 1), (1, 2, 1)])
def test_upsample2d_equals_upfirdn2d_with_derivatives(taps):
    f = ops.setup_filter(taps).to(F64)
    x = torch.randn(1, 2, 4, 5, dtype=F64, requires_grad=True)
    torch.testing.assert_close(ops.upsample2d(x, f), _plain_upsample2d(x, f))
    assert torch.autograd.gradgradcheck(lambda t: ops.upsample2d(t, f), (x,), fast_mode=True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("channels_last", [False, True])
def test_blur_keeps_dtype_and_layout(dtype, channels_last):
    f = ops.setup_filter([1, 3, 3, 1])
    x = torch.randn(2, 8, 16, 16, dtype=dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    with autocast("cpu", "bf16"):  # the blur runs in its input's dtype, autocast or not
        y = ops.blur(x, f, pad=1, stride=2)
    assert y.dtype == dtype
    (g,) = torch.autograd.grad(y.float().square().sum(), x)
    assert g.dtype == dtype and g.shape == x.shape
    ref = _plain_blur(x.detach().float(), f, 1, stride=2)
    assert _rel(y, ref) < (1e-6 if dtype == torch.float32 else 1e-2)


@pytest.mark.parametrize("act", ["linear", "lrelu"])
@pytest.mark.parametrize("gain", [1.0, 2 ** 0.5, -0.5])
@pytest.mark.parametrize("with_scale,with_noise,with_bias", [(1, 1, 1), (1, 0, 1), (0, 1, 0), (0, 0, 1), (0, 0, 0),
                                                            (1, 0, 0)])
@pytest.mark.parametrize("clamp", [None, 0.3])
def test_scale_bias_act_equals_unfused(act, gain, with_scale, with_noise, with_bias, clamp):
    x = torch.randn(3, 5, 4, 4, dtype=F64, requires_grad=True)
    scale = torch.rand(3, 5, dtype=F64, requires_grad=True) if with_scale else None
    noise = torch.randn(3, 1, 4, 4, dtype=F64, requires_grad=True) if with_noise else None
    bias = torch.randn(5, dtype=F64, requires_grad=True) if with_bias else None
    ref = x * scale[:, :, None, None] if with_scale else x
    ref = ref + noise if with_noise else ref
    ref = ops.bias_act(ref, bias, act=act, gain=gain, clamp=clamp)
    y = ops.scale_bias_act(x, scale, noise, bias, act=act, gain=gain, clamp=clamp)
    torch.testing.assert_close(y, ref)
    with torch.no_grad():  # the inference path (fused multiply-add)
        torch.testing.assert_close(ops.scale_bias_act(x, scale, noise, bias, act=act, gain=gain, clamp=clamp), ref)
    inputs = [t for t in (x, scale, noise, bias) if t is not None]
    for a, b in zip(torch.autograd.grad(y.square().sum(), inputs), torch.autograd.grad(ref.square().sum(), inputs)):
        torch.testing.assert_close(a, b)
    x0 = x.detach().clone()
    ops.scale_bias_act(x, scale, noise, bias, act=act, gain=gain, clamp=clamp)
    assert torch.equal(x.detach(), x0), "the input must never be modified in place"


@pytest.mark.parametrize("demodulate", [False, True])
@pytest.mark.parametrize("channels_last", [False, True])
def test_modulated_conv1x1_matmul_equals_grouped_conv(demodulate, channels_last):
    x = torch.randn(3, 6, 5, 5, dtype=F64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    w = torch.randn(4, 6, 1, 1, dtype=F64, requires_grad=True)
    s = torch.randn(3, 6, dtype=F64, requires_grad=True)
    y = ops.modulated_conv2d(x, w, s, demodulate=demodulate)
    ws = w[None] * s[:, None, :, None, None]
    if demodulate:
        ws = ws * (ws.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    ref = torch.nn.functional.conv2d(x.reshape(1, -1, 5, 5), ws.reshape(-1, 6, 1, 1), groups=3).reshape(3, 4, 5, 5)
    torch.testing.assert_close(y, ref)
    assert y.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    for a, b in zip(torch.autograd.grad(y.square().sum(), [x, w, s]), torch.autograd.grad(ref.square().sum(), [x, w, s])):
        torch.testing.assert_close(a, b)


def test_demod_coefficients_stay_float32_under_autocast():
    w, s = torch.randn(8, 4, 3, 3), torch.randn(2, 4)
    with autocast("cpu", "bf16"):
        d = ops.demod_coefficients(w, s)
    assert d.dtype == torch.float32
    torch.testing.assert_close(d, ops.demod_coefficients(w, s))


@pytest.mark.parametrize("down,k,act", [(1, 3, "lrelu"), (2, 3, "lrelu"), (2, 1, "linear"), (1, 1, "lrelu")])
@pytest.mark.parametrize("clamp", [None, 0.5])
def test_conv2d_layer_equals_unfolded(down, k, act, clamp):
    layer = Conv2dLayer(6, 5, kernel_size=k, down=down, activation=act, conv_clamp=clamp, bias=act == "lrelu").double()
    if layer.bias is not None:
        layer.bias.data.normal_()
    x = torch.randn(2, 6, 8, 8, dtype=F64)
    w = layer.weight * layer.weight_gain
    if down == 2:
        ref = ops.conv_down2(x, w, layer.resample_filter)
    else:
        ref = torch.nn.functional.conv2d(x, w, padding=k // 2)
    g = 0.7
    ref = ops.bias_act(ref, layer.bias, act=act, gain=layer.act_gain * g, clamp=None if clamp is None else clamp * g)
    torch.testing.assert_close(layer(x, gain=g), ref)


def _nets(res=16, **kw):
    g = dict(z_dim=32, w_dim=32, img_resolution=res, img_channels=3, mapping_layers=2, channel_base=256,
             channel_max=32, **kw)
    G = Generator(**g).double()
    D = Discriminator(img_resolution=res, img_channels=3, channel_base=256, channel_max=32, **kw).double()
    for p in list(G.parameters()) + list(D.parameters()):  # non-trivial biases, noise strengths
        if p.ndim <= 1:
            p.data.normal_(0, 0.5)
    return G, D


def _r1_grads(D, img):
    x = img.detach().requires_grad_(True)
    logits = D(x)
    (g,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    loss = g.square().sum(dim=[1, 2, 3]).mean() + logits.mean()
    return [logits] + list(torch.autograd.grad(loss, list(D.parameters())))


def _pl_grads(G, ws, noise):
    ws = ws.detach().requires_grad_(True)
    img = G.synthesis(ws, noise_mode="none", noise=noise)
    (g,) = torch.autograd.grad((img * torch.linspace(-1, 1, img.numel(), dtype=img.dtype).reshape(img.shape)).sum(),
                               ws, create_graph=True)
    loss = g.square().sum(2).mean().sqrt() + img.mean()
    return [img] + list(torch.autograd.grad(loss, list(G.parameters()), allow_unused=True))


def _assert_lists_close(a, b, rtol=1e-9):
    for x, y in zip(a, b):
        if x is None or y is None:
            assert x is None and y is None
            continue
        assert _rel(x, y) < rtol, _rel(x, y)


def test_r1_double_backward_equals_plain_autograd(plain_ops):
    _, D = _nets()
    img = torch.randn(4, 3, 16, 16, dtype=F64)
    fast = _r1_grads(D, img)
    plain_ops()
    _assert_lists_close(fast, _r1_grads(D, img))


def test_path_length_double_backward_equals_plain_autograd(plain_ops):
    G, _ = _nets()
    ws = torch.randn(2, G.num_ws, G.w_dim, dtype=F64)
    noise = {n: torch.randn(2, 1, int(n.split(".")[0][1:]), int(n.split(".")[0][1:]), dtype=F64)
             for n in [l.name for l in G.style_layout.layers] if not n.endswith("torgb")}
    fast = _pl_grads(G, ws, noise)
    plain_ops()
    _assert_lists_close(fast, _pl_grads(G, ws, noise), rtol=1e-6)  # the image path is float32 (ToRGB .float())


@pytest.mark.parametrize("measure", ["g", "d", "r1"])
def test_channels_last_equals_contiguous_fp32(measure):
    torch.manual_seed(1)
    G, D = _nets()
    G, D = G.float(), D.float()
    z = torch.randn(4, 32)
    img = torch.randn(4, 3, 16, 16)
    results = []
    for cl in (False, True):
        G.synthesis.channels_last = D.channels_last = cl
        if measure == "g":
            out = G(z, noise_mode="const")
            results.append([out] + list(torch.autograd.grad(out.square().sum(), list(G.parameters()))))
        elif measure == "d":
            out = D(img)
            results.append([out] + list(torch.autograd.grad(out.sum(), list(D.parameters()))))
        else:
            results.append(_r1_grads(D, img))
    _assert_lists_close(results[1], results[0], rtol=1e-5)


def test_bf16_training_grads_close_to_fp32():
    """bf16 autocast through the fast paths: image within ~2%, the whole gradient within ~10% (per-parameter
    gradients of the 4x4 layers are noisier in bf16 at these tiny widths, as they were before the fast paths)."""
    torch.manual_seed(2)
    G, D = _nets()
    G, D = G.float(), D.float()
    z = torch.randn(8, 32)
    params = list(G.parameters()) + list(D.parameters())

    def run(precision):
        with autocast("cpu", precision):
            img = G(z, noise_mode="const")
            logits = D(img)
        grads = torch.autograd.grad(logits.float().sum(), params)
        return img, torch.cat([g.flatten() for g in grads])

    (img16, g16), (img32, g32) = run("bf16"), run("fp32")
    assert img16.dtype == torch.float32
    assert _rel(img16, img32) < 0.03
    assert _rel(g16, g32) < 0.1


REFERENCE = os.environ.get("STYLEGAN2_ADA_PYTORCH")


@pytest.mark.skipif(not REFERENCE, reason="needs a stylegan2-ada-pytorch checkout named by $STYLEGAN2_ADA_PYTORCH")
@pytest.mark.parametrize("conv_clamp", [None, 0.5])
def test_r1_and_clamp_match_stylegan2_ada_pytorch(conv_clamp):
    sys.path.insert(0, REFERENCE)
    from training import networks as ref  # noqa: E402 (the reference checkout)

    kw = dict(c_dim=0, img_resolution=32, img_channels=3, channel_base=1024, channel_max=64, conv_clamp=conv_clamp)
    RD = ref.Discriminator(**kw)
    for p in RD.parameters():
        p.data.normal_(0, 0.5 if p.ndim <= 1 else 1.0)
    D = Discriminator(**kw)
    D.load_state_dict(RD.state_dict(), strict=True)
    img = torch.randn(4, 3, 32, 32)
    ours = _r1_grads(D, img)

    def ref_r1():
        x = img.detach().requires_grad_(True)
        logits = RD(x, torch.zeros(4, 0))
        (g,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
        loss = g.square().sum(dim=[1, 2, 3]).mean() + logits.mean()
        names = [n for n, _ in D.named_parameters()]
        return [logits] + list(torch.autograd.grad(loss, [dict(RD.named_parameters())[n] for n in names]))

    _assert_lists_close(ours, ref_r1(), rtol=1e-5)

    RG = ref.Generator(z_dim=64, w_dim=64, c_dim=0, img_resolution=32, img_channels=3,
                       mapping_kwargs=dict(num_layers=2),
                       synthesis_kwargs=dict(channel_base=1024, channel_max=64, conv_clamp=conv_clamp))
    for p in RG.parameters():
        p.data.normal_(0, 0.5 if p.ndim <= 1 else 1.0)
    G = Generator(z_dim=64, w_dim=64, img_resolution=32, img_channels=3, mapping_layers=2, channel_base=1024,
                  channel_max=64, conv_clamp=conv_clamp)
    G.load_state_dict(RG.state_dict(), strict=True)
    z = torch.randn(4, 64)
    a = RG(z, torch.zeros(4, 0), noise_mode="const", fused_modconv=False)
    b = G(z, noise_mode="const")
    assert _rel(b, a) < 1e-5
    names = [n for n, _ in G.named_parameters()]
    pa = torch.autograd.grad(a.square().sum(), [dict(RG.named_parameters())[n] for n in names])
    pb = torch.autograd.grad(b.square().sum(), [dict(G.named_parameters())[n] for n in names])
    _assert_lists_close(pb, pa, rtol=1e-4)


def test_auto_channels_last_default_and_plain_layouts_outside():
    G, D = _nets()
    assert G.synthesis.channels_last is None and D.channels_last is None  # auto
    assert ops.use_channels_last(None, "cpu") and not ops.use_channels_last(False, "cpu")
    assert not ops.use_channels_last(None, "cuda")  # CUDA fp32 (no autocast active): NCHW
    img = G(torch.randn(4, 32, dtype=F64), noise_mode="const")
    assert img.is_contiguous(), "the generator returns a plain NCHW image"
    x = torch.randn(4, 3, 16, 16, dtype=F64, requires_grad=True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    assert g.is_contiguous(), "R1 gradients keep the input's layout"
    g.square().sum().backward()
