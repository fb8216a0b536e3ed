"""``train.precision: auto``: pick the fastest precision this machine runs natively.

bf16 autocast is 1.5–2× faster than fp32 where bf16 is native (x86 with AVX512-BF16 or AMX,
aarch64 with BF16, CUDA devices from Ampere on) and about 16× *slower* where it is emulated
(x86 with AVX2 only). The rule, in order:

1. an explicit precision (``32-true``, ``bf16-mixed``, ``16-mixed``) is kept;
2. CPU: the hardware must report bf16 (``torch.cpu.get_capabilities()`` on x86,
   ``/proc/cpuinfo`` on aarch64) *and* PyTorch's kernels must use it (the ATen CPU
   capability is AVX512, ``ONEDNN_MAX_CPU_ISA`` does not cap oneDNN below bf16);
   when both hold, a short measurement (a conv forward + backward, ~0.15 s) must show bf16
   at least :data:`MIN_SPEEDUP` × faster, else fp32;
3. CUDA: bf16-mixed where ``torch.cuda.is_bf16_supported()``; else fp16-mixed (Fabric adds
   the gradient scaler) when measured faster; else fp32.

The choice is made once per process and device type and returned with its reason, so a
run can log it and record it (``RUN/run.json``).
"""

from __future__ import annotations

import functools
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from switchvae.config.training import PRECISIONS

AUTO, FP32, BF16, FP16 = PRECISIONS  # "auto", "32-true", "bf16-mixed", "16-mixed"
MIN_SPEEDUP = 1.1  # a reduced precision must beat fp32 by this much to be chosen
_BF16_ISAS = ("AVX512_CORE_BF16", "AVX512_CORE_AMX", "AVX10")  # oneDNN caps that keep bf16
_PROBE_ROUNDS = 5


@dataclass(frozen=True)
class PrecisionChoice:
    """A resolved precision (one of Fabric's) and why it was chosen."""

    precision: str
    reason: str

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The autocast dtype for inference with this precision (None: plain fp32)."""
        return {BF16: torch.bfloat16, FP16: torch.float16}.get(self.precision)

    @property
    def short(self) -> str:
        """``bf16``, ``fp16`` or ``fp32`` (what metrics.json records)."""
        return {BF16: "bf16", FP16: "fp16"}.get(self.precision, "fp32")


def cpu_bf16_support() -> tuple[bool, str]:
    """Whether this CPU *and* PyTorch's CPU kernels run bf16 natively, with the reason."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64", "i386", "i686"):
        caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
        if not (caps.get("avx512_bf16") or caps.get("amx_bf16")):
            return False, "the CPU has no AVX512-BF16 or AMX (bf16 would be emulated)"
        aten = torch.backends.cpu.get_cpu_capability()
        if not aten.startswith("AVX512"):
            return False, f"PyTorch's CPU kernels run at {aten} (bf16 would be emulated)"
        cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
        if cap and cap != "ALL" and not cap.startswith(_BF16_ISAS):
            return False, f"ONEDNN_MAX_CPU_ISA={cap} keeps oneDNN below bf16"
        return True, "the CPU has native bf16 (AVX512-BF16/AMX)"
    if machine in ("aarch64", "arm64"):
        try:
            flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False, "cannot read the CPU's features"
        if " bf16" in flags:
            return True, "the CPU has native bf16 (Arm BF16)"
        return False, "the CPU has no Arm BF16 instructions"
    return False, f"no native bf16 known for {machine or 'this CPU'}"


def measure_speedup(device: torch.device, dtype: torch.dtype) -> float:
    """fp32 time / ``dtype`` autocast time of a small conv forward + backward (best of 5).

    About 0.15 s on a CPU with native bf16; about 2 s where bf16 is emulated (only measured
    when the capability check passed, so normally never).
    """
    generator = torch.Generator().manual_seed(0)
    conv = nn.Conv2d(64, 64, 3, padding=1).to(device, memory_format=torch.channels_last)
    x = torch.randn(16, 64, 32, 32, generator=generator).to(device)
    x = x.contiguous(memory_format=torch.channels_last)

    def once(reduced: bool) -> float:
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=reduced):
            out = conv(x)
        out.float().square().mean().backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    once(False), once(True)  # warm-up: kernel selection, caches
    fp32, reduced = [], []
    for _ in range(_PROBE_ROUNDS):
        fp32.append(once(False))
        reduced.append(once(True))
    return min(fp32) / min(reduced)  # bests: the least disturbed by other processes


def _measured(device: torch.device, precision: str, dtype: torch.dtype, why: str):
    speedup = measure_speedup(device, dtype)
    if speedup >= MIN_SPEEDUP:
        return PrecisionChoice(precision, f"{why}; measured {speedup:.1f}× faster than fp32")
    return PrecisionChoice(
        FP32, f"{why}, but measured only {speedup:.2f}× fp32's speed (< {MIN_SPEEDUP}×)"
    )


@functools.cache
def _auto(device_type: str, index: int | None) -> PrecisionChoice:
    device = torch.device(device_type, index) if index is not None else torch.device(device_type)
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return PrecisionChoice(BF16, "the CUDA device supports bf16")
        return _measured(device, FP16, torch.float16, "the CUDA device has no bf16")
    if device.type != "cpu":
        return PrecisionChoice(FP32, f"no reduced precision chosen for {device.type}")
    native, why = cpu_bf16_support()
    if not native:
        return PrecisionChoice(FP32, why)
    return _measured(device, BF16, torch.bfloat16, why)


def resolve_precision(requested: str, device: str | torch.device = "cpu") -> PrecisionChoice:
    """The precision to run with on ``device``: ``requested`` itself unless it is ``auto``.

    Args:
        requested: ``auto`` or one of Fabric's precisions (:data:`PRECISIONS`).
        device: where the model runs (``cpu``, ``cuda``, ``cuda:1``).

    Returns:
        :class:`PrecisionChoice`; for ``auto`` the decision is cached per device.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {requested!r}")
    if requested != AUTO:
        return PrecisionChoice(requested, "set explicitly")
    device = torch.device(device)
    return _auto(device.type, device.index)


def training_device(accelerator: str) -> torch.device:
    """The device type a run with ``train.accelerator`` will use (for resolving ``auto``)."""
    if accelerator == "gpu" or (accelerator == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def inference_precision(
    config: dict | None, device: str | torch.device = "cpu", requested: str | None = None
) -> PrecisionChoice:
    """The precision to encode/evaluate a run with: ``requested`` when given, else the run's
    own ``train.precision`` (``auto`` when the saved config has none), resolved on ``device``.

    The CLI (``evaluate``, ``encode``, ``reconstruct``, ...) and the demo both use this, so a
    run is evaluated with the same precision whichever way it is evaluated.
    """
    wanted = requested or str((config or {}).get("train", {}).get("precision", AUTO))
    return resolve_precision(wanted, device)


def autocast(choice: PrecisionChoice, device: str | torch.device = "cpu"):
    """``torch.autocast`` for ``choice`` on ``device`` (disabled for fp32)."""
    device = torch.device(device)
    dtype = choice.autocast_dtype
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)
