"""Precision settings: the CPU bf16 probe, "auto", and the warning for emulated bf16."""
import warnings

import pytest
import torch

from stylealign_core import precision
from stylealign_core.precision import SlowPrecisionWarning, autocast, has_fast_bf16_flag, resolve

AMX_CPU = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\nbugs\t\t: spectre_v1\n"
ZEN3_CPU = "processor\t: 0\nflags\t\t: fpu sse avx avx2 fma vaes\nbugs\t\t: sysret_ss_attrs\n"


def test_bf16_flag_probe_reads_only_the_flags_line():
    assert has_fast_bf16_flag(AMX_CPU)
    assert has_fast_bf16_flag("flags : avx2 avx512_bf16\n")
    assert not has_fast_bf16_flag(ZEN3_CPU)
    assert not has_fast_bf16_flag("model name : amx_bf16 marketing name\nflags : avx2\n")
    assert not has_fast_bf16_flag("")


def test_auto_follows_this_cpus_flags():
    with open("/proc/cpuinfo") as f:
        native = has_fast_bf16_flag(f.read())
    assert resolve("cpu", "auto") == ("bf16" if native else "fp32")
    assert resolve("cuda", "auto") == "bf16"
    with pytest.raises(ValueError, match="fp16"):
        resolve("cpu", "fp16")
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve("cpu", "int8")


@pytest.fixture
def cpu_flags(monkeypatch):
    """Pretend the CPU has (True) or lacks (False) native bf16; the one-time warning is re-armed."""
    def set_native(native: bool):
        monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: native)
        precision._warn_emulated_bf16.cache_clear()
    yield set_native
    precision._warn_emulated_bf16.cache_clear()


def test_explicit_bf16_on_emulating_cpu_warns_once_and_still_runs_bf16(cpu_flags):
    cpu_flags(False)
    with pytest.warns(SlowPrecisionWarning, match="use precision 'auto'"):
        assert resolve("cpu", "bf16") == "bf16"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve("cpu", "bf16") == "bf16"            # once per process
        with autocast("cpu", "bf16"):
            assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert resolve("cpu", "auto") == "fp32"


@pytest.mark.parametrize("native, asked, expect", [
    (True, [("cpu", "bf16"), ("cpu", "auto"), ("cuda", "bf16")], ["bf16", "bf16", "bf16"]),
    (False, [("cpu", "fp32"), ("cpu", "auto"), ("cuda", "bf16")], ["fp32", "fp32", "bf16"]),
])
def test_no_warning_where_bf16_is_native_or_not_asked_for(cpu_flags, native, asked, expect):
    cpu_flags(native)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [resolve(device, mode) for device, mode in asked] == expect
