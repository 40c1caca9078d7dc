"""`stylealign train|finetune` flags land on the TrainConfig keys they name."""
from __future__ import annotations

import pytest

from stylealign.cli import build_parser
from stylealign.train_cli import _config


def _cfg(argv):
    return _config(build_parser().parse_args(argv))


def test_flags_map_to_config_keys():
    cfg = _cfg(["train", "--data", "d", "--out", "o", "--ada-kimg", "100", "--target", "0.5", "--lr", "0.002",
                "--gamma", "0.1", "--cbase", "2048", "--map", "2", "--batch", "8"])
    assert cfg.ada_kimg == 100 and cfg.ada_target == 0.5
    assert cfg.lr_g == cfg.lr_d == 0.002 and cfg.r1_gamma == 0.1 and cfg.batch == 8
    assert cfg.network.channel_base == 2048 and cfg.network.mapping_layers == 2


def test_unset_flags_keep_defaults():
    cfg = _cfg(["train", "--data", "d", "--out", "o"])
    assert cfg.ada_kimg == 500 and cfg.ada_target == 0.6


def test_bad_flag_value_names_the_key():
    with pytest.raises(Exception, match="ada_kimg"):
        _cfg(["train", "--data", "d", "--out", "o", "--ada-kimg", "-1"])


def test_cond_flag_asks_for_a_conditional_model():
    assert getattr(_cfg(["train", "--data", "d", "--out", "o", "--cond"]), "cond", False) is True
    assert getattr(_cfg(["finetune", "--parent", "p", "--data", "d", "--out", "o", "--cond"]), "cond", False) is True
    assert getattr(_cfg(["train", "--data", "d", "--out", "o"]), "cond", False) is False
