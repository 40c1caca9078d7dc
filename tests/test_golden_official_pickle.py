"""Our safe importer on a network-snapshot pickle written by the official stylegan2-ada-pytorch code:
committed, so it runs everywhere, no reference checkout needed.

tests/golden/snapshot16.pkl was written once by NVlabs/stylegan2-ada-pytorch at commit
d72cc7d041b42ec8e806021a205ed9349f87c6a4 (recorded in tests/golden/golden.json) on torch 2.13 CPU, by

    python tests/golden/make_golden.py /path/to/stylegan2-ada-pytorch

the way its training loop writes network-snapshot-*.pkl: dict(training_set_kwargs, G, D, G_ema,
augment_pipe), each network an official persistent class built from train.py-style EasyDict kwargs
(2 labels, 16 px, num_fp16_res=4, conv_clamp=256, augment pipe "bgc" with p=0.4). One change: each
persistent object's module source (the official code, not ours to commit) was replaced by a placeholder
line while pickling; our importer never runs or reads that source (it only hashes it).
tests/golden/snapshot16.safetensors holds the inputs and the official outputs (force_fp32) of G_ema and G
(truncation psi 0.7, const noise) and of D. Compared here, with the bounds of tests/golden/compare.py:
images relative L2 < 1e-5, logits rtol 1e-5 / atol 1e-5 * max |logit|; plus the recovered settings,
augment p and training-set kwargs, and that loading imported none of the pickle's modules. The live test
that pickles fresh official networks stays in tests/test_checkpoints_import.py (test_genuine_stylegan2_ada_pickle).
"""
import sys

import pytest
import torch

from golden.cases import MODULE_SRC_PLACEHOLDER, SNAPSHOT_CASE, golden_path, read_tensors
from golden.compare import assert_image_close, assert_logits_close, rel_err
from stylealign_core.checkpoints import load_checkpoint
from stylealign_core.checkpoints.loader import detect_format

PICKLE = golden_path("snapshot16.pkl")
FOREIGN_MODULES = ("dnnlib", "torch_utils", "training", "legacy")


def _foreign_modules() -> set:
    return {m for m in sys.modules if m.split(".")[0] in FOREIGN_MODULES}


@pytest.fixture(scope="module")
def imported():
    before = _foreign_modules()
    ckpt = load_checkpoint(PICKLE)
    assert _foreign_modules() == before, "loading the pickle imported its modules"
    return ckpt


def test_the_pickle_has_the_official_persistent_layout():
    raw = PICKLE.read_bytes()
    assert detect_format(PICKLE) == "stylegan2-ada-pkl"
    for marker in (b"torch_utils.persistence", b"_reconstruct_persistent_obj", b"dnnlib.util", b"EasyDict",
                   b"module_src", b"_init_kwargs", MODULE_SRC_PLACEHOLDER.encode()):
        assert marker in raw, marker


def test_imported_networks_reproduce_the_official_outputs(imported):
    ref = read_tensors("snapshot16.safetensors")
    psi = SNAPSHOT_CASE["truncation_psi"]
    with torch.no_grad():
        for name in ("G_ema", "G"):
            img = imported.networks[name](ref["in.z"], ref["in.c"], truncation_psi=psi, noise_mode="const")
            assert_image_close(img, ref[f"out.{name}.img"], f"{name} image")
        assert_logits_close(imported.networks["D"](ref["in.x"], ref["in.c"]), ref["out.D.logits"], "D logits")
    assert rel_err(ref["out.G.img"], ref["out.G_ema.img"]) > 1e-3  # G and G_ema are told apart


def test_imported_settings_and_training_state(imported):
    for name, want in (("G", SNAPSHOT_CASE["G"]), ("G_ema", SNAPSHOT_CASE["G"]), ("D", SNAPSHOT_CASE["D"])):
        config = imported.networks[name].config
        assert {k: config[k] for k in want} == want, name
    assert float(imported.extra["augment_pipe.p"]) == pytest.approx(SNAPSHOT_CASE["augment_p"])
    meta = imported.metadata
    assert meta["num_fp16_res"] == {"G": 4, "D": 4, "G_ema": 4}
    assert meta["training_set_kwargs"] == SNAPSHOT_CASE["training_set_kwargs"]
    assert meta["augment_kwargs"] == SNAPSHOT_CASE["augment_kwargs"]
    assert meta["imported_from"]["format"] == "stylegan2-ada-pkl"
