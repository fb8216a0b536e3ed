"""``train.precision: auto``: bf16 only where it is native and measured faster, else fp32."""

from __future__ import annotations

import pytest
import torch

from switchvae.train import precision as prec
from switchvae.train.precision import (
    AUTO,
    BF16,
    FP32,
    cpu_bf16_support,
    inference_precision,
    resolve_precision,
)


@pytest.fixture(autouse=True)
def _fresh_decision():
    """``auto`` is cached per process; every test decides anew."""
    prec._auto.cache_clear()
    yield
    prec._auto.cache_clear()


def _cpu(monkeypatch, *, bf16_flags: bool, aten: str = "AVX512", machine: str = "x86_64"):
    """Pretend to be a CPU with or without the bf16 instructions, kernels at ``aten``."""
    caps = {"avx2": True, "avx512_bf16": bf16_flags, "amx_bf16": bf16_flags}
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: caps)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: aten)
    monkeypatch.setattr(prec.platform, "machine", lambda: machine)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)


def _never_measure(*_):
    raise AssertionError("no measurement expected where bf16 is not native")


def test_auto_is_fp32_where_bf16_is_not_native(monkeypatch):
    _cpu(monkeypatch, bf16_flags=False, aten="AVX2")
    monkeypatch.setattr(prec, "measure_speedup", _never_measure)
    choice = resolve_precision(AUTO, "cpu")
    assert choice.precision == FP32 and "emulated" in choice.reason
    assert choice.autocast_dtype is None and choice.short == "fp32"


def test_auto_is_fp32_when_kernels_are_capped_below_bf16(monkeypatch):
    # The CPU has the instructions, but ATEN_CPU_CAPABILITY=avx2 keeps PyTorch at AVX2 ...
    _cpu(monkeypatch, bf16_flags=True, aten="AVX2")
    monkeypatch.setattr(prec, "measure_speedup", _never_measure)
    assert resolve_precision(AUTO).precision == FP32
    # ... or ONEDNN_MAX_CPU_ISA keeps oneDNN below bf16.
    prec._auto.cache_clear()
    _cpu(monkeypatch, bf16_flags=True)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    native, why = cpu_bf16_support()
    assert not native and "ONEDNN_MAX_CPU_ISA" in why
    assert resolve_precision(AUTO).precision == FP32


def test_auto_is_bf16_where_native_and_measured_faster(monkeypatch):
    _cpu(monkeypatch, bf16_flags=True)
    monkeypatch.setattr(prec, "measure_speedup", lambda device, dtype: 1.9)
    choice = resolve_precision(AUTO, "cpu")
    assert choice.precision == BF16 and "1.9×" in choice.reason
    assert choice.autocast_dtype is torch.bfloat16 and choice.short == "bf16"


def test_auto_keeps_fp32_when_native_bf16_measures_slower(monkeypatch):
    _cpu(monkeypatch, bf16_flags=True)
    monkeypatch.setattr(prec, "measure_speedup", lambda device, dtype: 0.8)
    assert resolve_precision(AUTO, "cpu").precision == FP32


def test_auto_on_aarch64_reads_the_cpu_features(monkeypatch, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("Features\t: fp asimd sve bf16 i8mm\n")
    _cpu(monkeypatch, bf16_flags=False, machine="aarch64")
    monkeypatch.setattr(prec, "Path", lambda _: cpuinfo)
    monkeypatch.setattr(prec, "measure_speedup", lambda device, dtype: 1.5)
    assert resolve_precision(AUTO).precision == BF16


def test_explicit_precision_wins(monkeypatch):
    monkeypatch.setattr(prec, "measure_speedup", _never_measure)
    assert resolve_precision(BF16).precision == BF16
    assert resolve_precision(FP32).reason == "set explicitly"
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("bf16")


def test_inference_follows_the_runs_setting(monkeypatch):
    _cpu(monkeypatch, bf16_flags=False, aten="AVX2")
    assert inference_precision({"train": {"precision": BF16}}).precision == BF16
    assert inference_precision({"train": {"precision": AUTO}}).precision == FP32
    assert inference_precision(None).precision == FP32  # a bare model: auto
    assert inference_precision({"train": {"precision": BF16}}, requested=FP32).precision == FP32


def test_the_real_probe_gives_a_positive_ratio():
    assert resolve_precision(AUTO).precision in (FP32, BF16)
    assert prec.measure_speedup(torch.device("cpu"), torch.bfloat16) > 0
