"""ADA augmentation pipe and controller (stylealign_core.training.augment). Runs in a few seconds on CPU."""
import math

import pytest
import torch

from stylealign_core.training.augment import (COLOR, GEOMETRIC, AdaController, AugmentPipe,
                                              augment_preset)


def _images(batch=8, channels=3, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, channels, size, size, generator=g) * 2 - 1


def _pipe(p=1.0, **kwargs):
    pipe = AugmentPipe(**kwargs)
    pipe.p.fill_(p)
    return pipe


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_p_zero_is_exact_identity():
    pipe = augment_preset("bgc")
    x = _images()
    assert float(pipe.p) == 0.0                 # starts at 0: ADA ramps it up
    out = pipe(x)
    assert out is x
    # a sample whose draw is the identity is passed through bit-exactly even when p > 0
    pipe.p.fill_(0.05)
    out = pipe(_images(batch=64), generator=_gen(1))
    x64 = _images(batch=64)
    same = [(out[i] == x64[i]).all().item() for i in range(64)]
    assert 0 < sum(same) < 64


def test_xflip_at_p1_flips_or_keeps_each_sample():
    # As in stylegan2-ada: a chosen sample gets a random orientation (mirrored with probability 1/2).
    pipe = _pipe(1.0, xflip=1)
    x = _images(batch=64)
    out = pipe(x, generator=_gen(3))
    flipped = 0
    for i in range(64):
        is_same = torch.equal(out[i], x[i])
        is_flip = torch.allclose(out[i], x[i].flip(-1), atol=1e-5)
        assert is_same != is_flip
        flipped += is_flip
    assert 20 <= flipped <= 44


def test_shape_dtype_range_and_gray():
    x = _images(batch=6)
    pipe = _pipe(0.5, **{k: 1 for k in GEOMETRIC + COLOR})
    out = pipe(x, generator=_gen())
    assert out.shape == x.shape and out.dtype == x.dtype and torch.isfinite(out).all()
    assert out.abs().max() < 10
    # geometry alone interpolates (bilinear, reflected border): values stay within the input range
    geo = augment_preset("bg")
    geo.p.fill_(1.0)
    out = geo(x, generator=_gen())
    assert out.min() >= x.min() - 1e-5 and out.max() <= x.max() + 1e-5
    # a constant image stays constant: no black / zero-padded borders after rotation, scaling, shifts
    flat = torch.full((8, 3, 16, 16), 0.7)
    assert torch.allclose(geo(flat, generator=_gen(5)), flat, atol=1e-5)
    # 1-channel images and bf16 (also under autocast) keep shape and dtype
    gray = _images(batch=4, channels=1)
    assert pipe(gray, generator=_gen()).shape == gray.shape
    xb = x.bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outb = pipe(xb, generator=_gen())
    assert outb.dtype == torch.bfloat16 and outb.shape == x.shape
    assert (outb.float() - pipe(x, generator=_gen())).abs().max() < 0.1   # same draws, bf16 rounding
    with pytest.raises(ValueError):
        pipe(torch.zeros(2, 4, 8, 8))


def test_gradients_flow_including_double_backward():
    pipe = _pipe(0.7, **{k: 1 for k in GEOMETRIC + COLOR})
    x = _images(batch=4).requires_grad_(True)
    w = torch.randn(4, 3, 16, 16)
    out = pipe(x, generator=_gen())
    (out * w).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # R1 through the pipe: d/dx of ||d D(aug(x)) / dx||^2 needs the second derivative
    x2 = _images(batch=4).requires_grad_(True)
    logits = (pipe(x2, generator=_gen()) * w).square().sum()
    (g,) = torch.autograd.grad(logits, x2, create_graph=True)
    g.square().sum().backward()
    assert x2.grad is not None and torch.isfinite(x2.grad).all() and x2.grad.abs().sum() > 0


