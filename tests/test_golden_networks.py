"""Our Generator and Discriminator against the official stylegan2-ada-pytorch ones, from committed golden
files: runs everywhere, no reference checkout needed.

Where the numbers come from: tests/golden/*.safetensors were written once by the official code,
NVlabs/stylegan2-ada-pytorch at commit d72cc7d041b42ec8e806021a205ed9349f87c6a4 (recorded, with the torch
version used, in tests/golden/golden.json), imported unmodified on torch 2.13 CPU (its CUDA ops fall back
to their reference implementations; nothing had to be patched), by

    python tests/golden/make_golden.py /path/to/stylegan2-ada-pytorch

which builds the tiny official networks of tests/golden/cases.py with fixed seeds and saves their
weights, the inputs and the official outputs. Here the official weights are loaded into OUR networks
(strict state-dict load: same names and shapes) and compared, with the bounds of tests/golden/compare.py:
  - W+ with truncation (psi, cutoff); w_avg after one training-mode mapping step: relative L2 < 1e-5
  - images, noise_mode "const" (the official noise_const buffers) and "none", with and without
    truncation, through our fused and unfused modulated conv (against the official fused and unfused
    images): relative L2 < 1e-5
  - D logits: rtol 1e-5, atol 1e-5 * max |logit|
  - gradients of fixed random projections of G's image and D's logits, training mode, for every
    parameter and for D's input image: rtol 1e-4, atol 1e-5 * the network's largest |gradient|
The cases: "uncond16" (no labels, 16 px) and "cond32_clamp" (4 labels, 32 px, truncation cutoff 4,
conv_clamp 1.0, 2-channel minibatch stddev). The live comparisons against a checkout named by
$STYLEGAN2_ADA_PYTORCH stay in tests/test_networks.py and tests/test_networks_speedpaths.py.
"""
import pytest
import torch

from golden.cases import (METADATA, NETWORK_CASES, case_configs, file_sha256, golden_path, read_metadata,
                          read_tensors, with_prefix)
from golden.compare import (assert_grads_close, assert_image_close, assert_logits_close, our_networks,
                            param_grads, rel_err)

GOLDEN_BYTES_LIMIT = 2_000_000


def test_golden_files_match_their_record_and_stay_small():
    meta = read_metadata()
    assert meta["official"]["commit"] == "d72cc7d041b42ec8e806021a205ed9349f87c6a4"
    assert meta["cases"] == case_configs(), (
        f"tests/golden/cases.py changed since the golden files were made: rerun `{meta['regenerate']}`")
    for name, record in meta["files"].items():
        assert file_sha256(golden_path(name)) == record["sha256"], f"{name} differs from {METADATA.name}"
    total = sum(record["bytes"] for record in meta["files"].values())
    assert total <= GOLDEN_BYTES_LIMIT, f"golden files take {total} bytes"


@pytest.fixture(scope="module", params=list(NETWORK_CASES))
def golden(request):
    """(case name, case settings, the file's tensors, our G and D holding the official weights)."""
    name = request.param
    tensors = read_tensors(f"{name}.safetensors")
    G, D = our_networks(NETWORK_CASES[name], tensors)
    return name, NETWORK_CASES[name], tensors, G, D


def _labels(case: dict, tensors: dict):
    return tensors["in.c"] if case["G"]["c_dim"] else None


def test_mapping_truncation_and_w_avg_update_match_official(golden):
    name, case, t, G, _ = golden
    z, c = t["in.z"], _labels(case, t)
    with torch.no_grad():
        ws = G.mapping(z, c, truncation_psi=case["truncation_psi"], truncation_cutoff=case["truncation_cutoff"])
        assert_image_close(ws, t["out.ws_truncated"], f"{name}: truncated W+")
        w_avg = G.mapping.w_avg.clone()
        try:
            G.mapping(z, c, update_w_avg=True)
            assert_image_close(G.mapping.w_avg, t["out.w_avg_updated"], f"{name}: updated w_avg")
        finally:
            G.mapping.w_avg.copy_(w_avg)
    assert rel_err(w_avg, t["out.w_avg_updated"]) > 1e-3  # the update did move it


