"""Shared test fixtures: tiny network configs that run in milliseconds on 2 CPU cores."""
import os

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two xdist workers on two cores: one torch/OpenMP thread each, also in the commands they
    # start, so the workers do not oversubscribe the cores (a spinning OpenMP pool on a busy core is slow)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402 (after OMP_NUM_THREADS)

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

TINY_G = dict(z_dim=32, w_dim=32, img_resolution=16, img_channels=3, mapping_layers=2,
              channel_base=256, channel_max=32)
TINY_D = dict(img_resolution=16, img_channels=3, channel_base=256, channel_max=32)


@pytest.fixture
def tiny_g_kwargs():
    return dict(TINY_G)


@pytest.fixture
def tiny_d_kwargs():
    return dict(TINY_D)


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield
