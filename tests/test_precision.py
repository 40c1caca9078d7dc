"""Precision settings: what "auto" resolves to per CPU kind, the cached bf16 probe, and the warning for
emulated bf16. The probe branch (AVX512-BF16 without AMX) is forced with $STYLEALIGN_CPU_BF16, so it runs
on any CPU; its timing function is injected where a test needs a known ratio (the network still runs)."""
import json
import warnings

import pytest
import torch

from stylealign_core import Discriminator, Generator, precision
from stylealign_core.precision import (BF16_MIN_SPEEDUP, CPU_BF16_ENV, SlowPrecisionWarning, autocast,
                                       cpu_bf16_kind, cpu_bf16_kind_from_flags, has_fast_bf16_flag,
                                       measure_bf16_speedup, probe_bf16, resolve)

AMX_CPU = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\nbugs\t\t: spectre_v1\n"
ZEN4_CPU = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 vaes\n"
ZEN3_CPU = "processor\t: 0\nflags\t\t: fpu sse avx avx2 fma vaes\nbugs\t\t: sysret_ss_attrs\n"
# The smallest generator there is (8 px, 8 channels): a probe step is a few ms on an idle core.
MICRO_G = dict(z_dim=8, w_dim=8, img_resolution=8, img_channels=3, mapping_layers=1, channel_base=64, channel_max=8)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No test reads the user's probe cache or inherits a forced CPU kind; warnings and memo re-armed."""
    monkeypatch.setenv("STYLEALIGN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(CPU_BF16_ENV, raising=False)
    precision._warn_emulated_bf16.cache_clear()
    precision._probe_memo.clear()
    yield
    precision._warn_emulated_bf16.cache_clear()
    precision._probe_memo.clear()


class FixedTimes:
    """A timing function: runs the real step, reports ``seconds[precision]``; counts the timed runs."""

    def __init__(self, fp32: float, bf16: float):
        self.seconds, self.calls = {"fp32": fp32, "bf16": bf16}, {"fp32": 0, "bf16": 0}

    def __call__(self, mode, step):
        step()
        self.calls[mode] += 1
        return self.seconds[mode]


def test_cpu_kind_reads_only_the_flags_line():
    assert cpu_bf16_kind_from_flags(AMX_CPU) == "amx"
    assert cpu_bf16_kind_from_flags(ZEN4_CPU) == "avx512"
    assert cpu_bf16_kind_from_flags(ZEN3_CPU) == "none"
    assert cpu_bf16_kind_from_flags("model name : amx_bf16 marketing name\nflags : avx2\n") == "none"
    assert has_fast_bf16_flag(ZEN4_CPU) and not has_fast_bf16_flag("")


def test_environment_overrides_the_cpu_kind(monkeypatch):
    with open("/proc/cpuinfo") as f:
        assert cpu_bf16_kind() == cpu_bf16_kind_from_flags(f.read())
    for kind in ("amx", "avx512", "none"):
        monkeypatch.setenv(CPU_BF16_ENV, kind)
        assert cpu_bf16_kind() == kind
    monkeypatch.setenv(CPU_BF16_ENV, "sse")
    with pytest.raises(ValueError, match=f"{CPU_BF16_ENV}='sse': use one of amx, avx512, none"):
        resolve("cpu", "auto")


@pytest.mark.parametrize("kind, expect", [("amx", "bf16"), ("avx512", "fp32"), ("none", "fp32")])
def test_auto_without_a_network(monkeypatch, kind, expect):
    monkeypatch.setenv(CPU_BF16_ENV, kind)
    assert resolve("cpu", "auto") == expect  # avx512 without AMX: nothing to measure, so never bf16
    assert resolve("cuda", "auto") == "bf16"
    with pytest.raises(ValueError, match="fp16"):
        resolve("cpu", "fp16")
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve("cpu", "int8")


@pytest.mark.parametrize("fp32_s, bf16_s, expect", [(1.0, 1.0 / BF16_MIN_SPEEDUP, "bf16"), (1.0, 0.9, "fp32"),
                                                    (1.0, 18.0, "fp32")])
def test_probe_decision_follows_the_measured_ratio(monkeypatch, fp32_s, bf16_s, expect):
    monkeypatch.setenv(CPU_BF16_ENV, "avx512")
    timer = FixedTimes(fp32_s, bf16_s)
    assert resolve("cpu", "auto", Generator(**MICRO_G), batch=2, time_step=timer) == expect
    assert timer.calls["fp32"] == timer.calls["bf16"] >= 1


def test_bf16_must_win_in_its_best_step_and_in_the_median_pair():
    """One lucky bf16 step on a busy machine does not make bf16 "faster": the median pair must agree."""
    net = Generator(**MICRO_G)
    inputs = precision._probe_inputs(net, 2)
    seconds = {"fp32": iter([1.0, 1.0, 1.0]), "bf16": iter([0.4, 1.1, 1.0])}
    timed = measure_bf16_speedup(net, inputs, lambda mode, step: (step(), next(seconds[mode]))[1], min_reps=3,
                                 max_reps=3)
    assert timed["reps"] == 3 and timed["fp32_s"] == 1.0 and timed["bf16_s"] == 0.4
    assert timed["speedup"] == pytest.approx(1.0)  # best steps say 2.5x, the median pair says 1.0x


def test_probe_runs_once_then_comes_from_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(CPU_BF16_ENV, "avx512")
    G = Generator(**MICRO_G).eval().requires_grad_(False)  # as G_ema is
    before = {k: v.clone() for k, v in G.state_dict().items()}
    rng_before = torch.get_rng_state()
    timer = FixedTimes(1.0, 0.6)
    first = probe_bf16(G, batch=2, time_step=timer)
    assert not first["cached"] and first["speedup"] == pytest.approx(1 / 0.6) and first["choice"] == "bf16"
    files = list((tmp_path / "cache" / "precision").glob("bf16-probe-*.json"))
    assert [str(p) for p in files] == [first["path"]]
    stored = json.loads(files[0].read_text())
    assert stored["key"]["config"]["channel_base"] == MICRO_G["channel_base"]
    assert stored["key"]["torch"] == torch.__version__ and stored["key"]["batch"] == 2
    assert all(torch.equal(v, before[k]) for k, v in G.state_dict().items())
    assert not any(p.requires_grad or p.grad is not None for p in G.parameters())
    assert torch.equal(torch.get_rng_state(), rng_before)  # the probe leaves training's RNG alone

    precision._probe_memo.clear()  # a new process: only the file remains
    again = FixedTimes(1.0, 5.0)
    assert resolve("cpu", "auto", G, batch=2, time_step=again) == "bf16"
    assert again.calls == {"fp32": 0, "bf16": 0}
    other = Generator(**dict(MICRO_G, channel_max=4))  # another network: measured afresh
    assert resolve("cpu", "auto", other, batch=2, time_step=again) == "fp32" and again.calls["bf16"] >= 1
    assert resolve("cpu", "auto", dict(MICRO_G), batch=2, time_step=again) == "bf16"  # a config dict


def test_damaged_cache_is_measured_again(monkeypatch, tmp_path):
    D = Discriminator(img_resolution=8, img_channels=3, channel_base=64, channel_max=8)  # D can be probed too
    path = probe_bf16(D, batch=4, cache_dir=tmp_path / "p", time_step=FixedTimes(1.0, 2.0))["path"]
    precision._probe_memo.clear()
    with open(path, "w") as f:
        f.write("{not json")
    record = probe_bf16(D, batch=4, cache_dir=tmp_path / "p", time_step=FixedTimes(1.0, 0.5))
    assert not record["cached"] and record["choice"] == "bf16"
    with pytest.raises(TypeError, match="needs a stylealign Generator"):
        probe_bf16(torch.nn.Linear(2, 2))


def test_real_probe_on_this_cpu_is_consistent_with_its_measurement(monkeypatch):
    """The wall-clock probe on whatever CPU runs the test: it finishes, caches, and its choice is its ratio."""
    monkeypatch.setenv(CPU_BF16_ENV, "avx512")
    record = probe_bf16(Generator(**MICRO_G), batch=2)
    assert record["fp32_s"] > 0 and record["bf16_s"] > 0 and 3 <= record["reps"] <= 10
    assert 0 < record["speedup"] <= record["fp32_s"] / record["bf16_s"]
    assert record["choice"] == ("bf16" if record["speedup"] >= BF16_MIN_SPEEDUP else "fp32")
    assert resolve("cpu", "auto", Generator(**MICRO_G), batch=2) == record["choice"]


def test_explicit_bf16_on_emulating_cpu_warns_once_and_still_runs_bf16(monkeypatch):
    monkeypatch.setenv(CPU_BF16_ENV, "none")
    with pytest.warns(SlowPrecisionWarning, match="use precision 'auto'"):
        assert resolve("cpu", "bf16") == "bf16"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve("cpu", "bf16") == "bf16"            # once per process
        with autocast("cpu", "bf16"):
            assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert resolve("cpu", "auto") == "fp32"


@pytest.mark.parametrize("kind, asked, expect", [
    ("amx", [("cpu", "bf16"), ("cpu", "auto"), ("cuda", "bf16")], ["bf16", "bf16", "bf16"]),
    ("avx512", [("cpu", "bf16"), ("cpu", "fp32"), ("cuda", "fp16")], ["bf16", "fp32", "fp16"]),
    ("none", [("cpu", "fp32"), ("cpu", "auto"), ("cuda", "bf16")], ["fp32", "fp32", "bf16"]),
])
def test_no_warning_where_bf16_is_native_or_not_asked_for(monkeypatch, kind, asked, expect):
    monkeypatch.setenv(CPU_BF16_ENV, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [resolve(device, mode) for device, mode in asked] == expect
