"""The framework-neutral device contract, and facts about the machine devices live on.

A Device knows nothing of workloads. It answers four questions: can it run here (and if
not, why), how to wait for its queued work (or for what a step returned), how much memory
the work took, and what a person calls it. ``DeviceTimer`` gives device-side time where
the backend has events. Each backend (accelbench.backends.*) implements this contract for
its framework.
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


class Device(ABC):
    """One backend of one framework: probe, synchronize, memory, label."""

    name: str

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
    def synchronize(self, result: Any = None) -> None:
        """Block until the queued work has finished: everything queued on this device, or
        at least the work that produced ``result`` (what a step returned) and what was
        queued before it. A framework with a device-wide barrier may ignore ``result``; one
        without (JAX) waits on it. Called without ``result``, wait for what is queued."""

    @property
    @abstractmethod
    def label(self) -> str:
        """What a person calls this device, e.g. "Apple M4 GPU (MPS)"."""

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
        """Whether ``exc`` means the device ran out of memory (the case then skips)."""
        return isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()

    def nvidia_uuid(self) -> str | None:
        """The NVIDIA GPU behind this device (``GPU-...``), for NVML's readings of its clocks
        and energy; None for any other device, or where the framework cannot say."""
        return None


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


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


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
