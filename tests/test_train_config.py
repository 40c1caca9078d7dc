"""TrainConfig: one pydantic schema for `stylealign train|finetune`, params.yaml and the trainer."""
from __future__ import annotations

import json

import pytest
import torch

from stylealign_core.params import ParentInitParams, validate_params
from stylealign_core.training.config import CLI_FLAGS, ConfigError, NetworkConfig, TrainConfig, check_device


def test_dict_and_json_round_trips_keep_every_value():
    cfg = TrainConfig.from_dict({"batch": 16, "betas": [0.0, 0.9], "r1_gamma": 1, "cond": True,
                                 "network": {"channel_base": 2048}, "finetune": {"freeze": ["mapping"]}})
    assert cfg.betas == (0.0, 0.9) and cfg.r1_gamma == 1.0 and isinstance(cfg.r1_gamma, float)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg  # config.json, params sections
    assert cfg.network.channel_base == 2048 and cfg.finetune.freeze == ["mapping"]


def test_resolved_fills_auto_values_in_a_copy():
    cfg = TrainConfig.from_dict({"batch": 16})
    res = cfg.resolved(64)
    assert res.r1_gamma == pytest.approx(0.0002 * 64 ** 2 / 16) and res.ema_kimg == pytest.approx(16 * 10 / 32)
    assert cfg.r1_gamma == "auto" and cfg.ema_kimg is None
    res.network.z_dim = 7
    assert cfg.network.z_dim == 512  # a deep copy: the original's network is untouched


def test_validate_checks_values_set_after_construction_and_replace_validates():
    cfg = TrainConfig()
    cfg.batch = 6
    with pytest.raises(ConfigError, match=r"^train\.batch: must be a multiple of network\.mbstd_group_size \(4\)"):
        cfg.validate()
    assert TrainConfig().replace(batch=8, seed=3).batch == 8
    with pytest.raises(ConfigError, match=r"^train\.lr: unknown key \(known: total_kimg, batch,"):
        TrainConfig().replace(lr=0.1)


@pytest.mark.parametrize("values, message", [
    ({"batch": "abc"}, "train.batch: expected int, got 'abc'"),
    ({"batch": 2.5}, "train.batch: expected int, got 2.5"),
    ({"xflip": 1}, "train.xflip: expected bool (true/false), got 1"),
    ({"total_kimg": float("nan")}, "train.total_kimg: expected a finite number, got nan"),
    ({"ada_target": 1.5}, "train.ada_target: must be in (0, 1), got 1.5"),
    ({"r1_gamma": "big"}, "train.r1_gamma: expected float or 'auto', got 'big'"),
    ({"augment": "all"}, "train.augment: expected one of 'bgc', 'bg', 'noaug', got 'all'"),
    ({"betas": [0.5]}, "train.betas: too few values (item 1 missing)"),
    ({"batch_gpu": 5}, "train.batch_gpu: must divide batch (32), got 5"),
    ({"device": "tpu"}, "train.device: 'cpu' or 'cuda[:N]', got 'tpu'"),
    ({"precision": "fp16"}, "train.precision: 'fp16' is for CUDA devices; on CPU use 'bf16', 'fp32' or 'auto'"),
    ({"network": {"z_dim": 0}}, "train.network.z_dim: must be > 0, got 0"),
    ({"network": [1]}, "train.network: expected a mapping, got a list"),
    ({"finetune": {"freeze_resolutions": [4, 6]}},
     "train.finetune.freeze_resolutions: resolutions are powers of two >= 4, got [6]"),
    ({"cond": "yes"}, "train.cond: expected bool (true/false), got 'yes'"),
])
def test_errors_name_the_key_and_the_problem(values, message):
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict(values)
    assert str(err.value) == message


def test_null_sections_take_their_defaults():
    assert TrainConfig.from_dict({"network": None, "finetune": None}) == TrainConfig()
    assert validate_params({"finetune": {"train": None}}).finetune.train == TrainConfig()


def test_one_network_schema_for_training_and_the_init_parent():
    assert ParentInitParams.model_fields["network"].annotation is NetworkConfig
    assert TrainConfig.model_fields["network"].annotation is NetworkConfig
    with pytest.raises(ConfigError, match=r": parent\.init\.network\.mapping_layers: must be > 0, got 0$"):
        validate_params({"parent": {"init": {"network": {"mapping_layers": 0}}}})


def test_every_cli_flag_names_a_config_key_including_cond():
    flat = TrainConfig().to_dict()
    for key in CLI_FLAGS:
        node = flat
        for part in key.split("."):
            assert part in node, key
            node = node[part]
    assert CLI_FLAGS["cond"] == "--cond" and TrainConfig().cond is False
    assert TrainConfig.from_dict({"cond": True}).cond is True


def test_cuda_is_checked_against_this_torch():
    assert check_device("cpu") == "cpu"
    if torch.cuda.is_available():
        assert check_device("cuda") == "cuda"
        with pytest.raises(ValueError, match="CUDA device"):
            check_device(f"cuda:{torch.cuda.device_count()}")
    else:
        with pytest.raises(ConfigError, match=r"^train\.device: 'cuda:0', but this torch .* sees no CUDA device"):
            TrainConfig.from_dict({"device": "cuda:0"})
