"""The committed default parent (models/parent/emoji-noto-64) loads with today's code, is what params.yaml
pins, and carries its lineage back to the relay seed: a later format change cannot silently break it."""
from pathlib import Path

import numpy as np
import torch
import yaml

from stylealign_core.checkpoints import load_checkpoint
from stylealign_core.latents import synthesize_seeds

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "models" / "parent" / "emoji-noto-64"
RELAY_SEED_SHA256 = "6ff1612924f7d8557b8592e9b3e918efbad8f3318419297db6dc9fa435d89e1d"  # 112 kimg, c2e4c77


def test_committed_parent_loads_and_generates_64px_emoji_images():
    ckpt = load_checkpoint(EXPORT / "network.json")
    assert sorted(ckpt.networks) == ["D", "G_ema"]
    G = ckpt.networks["G_ema"].eval()
    assert (G.img_resolution, G.z_dim, G.w_dim, G.c_dim) == (64, 256, 256, 0)
    images = synthesize_seeds(G, [0, 1, 2, 3])
    assert images.shape == (4, 3, 64, 64) and torch.isfinite(images).all()
    assert images.std() > 0.1 and not torch.equal(images[0], images[1])  # not a constant or collapsed output
    logits = ckpt.networks["D"](images, None)
    assert logits.shape == (4, 1) and torch.isfinite(logits).all()
    assert float(ckpt.extra["augment_pipe.p"]) > 0


def test_params_yaml_pins_the_committed_parent():
    parent = yaml.safe_load((ROOT / "params.yaml").read_text())["parent"]
    ckpt = load_checkpoint(EXPORT / "network.json", networks=())
    assert (ROOT / parent["uri"]).resolve() in (EXPORT.resolve(), (EXPORT / "network.json").resolve())
    assert parent["sha256"] == ckpt.sha256


def test_lineage_reaches_the_relay_seed_and_progress_is_recorded():
    meta = load_checkpoint(EXPORT / "network.json", networks=()).metadata
    chain = meta["resumed_from"] if isinstance(meta["resumed_from"], list) else [meta["resumed_from"]]
    assert chain[-1]["sha256"] == RELAY_SEED_SHA256 and chain[-1]["kimg"] == 112.0
    assert meta["kimg"] >= 162.0 and meta["recipe"]["train"]["precision"] == "fp32"
    assert meta["recipe"]["train"]["r1_gamma"] == np.float64(0.0512)
