"""G_ema's update: the ramp-up caps the half-life by the images shown so far; 0 (or None) turns it off, so a
fine-tune's G_ema starts as a slow average from the parent's weights (the default child's setting)."""
from types import SimpleNamespace

import pytest
import torch

from stylealign_core.training.config import TrainConfig
from stylealign_core.training.loop import _Training


def _one_update(ema_rampup, nimg: int) -> float:
    """G_ema's weight after one update from 0 towards G's 1, at ``nimg`` images shown."""
    cfg = TrainConfig.from_dict({"batch": 16, "ema_kimg": 5, "ema_rampup": ema_rampup})
    G, G_ema = torch.nn.Linear(1, 1, bias=False), torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        G.weight.fill_(1.0)
        G_ema.weight.fill_(0.0)
    state = SimpleNamespace(cfg=cfg, nets=SimpleNamespace(G=G, G_ema=G_ema), nimg=nimg)
    _Training._update_ema(state)
    return G_ema.weight.item()


@pytest.mark.parametrize("off", [0.0, None])
def test_no_rampup_keeps_the_full_half_life_from_the_first_images(off):
    full = 1 - 0.5 ** (16 / 5000)  # 5-kimg half-life, batch 16
    assert _one_update(off, nimg=16) == pytest.approx(full, rel=1e-5)


def test_rampup_shortens_the_half_life_early_on():
    ramped = 1 - 0.5 ** (16 / (16 * 0.05))  # half-life 0.05 x 16 images: G_ema nearly copies G
    assert _one_update(0.05, nimg=16) == pytest.approx(ramped, rel=1e-5)
    assert _one_update(0.05, nimg=16) > 0.99
    assert _one_update(0.05, nimg=10**6) == pytest.approx(_one_update(0.0, nimg=10**6), rel=1e-5)


def test_none_is_read_as_zero_so_the_reproduce_command_carries_it():
    assert TrainConfig.from_dict({"ema_rampup": None}).ema_rampup == 0.0