@pytest.mark.parametrize("fused", [False, True])
def test_images_match_official(golden, fused):
    name, case, t, G, _ = golden
    z, c = t["in.z"], _labels(case, t)
    G.eval()
    with torch.no_grad():
        for official in [k for k in ("out.img_const_fused", "out.img_const_unfused") if k in t]:
            img = G(z, c, noise_mode="const", fused=fused)
            assert_image_close(img, t[official], f"{name}: const-noise image, our fused={fused} vs {official}")
        if "out.img_none" in t:
            assert_image_close(G(z, c, noise_mode="none", fused=fused), t["out.img_none"], f"{name}: no noise")
            assert rel_err(t["out.img_none"], t["out.img_const_fused"]) > 1e-3  # the noise does matter
        img = G(z, c, truncation_psi=case["truncation_psi"], truncation_cutoff=case["truncation_cutoff"],
                noise_mode="const", fused=fused)
        assert_image_close(img, t["out.img_truncated"], f"{name}: truncated image")


def test_explicit_noise_maps_equal_to_the_official_const_noise_give_its_image(golden):
    name, case, t, G, _ = golden
    noise = {k[:-len(".noise_const")]: v for k, v in with_prefix(t, "G.synthesis.").items()
             if k.endswith(".noise_const")}
    assert len(noise) == 2 * len(G.synthesis.block_resolutions) - 1
    with torch.no_grad():
        s = G.to_s(t["in.z"], "z", c=_labels(case, t))
        img = G.synthesis.from_styles(s, noise_mode="random", noise=noise)
    assert_image_close(img, t["out.img_const_fused"], f"{name}: explicit noise maps")


def test_discriminator_logits_match_official(golden):
    name, case, t, _, D = golden
    with torch.no_grad():
        assert_logits_close(D(t["in.x"], _labels(case, t)), t["out.logits"], f"{name}: D logits")


@pytest.mark.parametrize("fused", [False, True])
def test_generator_gradients_match_official(golden, fused):
    name, case, t, G, _ = golden
    G.train().zero_grad(set_to_none=True)
    img = G(t["in.z"], _labels(case, t), noise_mode="const", fused=fused)
    (img * t["in.img_weight"]).sum().backward()
    official = {k[len("grad.G."):]: v for k, v in t.items() if k.startswith("grad.G.")}
    assert_grads_close(param_grads(G), official, f"{name}: G (fused={fused})")
    G.zero_grad(set_to_none=True)


def test_discriminator_gradients_match_official(golden):
    name, case, t, _, D = golden
    D.train().zero_grad(set_to_none=True)
    x = t["in.x"].clone().requires_grad_(True)
    (D(x, _labels(case, t)) * t["in.logit_weight"]).sum().backward()
    official = {k[len("grad.D."):]: v for k, v in t.items() if k.startswith("grad.D.") and k != "grad.D.input"}
    assert_grads_close(param_grads(D), official, f"{name}: D")
    assert_grads_close({"input": x.grad}, {"input": t["grad.D.input"]}, f"{name}: D input")
    D.zero_grad(set_to_none=True)


def test_conv_clamp_case_really_clamps():
    """The clamp case must exercise the clamp: with conv_clamp lifted the official image is not reproduced."""
    case = NETWORK_CASES["cond32_clamp"]
    t = read_tensors("cond32_clamp.safetensors")
    unclamped = dict(case, G=dict(case["G"], conv_clamp=None), D=dict(case["D"], conv_clamp=None))
    G, D = our_networks(unclamped, t)
    with torch.no_grad():
        assert rel_err(G(t["in.z"], t["in.c"], noise_mode="const"), t["out.img_const_fused"]) > 1e-2
        assert rel_err(D(t["in.x"], t["in.c"]), t["out.logits"]) > 1e-3
