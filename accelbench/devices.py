"""PyTorch devices: cpu, mps and cuda, each probed with real work before it is trusted.

A Device knows nothing of workloads. It answers four questions: can it run here (and if
not, why), how to wait for its queued work, how much memory the work took, and what a
person calls it. ``DeviceTimer`` gives device-side time where the backend has events.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from abc import ABC, abstractmethod
from typing import Any

import psutil
import torch

from accelbench.spec import DEVICE_NAMES


class Device(ABC):
    """One backend of one framework: probe, synchronize, memory, label."""

    name: str
    framework = "torch"

    @functools.cached_property
    def unusable_reason(self) -> str | None:
        """None when the device ran a real allocation and op; otherwise why it cannot run."""
        try:
            return self._probe()
        except Exception as exc:  # a probe that crashes means the device is unusable
            return f"{self.name} probe failed: {first_line(exc)}"

    @property
    def usable(self) -> bool:
        return self.unusable_reason is None

    @abstractmethod
    def _probe(self) -> str | None: ...

    @abstractmethod
    def synchronize(self) -> None:
        """Block until every queued operation on this device has finished."""

    @property
    @abstractmethod
    def label(self) -> str:
        """What a person calls this device, e.g. "Apple M4 GPU (MPS)"."""

    def torch_device(self) -> torch.device:
        return torch.device(self.name)

    def reset_memory(self) -> None:
        """Start a new memory window (peak counters, samples)."""

    def sample_memory(self) -> None:
        """Take a memory sample where the backend has no peak counter."""

    def memory(self) -> dict[str, int]:
        """Memory figures in bytes for the window since ``reset_memory``."""
        return {}

    def empty_cache(self) -> None:
        """Give cached allocator memory back, e.g. after an out-of-memory."""

    def timer(self) -> DeviceTimer | None:
        """A device-side event timer, or None where the backend has no events."""
        return None

    def dtype_unsupported_reason(self, dtype: str) -> str | None:
        """None when this device can compute in ``dtype``; otherwise why not."""
        if dtype == "tf32":
            return f"tf32 is an NVIDIA tensor-core mode (Ampere or newer), not on {self.label}"
        return None

    def set_precision(self, dtype: str) -> None:
        """Configure process-wide math modes for a case computing in ``dtype``."""

    def float32_mode(self) -> str:
        """How float32 tensors are computed right now: "fp32", or "tf32" on NVIDIA."""
        return "fp32"

    def is_out_of_memory(self, exc: BaseException) -> bool:
        # torch's CPU allocator (which every case uses for its CPU reference) raises a plain
        # RuntimeError: "DefaultCPUAllocator: can't allocate memory: you tried to allocate ...".
        text = str(exc)
        return isinstance(exc, (MemoryError, torch.OutOfMemoryError)) or (
            isinstance(exc, RuntimeError)
            and ("out of memory" in text.lower() or "DefaultCPUAllocator" in text)
        )


class DeviceTimer:
    """Device-side time between two recorded events (CUDA and MPS events)."""

    def __init__(self, event_factory: Any) -> None:
        self._factory = event_factory
        self._pending: list[tuple[Any, Any]] = []
        self._start: Any = None

    def start(self) -> None:
        self._start = self._factory(enable_timing=True)
        self._start.record()

    def stop(self) -> None:
        end = self._factory(enable_timing=True)
        end.record()
        self._pending.append((self._start, end))
        self._start = None

    def elapsed_s(self) -> list[float]:
        """Seconds between each start/stop pair; call after the device is synchronized."""
        return [start.elapsed_time(end) / 1e3 for start, end in self._pending]


class SampledRss:
    """Memory of a CPU device: this process's resident set, peak of the samples taken at
    the end of each timed round (a process-wide figure, as the CPU has no allocator of its
    own to ask)."""

    _rss_peak = 0

    def reset_memory(self) -> None:
        self._rss_peak = 0
        self.sample_memory()

    def sample_memory(self) -> None:
        self._rss_peak = max(self._rss_peak, psutil.Process().memory_info().rss)

    def memory(self) -> dict[str, int]:
        return {"rss_peak_sampled_bytes": self._rss_peak}


class CpuDevice(SampledRss, Device):
    name = "cpu"

    def _probe(self) -> str | None:
        x = torch.ones(64, 64)
        if float((x @ x)[0, 0]) != 64.0:
            return "cpu: a 64x64 matmul gave a wrong result"
        return None

    def synchronize(self) -> None:
        """CPU ops in PyTorch complete before they return: nothing is queued."""

    @property
    def label(self) -> str:
        return f"{cpu_brand()} (CPU, {torch.get_num_threads()} threads)"

    def dtype_unsupported_reason(self, dtype: str) -> str | None:
        if dtype == "fp16" and not _cpu_runs_fp16():
            return f"fp16 autocast is not supported on the CPU with torch {torch.__version__}"
        return super().dtype_unsupported_reason(dtype)


class MpsDevice(Device):
    """Apple GPU through Metal Performance Shaders: asynchronous, no float64, no peak counter."""

    name = "mps"

    def __init__(self) -> None:
        self._current_peak = 0
        self._driver_peak = 0

    def _probe(self) -> str | None:
        backend = torch.backends.mps
        if not backend.is_built():
            return f"MPS not available: torch {torch.__version__} was built without MPS"
        if not backend.is_available():
            if sys.platform == "darwin":
                return (
                    f"MPS not available: macOS {platform.mac_ver()[0]} on {platform.machine()}"
                    " (needs Apple Silicon and macOS 14+ for recent torch)"
                )
            return f"MPS not available: {sys.platform} is not macOS"
        hosted = hosted_runner_reason()
        if hosted:
            return f"MPS {hosted}"
        # Elsewhere MPS can report itself available and still fail the first real allocation.
        x = torch.ones(256, 256, device="mps")
        value = float((x @ x).sum().cpu())
        if value != 256.0**3:
            return f"MPS gave a wrong result for a 256x256 matmul ({value})"
        return None

    def synchronize(self) -> None:
        torch.mps.synchronize()

    @property
    def label(self) -> str:
        cores = apple_gpu_cores()
        cores_text = f", {cores} GPU cores" if cores else ""
        return f"{cpu_brand()} GPU (MPS{cores_text})"

    def reset_memory(self) -> None:
        self._current_peak = self._driver_peak = 0
        self.sample_memory()

    def sample_memory(self) -> None:
        self._current_peak = max(self._current_peak, torch.mps.current_allocated_memory())
        self._driver_peak = max(self._driver_peak, torch.mps.driver_allocated_memory())

    def memory(self) -> dict[str, int]:
        return {
            "allocated_peak_sampled_bytes": self._current_peak,
            "driver_allocated_peak_sampled_bytes": self._driver_peak,
        }

    def empty_cache(self) -> None:
        torch.mps.empty_cache()

    def timer(self) -> DeviceTimer:
        return DeviceTimer(torch.mps.event.Event)

    def dtype_unsupported_reason(self, dtype: str) -> str | None:
        if dtype == "bf16" and sys.platform == "darwin":
            major = int((platform.mac_ver()[0] or "0").split(".")[0])
            if major < 14:
                return f"bf16 on MPS needs macOS 14+, this is macOS {platform.mac_ver()[0]}"
        return super().dtype_unsupported_reason(dtype)

    def is_out_of_memory(self, exc: BaseException) -> bool:
        return super().is_out_of_memory(exc) or "MPS backend out of memory" in str(exc)


class CudaDevice(Device):
    name = "cuda"

    def _probe(self) -> str | None:
        if not torch.cuda.is_available():
            built = "built with CUDA" if torch.version.cuda else "built without CUDA"
            return f"CUDA not available: no usable NVIDIA GPU (torch {torch.__version__}, {built})"
        x = torch.ones(256, 256, device="cuda")
        value = float((x @ x).sum().cpu())
        if value != 256.0**3:
            return f"CUDA gave a wrong result for a 256x256 matmul ({value})"
        return None

    def synchronize(self) -> None:
        torch.cuda.synchronize()

    @property
    def label(self) -> str:
        return f"{torch.cuda.get_device_name()} (CUDA)"

    def reset_memory(self) -> None:
        torch.cuda.reset_peak_memory_stats()

    def memory(self) -> dict[str, int]:
        return {
            "allocated_peak_bytes": torch.cuda.max_memory_allocated(),
            "reserved_peak_bytes": torch.cuda.max_memory_reserved(),
        }

    def empty_cache(self) -> None:
        torch.cuda.empty_cache()

    def timer(self) -> DeviceTimer:
        return DeviceTimer(torch.cuda.Event)

    def dtype_unsupported_reason(self, dtype: str) -> str | None:
        if dtype == "bf16" and not torch.cuda.is_bf16_supported():
            return f"bf16 is not supported on {torch.cuda.get_device_name()}"
        if dtype == "tf32" and torch.cuda.get_device_capability()[0] < 8:
            return f"tf32 needs an Ampere or newer GPU, not {torch.cuda.get_device_name()}"
        return None

    def set_precision(self, dtype: str) -> None:
        """TF32 only when asked for: PyTorch enables it for cuDNN convolutions by default,
        which would make an "fp32" figure a TF32 one."""
        torch.backends.cudnn.allow_tf32 = dtype == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = dtype == "tf32"

    def float32_mode(self) -> str:
        tf32 = torch.backends.cudnn.allow_tf32 and torch.backends.cuda.matmul.allow_tf32
        return "tf32" if tf32 else "fp32"


DEVICE_TYPES: dict[str, type[Device]] = {"cpu": CpuDevice, "mps": MpsDevice, "cuda": CudaDevice}
assert tuple(DEVICE_TYPES) == DEVICE_NAMES


@functools.cache
def get_device(name: str) -> Device:
    """The one Device object for ``name``; probed lazily and only once per process."""
    return DEVICE_TYPES[name]()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


@functools.cache
def _cpu_runs_fp16() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.float16):
            x = torch.ones(8, 8)
            return (x @ x).dtype == torch.float16
    except Exception:
        return False


@functools.cache
def cpu_brand() -> str:
    """The CPU or chip name: "Apple M4", "AMD EPYC 9654 96-Core Processor", ..."""
    if sys.platform == "darwin":
        brand = _run(["sysctl", "-n", "machdep.cpu.brand_string"])
        if brand:
            return brand
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def apple_gpu_cores() -> int | None:
    """GPU core count of an Apple chip, from system_profiler; None elsewhere."""
    if sys.platform != "darwin":
        return None
    import json

    out = _run(["system_profiler", "-json", "SPDisplaysDataType"])
    try:
        for gpu in json.loads(out or "{}").get("SPDisplaysDataType", []):
            if "sppci_cores" in gpu:
                return int(gpu["sppci_cores"])
    except (ValueError, TypeError):
        pass
    return None


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def hosted_runner_reason() -> str | None:
    """Why a GitHub-hosted macOS runner's GPU is no benchmark target; None elsewhere."""
    if os.environ.get("RUNNER_ENVIRONMENT") != "github-hosted":
        return None
    return (
        "not usable on a GitHub-hosted macOS runner: its GPU is paravirtualized "
        "and capped near 1 GB (actions/runner-images#9918); use a self-hosted Mac"
    )


def fallback_enabled() -> bool:
    """PYTORCH_ENABLE_MPS_FALLBACK=1 runs ops missing on MPS on the CPU, silently."""
    return os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK", "") == "1"