def test_integer_translation_matches_roll_in_interior():
    pipe = _pipe(1.0, xint=1, xint_max=0.25)
    x = _images(batch=16, size=16)
    inv = pipe.sample_geometry(16, 16, 16, generator=_gen(7))
    out = pipe(x, generator=_gen(7))                   # same seed -> same draws as sample_geometry
    shifts = 0
    for i in range(16):
        # output pixel (u, v) samples input (u + inv[0, 2], v + inv[1, 2]): content moves by -inv[:, 2]
        dx, dy = -inv[i, 0, 2].item(), -inv[i, 1, 2].item()
        assert dx == round(dx) and dy == round(dy) and abs(dx) <= 4 and abs(dy) <= 4
        dx, dy = int(dx), int(dy)
        shifts += (dx, dy) != (0, 0)
        expected = torch.roll(x[i], shifts=(dy, dx), dims=(1, 2))
        ys = slice(max(dy, 0), 16 + min(dy, 0))
        xs = slice(max(dx, 0), 16 + min(dx, 0))
        assert torch.allclose(out[i][:, ys, xs], expected[:, ys, xs], atol=1e-4)
    assert shifts > 8
    # a hand-made 3-pixel shift right, 2 down: the uncovered border is the mirrored image, not zeros
    inv = torch.eye(3).expand(2, 3, 3).clone()
    inv[:, 0, 2], inv[:, 1, 2] = -3, -2
    moved = AugmentPipe.apply_geometry(x[:2], inv)
    assert torch.allclose(moved[:, :, 2:, 3:], x[:2, :, :-2, :-3], atol=1e-4)
    assert torch.allclose(moved[:, :, 2:, :3], x[:2, :, :-2, :3].flip(-1), atol=1e-4)  # reflection


def test_brightness_only_adds_a_constant():
    pipe = _pipe(1.0, brightness=1)
    mat = pipe.sample_color(8, generator=_gen(2))
    assert torch.equal(mat[:, :3, :3], torch.eye(3).expand(8, 3, 3))
    offsets = mat[:, :3, 3]
    assert torch.equal(offsets, offsets[:, :1].expand(8, 3)) and offsets.abs().sum() > 0
    x = _images(batch=8)
    out = pipe(x, generator=_gen(2))
    delta = out - x
    for i in range(8):
        assert torch.allclose(delta[i], torch.full_like(delta[i], offsets[i, 0].item()), atol=1e-6)


def test_color_matrices_are_what_they_claim():
    # hue at p=1 is a rotation about the luma axis: orthogonal, keeps gray pixels gray
    hue = _pipe(1.0, hue=1).sample_color(16, generator=_gen())[:, :3, :3]
    assert torch.allclose(hue @ hue.transpose(1, 2), torch.eye(3).expand(16, 3, 3), atol=1e-5)
    gray = torch.ones(3) / math.sqrt(3)
    assert torch.allclose(hue @ gray, gray.expand(16, 3), atol=1e-5)
    # saturation leaves luma unchanged and scales chroma
    sat = _pipe(1.0, saturation=1).sample_color(16, generator=_gen())[:, :3, :3]
    assert torch.allclose(sat @ gray, gray.expand(16, 3), atol=1e-5)


@pytest.mark.parametrize("name", ["scale", "aniso", "rotate", "xfrac"])
def test_each_transform_hits_with_probability_p(name):
    pipe = _pipe(0.4, **{name: 1})
    inv = pipe.sample_geometry(4000, 16, 16, generator=_gen(11))
    hit = ~(inv == torch.eye(3)).flatten(1).all(1)
    assert abs(hit.float().mean().item() - 0.4) < 0.04   # rotate: two stages, P(any) = p


def test_same_seed_same_augmentation():
    pipe = augment_preset("bgc")
    pipe.p.fill_(0.6)
    x = _images()
    a, b = pipe(x, generator=_gen(123)), pipe(x, generator=_gen(123))
    assert torch.equal(a, b)
    assert not torch.equal(a, pipe(x, generator=_gen(124)))
    torch.manual_seed(5)
    c = pipe(x)
    torch.manual_seed(5)
    assert torch.equal(c, pipe(x))                       # global RNG path is seeded too


