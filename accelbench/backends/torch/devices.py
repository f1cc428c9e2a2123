"""PyTorch devices: cpu, mps and cuda, each probed with real work before it is trusted."""

from __future__ import annotations

import functools
import os
import platform
import sys
from typing import Any

import torch

from accelbench.core.device import (
    Device,
    DeviceTimer,
    SampledRss,
    apple_gpu_cores,
    cpu_brand,
    hosted_runner_reason,
)

DEVICE_NAMES = ("cpu", "mps", "cuda")

# cuDNN picks each convolution's algorithm by timing the candidates at the first call of a
# shape (in warm-up, never in a timed round) instead of by heuristics: what practitioners
# train with (torchvision's and timm's training scripts turn it on), and every case here
# has fixed shapes. The environment records it (``cudnn_benchmark``).
CUDNN_AUTOTUNE = True
torch.backends.cudnn.benchmark = CUDNN_AUTOTUNE


class TorchDevice(Device):
    """A PyTorch device: its torch.device, and torch's out-of-memory errors."""

    framework = "torch"

    def torch_device(self) -> torch.device:
        return torch.device(self.name)

    def is_out_of_memory(self, exc: BaseException) -> bool:
        # torch's CPU allocator (which every case uses for its CPU reference) raises a plain
        # RuntimeError: "DefaultCPUAllocator: can't allocate memory: you tried to allocate ...".
        text = str(exc)
        return isinstance(exc, (MemoryError, torch.OutOfMemoryError)) or (
            isinstance(exc, RuntimeError)
            and ("out of memory" in text.lower() or "DefaultCPUAllocator" in text)
        )


class CpuDevice(SampledRss, TorchDevice):
    name = "cpu"

    def _probe(self) -> str | None:
        x = torch.ones(64, 64)
        if float((x @ x)[0, 0]) != 64.0:
            return "cpu: a 64x64 matmul gave a wrong result"
        return None

    def synchronize(self, result: Any = None) -> None:
        """CPU ops in PyTorch complete before they return: nothing is queued."""

    @property
    def label(self) -> str:
        return f"{cpu_brand()} (CPU, {torch.get_num_threads()} threads)"

    def dtype_unsupported_reason(self, dtype: str) -> str | None:
        if dtype == "fp16" and not _cpu_runs_fp16():
            return f"fp16 autocast is not supported on the CPU with torch {torch.__version__}"
        return super().dtype_unsupported_reason(dtype)


class MpsDevice(TorchDevice):
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

    def synchronize(self, result: Any = None) -> None:
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


class CudaDevice(TorchDevice):
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

    def synchronize(self, result: Any = None) -> None:
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

    def nvidia_uuid(self) -> str | None:
        """The current CUDA device's UUID (device 0, or a data-parallel worker's own), as NVML
        names it (NVML numbers GPUs in PCI order, CUDA by ``CUDA_VISIBLE_DEVICES`` and speed,
        so the index alone may name another GPU)."""
        try:
            uuid = str(torch.cuda.get_device_properties(torch.cuda.current_device()).uuid)
        except Exception:
            return None
        return uuid if uuid.startswith(("GPU-", "MIG-")) else f"GPU-{uuid}"

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


DEVICE_TYPES: dict[str, type[TorchDevice]] = {
    "cpu": CpuDevice,
    "mps": MpsDevice,
    "cuda": CudaDevice,
}
assert tuple(DEVICE_TYPES) == DEVICE_NAMES


@functools.cache
def get_device(name: str) -> TorchDevice:
    """The one Device object for ``name``; probed lazily and only once per process."""
    return DEVICE_TYPES[name]()


@functools.cache
def _cpu_runs_fp16() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.float16):
            x = torch.ones(8, 8)
            return (x @ x).dtype == torch.float16
    except Exception:
        return False


def fallback_enabled() -> bool:
    """PYTORCH_ENABLE_MPS_FALLBACK=1 runs ops missing on MPS on the CPU, silently."""
    return os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK", "") == "1"
