"""The golden cases: which tiny networks, inputs and settings the official stylegan2-ada-pytorch code was run
on (tests/golden/make_golden.py) and our code is checked against (tests/test_golden_*.py).

Configs are written in our constructor's argument names (stylealign_core Generator / Discriminator);
make_golden.py translates them to the official keyword arguments. golden.json records the configs the
files were made from, so a test notices when this module and the committed files disagree.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file

GOLDEN_DIR = Path(__file__).resolve().parent
METADATA = GOLDEN_DIR / "golden.json"
OFFICIAL_REPO = "https://github.com/NVlabs/stylegan2-ada-pytorch"
REGENERATE = "python tests/golden/make_golden.py /path/to/stylegan2-ada-pytorch"

# Forward/backward of G and D on fixed inputs. "uncond16": the plain path. "cond32_clamp": labels, a
# truncation cutoff, conv_clamp low enough to clip a good share of activations, a 2-channel mbstd.
NETWORK_CASES = {
    "uncond16": dict(
        G=dict(z_dim=32, w_dim=32, c_dim=0, img_resolution=16, img_channels=3, mapping_layers=2,
               channel_base=256, channel_max=16),
        D=dict(c_dim=0, img_resolution=16, img_channels=3, channel_base=256, channel_max=16),
        batch=4, truncation_psi=0.7, truncation_cutoff=None),
    "cond32_clamp": dict(
        G=dict(z_dim=32, w_dim=32, c_dim=4, img_resolution=32, img_channels=3, mapping_layers=2,
               channel_base=256, channel_max=16, conv_clamp=1.0),
        D=dict(c_dim=4, img_resolution=32, img_channels=3, channel_base=256, channel_max=16, conv_clamp=1.0,
               mapping_layers=2, mbstd_group_size=4, mbstd_num_channels=2),
        batch=4, truncation_psi=0.5, truncation_cutoff=4),
}

# The four StyleGAN2Loss phases. Noise inputs and style mixing are off (their random draws would have to
# be made in the same order by both codes); the path-length noise is recorded and fed to both. The
# reference differentiates through its running path-length mean, ours treats it as a constant: with
# pl_decay=0 the two are the same function, so the gradients are compared at pl_decay=0 and the mean
# update is checked separately at the usual pl_decay=0.01.
LOSS_CASE = dict(
    G=dict(z_dim=32, w_dim=32, c_dim=3, img_resolution=16, img_channels=3, mapping_layers=2,
           channel_base=256, channel_max=8, use_noise=False),
    D=dict(c_dim=3, img_resolution=16, img_channels=3, channel_base=256, channel_max=8, mapping_layers=2),
    batch=8, gain=4.0, r1_gamma=0.7, pl_weight=2.0, pl_batch_shrink=2, pl_mean=0.3, pl_decay=0.01)
LOSS_PHASES = ("Gmain", "Greg", "Dmain", "Dreg")

# A network-snapshot pickle written by the official code the way its training loop writes one:
# dict(G, D, G_ema, augment_pipe, training_set_kwargs), fp16 layers and conv_clamp=256 as in its configs.
SNAPSHOT_CASE = dict(
    G=dict(z_dim=32, w_dim=32, c_dim=2, img_resolution=16, img_channels=3, mapping_layers=2,
           channel_base=256, channel_max=8, conv_clamp=256),
    D=dict(c_dim=2, img_resolution=16, img_channels=3, channel_base=256, channel_max=8, conv_clamp=256,
           mapping_layers=2),
    num_fp16_res=4, batch=4, truncation_psi=0.7, augment_p=0.4,
    augment_kwargs=dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1, brightness=1,
                        contrast=1, lumaflip=1, hue=1, saturation=1),
    training_set_kwargs=dict(class_name="training.dataset.ImageFolderDataset", path="datasets/tiny16.zip",
                             use_labels=True, max_size=64, xflip=False, resolution=16))
# What the pickle holds instead of each class's module source (see make_golden.py).
MODULE_SRC_PLACEHOLDER = ("# stylegan2-ada-pytorch module source removed from this golden pickle (licence: "
                          "NVIDIA Source Code License-NC); the networks are read as data, never from code.\n")


def case_configs() -> dict:
    """Every case's settings, as recorded in golden.json."""
    return {"networks": NETWORK_CASES, "loss": LOSS_CASE, "snapshot": SNAPSHOT_CASE}


def golden_path(name: str) -> Path:
    return GOLDEN_DIR / name


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_metadata() -> dict:
    return json.loads(METADATA.read_text(encoding="utf-8"))


def read_tensors(name: str) -> dict[str, torch.Tensor]:
    """All tensors of one golden .safetensors file."""
    return load_file(str(golden_path(name)))


def with_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries named ``prefix + key``, keyed by ``key`` (e.g. a network's state dict under "G.")."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


@contextlib.contextmanager
def feeding_randn_like(recorded: torch.Tensor):
    """Within the block, ``torch.randn_like(x)`` returns ``recorded`` (once): the path-length noise as an
    input, so the official and our loss see the same draw whatever their RNG call order or torch version."""
    original, calls = torch.randn_like, []

    def replay(like, *args, **kwargs):
        if calls or tuple(like.shape) != tuple(recorded.shape):
            raise AssertionError(f"unexpected torch.randn_like call (shape {list(like.shape)}, call "
                                 f"{len(calls) + 1}); only the path-length noise {list(recorded.shape)} is fed")
        calls.append(1)
        return recorded.to(like.device, like.dtype).clone()

    torch.randn_like = replay
    try:
        yield calls
    finally:
        torch.randn_like = original