def test_presets_and_strengths():
    bgc = augment_preset("bgc")
    assert all(getattr(bgc, k) == 1 for k in GEOMETRIC + COLOR)
    bg = augment_preset("bg")
    assert all(getattr(bg, k) == 1 for k in GEOMETRIC) and all(getattr(bg, k) == 0 for k in COLOR)
    assert augment_preset("noaug") is None
    assert augment_preset("bgc", xint_max=0.25).xint_max == 0.25
    assert bgc.scale_std == 0.2 and bgc.contrast_std == 0.5 and bgc.xfrac_std == 0.125
    with pytest.raises(ValueError):
        augment_preset("nope")
    with pytest.raises(TypeError):
        AugmentPipe(xflip=1, xflip_std=3)
    # p is a buffer: it lands in a parent's checkpoint as augment_pipe.p
    holder = torch.nn.Module()
    holder.augment_pipe = bgc
    assert "augment_pipe.p" in holder.state_dict()


def test_ada_controller_raises_lowers_and_clamps():
    pipe = augment_preset("bgc")
    ada = AdaController(pipe, target=0.6, interval=4, ada_kimg=500)
    step = 32 * 4 / 500_000
    ada.accumulate(torch.ones(32, 1))                    # D is overconfident on reals: r_t = 1
    assert ada.update(32) and ada.rt == 1.0
    assert ada.p == pytest.approx(step)
    ada.accumulate(torch.ones(32))
    ada.update(32)
    assert ada.p == pytest.approx(2 * step)
    for _ in range(3):                                   # r_t = -1 < target: down, then floored at 0
        ada.accumulate(-torch.ones(32))
        ada.update(32)
    assert ada.p == 0.0 and ada.rt == -1.0
    assert not ada.update(32) and ada.p == 0.0           # nothing collected: no change


def test_ada_controller_all_reduce_and_state_round_trip():
    calls = []

    def fake_all_reduce(t):                              # another rank saw 32 negative reals
        calls.append(t.clone())
        t += torch.tensor([-32.0, 32.0], dtype=torch.float64)

    pipe = augment_preset("bg")
    ada = AdaController(pipe, all_reduce=fake_all_reduce)
    ada.accumulate(torch.ones(32))
    ada.update(64)
    assert calls and ada.rt == 0.0 and ada.p == 0.0      # combined r_t = 0 < 0.6
    ada.accumulate(torch.tensor([3.0, -1.0, 2.0]))       # pending signs survive a resume
    pipe.p.fill_(0.25)
    state = ada.state_dict()
    pipe2 = augment_preset("bg")
    ada2 = AdaController(pipe2)
    ada2.load_state_dict(state)
    assert ada2.p == 0.25 and float(pipe2.p) == 0.25 and ada2.rt == 0.0
    assert ada2.state_dict() == state
    ada.all_reduce = None
    ada.update(16)
    ada2.update(16)
    assert ada2.p == ada.p and ada2.rt == ada.rt == pytest.approx(1 / 3)


def test_rotate90_is_an_exact_quarter_turn_and_non_square_images_work():
    pipe = _pipe(1.0, rotate90=1)
    x = _images(batch=32)
    out = pipe(x, generator=_gen(4))
    seen = set()
    for i in range(32):
        ks = [k for k in range(4) if torch.allclose(out[i], torch.rot90(x[i], k, dims=(1, 2)), atol=1e-5)]
        assert len(ks) == 1
        seen.add(ks[0])
    assert seen == {0, 1, 2, 3}
    wide = torch.rand(3, 3, 12, 20) * 2 - 1
    bgc = augment_preset("bgc")
    bgc.p.fill_(0.8)
    assert bgc(wide, generator=_gen()).shape == wide.shape


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_images_with_cpu_generator_match_cpu():
    pipe = augment_preset("bgc")
    pipe.p.fill_(0.5)
    x = _images()
    cpu = pipe(x, generator=_gen(9))
    gpu = pipe.cuda()(x.cuda(), generator=_gen(9))
    assert torch.allclose(gpu.cpu(), cpu, atol=1e-4)
