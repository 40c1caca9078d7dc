"""The shipped encoder of the default parent (models/encoder/emoji-noto-64) loads with today's code, was trained
for exactly the parent params.yaml pins (a new parent export without a new encoder fails here), and inverts."""
import json
from pathlib import Path

import torch
import yaml

from stylealign_core.checkpoints import load_checkpoint
from stylealign_core.inversion import check_encoder, encoder_codes, load_encoder
from stylealign_core.inversion.spaces import synthesize_codes
from stylealign_core.latents import synthesize_seeds

ROOT = Path(__file__).resolve().parents[1]
ENCODER = ROOT / "models" / "encoder" / "emoji-noto-64" / "encoder.json"
PARENT = ROOT / "models" / "parent" / "emoji-noto-64" / "network.json"


def test_encoder_is_for_the_pinned_parent_and_recorded():
    E, ckpt = load_encoder(ENCODER)
    parent_sha = yaml.safe_load((ROOT / "params.yaml").read_text())["parent"]["sha256"]
    assert E.generator_sha256 == parent_sha == load_checkpoint(PARENT, networks=()).sha256
    assert E.space == "w+" and ckpt.metadata["generator"]["sha256"] == parent_sha
    assert ckpt.metadata["recipe"]["kimg"] == ckpt.metadata["kimg"] > 0       # trained to its recipe's end
    assert json.loads(ENCODER.read_text())["tensors"]["stored_dtype"] == "float16"
    assert ckpt.metadata["metric"]                                              # the perceptual loss it used


def test_encoder_inverts_parent_samples_better_than_the_mean_latent():
    E, _ = load_encoder(ENCODER)
    G = load_checkpoint(PARENT, networks=("G_ema",)).generator.eval()
    parent_sha = load_checkpoint(PARENT, networks=()).sha256
    check_encoder(E, G, parent_sha)                                             # shapes and sha256 agree
    torch.manual_seed(0)
    with torch.no_grad():
        images = synthesize_seeds(G, list(range(1000, 1008))).clamp(-1, 1)     # the project's seed -> z, not training draws
        codes = encoder_codes(E, G, images, "w+")                             # with its refiner, if any
        recon = synthesize_codes(G, codes, "w+").clamp(-1, 1)
        mean = synthesize_codes(G, E.w_avg.expand(len(images), G.num_ws, -1), "w+").clamp(-1, 1)
    assert torch.isfinite(codes).all()
    ours, null = (recon - images).square().mean(), (mean - images).square().mean()
    assert ours < 0.7 * null, (float(ours), float(null))
