"""Our StyleGAN2Loss against the official stylegan2-ada-pytorch one, from committed golden files: runs
everywhere, no reference checkout needed.

tests/golden/loss16.safetensors was written once by the official code, NVlabs/stylegan2-ada-pytorch at
commit d72cc7d041b42ec8e806021a205ed9349f87c6a4 (recorded in tests/golden/golden.json), unmodified, on
torch 2.13 CPU, by

    python tests/golden/make_golden.py /path/to/stylegan2-ada-pytorch

It holds tiny official G and D (LOSS_CASE in tests/golden/cases.py: 3 labels, 16 px, no noise inputs),
the inputs (reals, their labels, z, generated labels, the path-length noise) and, for each phase Gmain,
Greg, Dmain and Dreg of the official StyleGAN2Loss.accumulate_gradients (gain 4, r1_gamma 0.7,
pl_weight 2, pl_batch_shrink 2, running path-length mean 0.3, style mixing off), the gradient of every
parameter of the network that phase trains. Here our loss runs the same phase on our networks holding
the official weights, fed the same path-length noise, and every gradient must agree within rtol 1e-4,
atol 1e-5 * the largest official gradient (tests/golden/compare.py).

The reference differentiates through its running path-length mean, ours treats it as a constant (see
stylealign_core/training/loss.py); with pl_decay=0 the two are the same function, so the official
gradients were recorded at pl_decay=0, and the mean's update is checked on its own at pl_decay=0.01:
our pl_update from our measured lengths must give the official updated mean (relative error < 1e-5).
The live comparison against a checkout named by $STYLEGAN2_ADA_PYTORCH stays in
tests/test_training_reference.py.
"""
import pytest
import torch

from golden.cases import LOSS_CASE, LOSS_PHASES, feeding_randn_like, read_tensors, with_prefix
from golden.compare import IMAGE_REL_ERR, assert_grads_close, our_networks, param_grads, rel_err
from stylealign_core.training.loss import StyleGAN2Loss


@pytest.fixture(scope="module")
def golden():
    return read_tensors("loss16.safetensors")


def _run_phase(tensors: dict, phase: str, pl_decay: float):
    """Our loss on one phase, on fresh networks holding the official weights: (trained network, loss, stats)."""
    case = LOSS_CASE
    G, D = our_networks(case, tensors)
    G.train().requires_grad_(False)
    D.train().requires_grad_(False)
    trained = G if phase.startswith("G") else D
    trained.requires_grad_(True)
    ours = StyleGAN2Loss(G, D, style_mixing=0, r1_gamma=case["r1_gamma"], pl_weight=case["pl_weight"],
                         pl_batch_shrink=case["pl_batch_shrink"], pl_decay=pl_decay)
    ours.pl_mean.fill_(case["pl_mean"])
    with feeding_randn_like(tensors["in.pl_noise"]) as calls:
        stats = ours.accumulate(phase, tensors["in.real_img"], tensors["in.real_c"], tensors["in.gen_z"],
                                tensors["in.gen_c"], gain=case["gain"])
    assert len(calls) == (phase == "Greg"), f"{phase}: our loss drew {len(calls)} path-length noise tensors"
    return trained, ours, stats


@pytest.mark.parametrize("phase", LOSS_PHASES)
def test_loss_phase_gradients_match_official(golden, phase):
    trained, _, stats = _run_phase(golden, phase, pl_decay=0.0)
    assert_grads_close(param_grads(trained), with_prefix(golden, f"grad.{phase}."), f"{phase}")
    assert all(torch.isfinite(v).all() for v in stats.values())


def test_path_length_mean_update_matches_official(golden):
    _, ours, stats = _run_phase(golden, "Greg", pl_decay=LOSS_CASE["pl_decay"])
    ours.pl_update(stats["pl_length"])
    want = golden["out.pl_mean_updated"].reshape([])
    assert rel_err(ours.pl_mean.reshape([1]), want.reshape([1])) < IMAGE_REL_ERR
    assert abs(want.item() - LOSS_CASE["pl_mean"]) > 1e-4  # the update did move the mean
