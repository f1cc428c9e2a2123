"""MLX devices: the suite's cpu, mps and cuda mapped onto MLX's cpu and gpu, behind one guard.

MLX (Apple's array framework) is imported once, only when an MLX case runs, inside
``_import_mlx``: a missing or broken MLX becomes ``import_error()``'s text and every MLX
case skips with it, while the PyTorch and TensorFlow cases run.

Device names: "cpu" is ``mx.cpu``; "mps" is ``mx.gpu`` when MLX runs on Metal (Apple
Silicon); "cuda" is ``mx.gpu`` when MLX is a CUDA build (the ``mlx[cuda12]`` or
``mlx[cuda13]`` wheels). MLX is lazy: nothing runs until arrays are evaluated, so the
workloads evaluate every step's results and this module's ``synchronize`` waits for the
device's stream (``mx.synchronize``) before a clock is read.

fp32 means fp32: MLX computes float32 matmuls and convolutions in TF32 where the hardware
has it (NVIDIA Ampere and newer; Apple M5) unless ``MLX_ENABLE_TF32=0``, a variable it reads
once per process. The guard sets it to 0 before the import unless the user set it; with it
set to 1, fp32 cases on such hardware report that TF32 ran (and skip), and ``--dtype tf32``
runs.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import platform
import re
import sys
from dataclasses import dataclass
from typing import Any

import psutil

from accelbench.core.device import (
    Device,
    apple_gpu_cores,
    cpu_brand,
    first_line,
    hosted_runner_reason,
)

DEVICE_NAMES = ("cpu", "mps", "cuda")

TF32_VAR = "MLX_ENABLE_TF32"
STRICT_FP32 = "0"
CUDA_WHEELS = ("mlx-cuda-13", "mlx-cuda-12")
INSTALL_HINT = (
    "pip install -r requirements.txt installs it on Apple Silicon with macOS 14+ and on Linux, "
    "with Python 3.10+"
)


# The guarded import ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MlxImport:
    """The outcome of importing mlx.core, mlx.nn and mlx.optimizers once in this process."""

    mx: Any = None
    nn: Any = None
    optim: Any = None
    error: str | None = None


@functools.cache
def _import_mlx() -> MlxImport:
    os.environ.setdefault(TF32_VAR, STRICT_FP32)
    try:
        mx = importlib.import_module("mlx.core")
        nn = importlib.import_module("mlx.nn")
        optim = importlib.import_module("mlx.optimizers")
    except Exception as exc:  # a broken wheel can raise OSError or RuntimeError, not ImportError
        return MlxImport(error=_import_reason(exc))
    return MlxImport(mx=mx, nn=nn, optim=optim)


def _import_reason(exc: BaseException) -> str:
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "mlx":
        return f"MLX is not installed ({INSTALL_HINT})"
    return f"MLX unusable: {first_line(exc)}"


def import_error() -> str | None:
    """None when MLX imports; otherwise one line saying why not."""
    return _import_mlx().error


def modules() -> tuple[Any, Any, Any]:
    """``(mlx.core, mlx.nn, mlx.optimizers)`` through the guard, once import_error() is None."""
    state = _import_mlx()
    if state.mx is None:
        raise RuntimeError(state.error)
    return state.mx, state.nn, state.optim


def _mx() -> Any:
    return modules()[0]


def mlx_dtype(name: str) -> Any:
    """The suite's dtype name (accelbench.core.spec.DTYPES) as MLX's dtype; float32 for
    fp32 and tf32. The one place the MLX workloads and devices look it up."""
    return reduced_dtype(name) or _mx().float32


def reduced_dtype(name: str) -> Any:
    """The reduced precision ``name`` computes in (fp16, bf16), or None for float32."""
    mx = _mx()
    return {"fp16": mx.float16, "bf16": mx.bfloat16}.get(name)


def dtype_name(dtype: Any, float32_mode: str) -> str:
    """The suite's name of an MLX dtype that ran: float32 is ``float32_mode``."""
    mx = _mx()
    names = {mx.float32: float32_mode, mx.float16: "fp16", mx.bfloat16: "bf16"}
    return names.get(dtype, str(dtype))


def dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def tf32_enabled() -> bool:
    """Whether MLX computes float32 matmuls in TF32 where it can (MLX parses an integer)."""
    value = os.environ.get(TF32_VAR, "1").strip()
    try:
        return int(value) != 0
    except ValueError:
        return True


# Why a device cannot run, without running anything ------------------------------------------


def metal_unavailable_reason(
    system: str, machine: str, metal_available: bool, mlx_version: str
) -> str | None:
    """Why MLX cannot use an Apple GPU through Metal here, or None when it can."""
    prefix = "MLX Metal GPU not available"
    if system != "darwin":
        return f"{prefix}: {system} is not macOS"
    if machine != "arm64":
        return f"{prefix}: needs Apple Silicon, this Mac is {machine}"
    if not metal_available:
        return f"{prefix}: mlx {mlx_version} reports no Metal device"
    return None


def cuda_unavailable_reason(
    system: str, cuda_available: bool, cuda_wheels: dict[str, str], cpu_wheel: str | None
) -> str | None:
    """Why MLX cannot use an NVIDIA GPU here, or None when it can (the probe then runs an op)."""
    prefix = "MLX CUDA GPU not available"
    if system == "darwin":
        return f"{prefix}: MLX has no CUDA on macOS"
    if cuda_available:
        return None
    if cuda_wheels and cpu_wheel:
        installed = ", ".join(f"{name} {version}" for name, version in cuda_wheels.items())
        return (
            f"{prefix}: {installed} and mlx-cpu {cpu_wheel} are both installed and write the "
            "same mlx/lib/libmlx.so; the CPU one is loaded. pip uninstall -y mlx-cpu "
            f"{' '.join(cuda_wheels)}, then pip install 'mlx[cuda13]' (or cuda12)"
        )
    return (
        f"{prefix}: this MLX is a CPU build (on Linux with an NVIDIA GPU: "
        "pip uninstall -y mlx-cpu && pip install 'mlx[cuda13]', or 'mlx[cuda12]')"
    )


def installed_cuda_wheels() -> dict[str, str]:
    return {name: v for name in CUDA_WHEELS if (v := dist_version(name)) is not None}


def apple_generation(brand: str) -> int | None:
    """``Apple M4 Pro`` -> 4; None for a chip that is not an Apple M-series."""
    match = re.match(r"Apple M(\d+)", brand)
    return int(match.group(1)) if match else None


# Devices ------------------------------------------------------------------------------------------


class MlxDevice(Device):
    """One MLX device, with the interface of accelbench.backends.torch.devices.Device."""

    framework = "mlx"
    gpu = False

    def mlx_device(self) -> Any:
        """``mx.cpu`` or ``mx.gpu``: the device whose default stream runs this device's work."""
        mx = _mx()
        return mx.gpu if self.gpu else mx.cpu

    def stream(self) -> Any:
        """``with device.stream():`` runs MLX operations on this device."""
        return _mx().stream(self.mlx_device())

    def _probe(self) -> str | None:
        error = import_error()
        if error:
            return error
        reason = self._platform_reason()
        if reason:
            return reason
        mx = _mx()
        with self.stream():
            x = mx.ones((256, 256))
            total = (x @ x).sum()
            # A convolution too: on CUDA it needs cuDNN, which a matmul does not load.
            conv = mx.conv2d(mx.ones((1, 8, 8, 4)), mx.ones((4, 3, 3, 4)), padding=1)
            centre = conv[0, 4, 4, 0]
            mx.eval(total, centre)
        value, middle = total.item(), centre.item()
        if value != 256.0**3 or middle != 3 * 3 * 4:
            return f"{self.label} gave wrong results for a matmul and a convolution"
        return None

    def _platform_reason(self) -> str | None:
        return None

    def synchronize(self, result: Any = None) -> None:
        """Wait for everything queued on this device's stream (MLX evaluates asynchronously)."""
        _mx().synchronize(self.mlx_device())

    def reset_memory(self) -> None:
        _memory_call("reset_peak_memory")

    def memory(self) -> dict[str, int]:
        """MLX's allocator: the peak since ``reset_memory`` and what is in use now."""
        return {
            "allocated_peak_bytes": int(_memory_call("get_peak_memory")),
            "allocated_active_bytes": int(_memory_call("get_active_memory")),
        }

    def empty_cache(self) -> None:
        _memory_call("clear_cache")

    def memory_available_bytes(self) -> int:
        """What one step may allocate before the device runs out (checked before large steps)."""
        return int(psutil.virtual_memory().available)

    def dtype_unsupported_reason(self, dtype: str) -> str | None:
        if dtype == "tf32":
            return self._tf32_reason()
        if dtype in ("fp16", "bf16"):
            return _dtype_probe(self.name, dtype)
        return None

    def _tf32_reason(self) -> str | None:
        return f"tf32 is a tensor-core mode of NVIDIA GPUs and Apple M5, not of {self.label}"

    def float32_mode(self) -> str:
        """How MLX computes float32 matmuls here: "fp32", or "tf32" where TF32 is on and runs."""
        return "fp32"

    def is_out_of_memory(self, exc: BaseException) -> bool:
        if isinstance(exc, MemoryError):
            return True
        text = str(exc).lower()
        return isinstance(exc, RuntimeError) and any(
            marker in text
            for marker in (
                "out of memory",
                "insufficient memory",
                "[metal::malloc]",
                "maximum allowed buffer size",
                "cudamalloc",
                "can't allocate",
            )
        )


class MlxCpuDevice(MlxDevice):
    name = "cpu"

    @property
    def label(self) -> str:
        return f"{cpu_brand()} (CPU, MLX)"


class MlxMetalDevice(MlxDevice):
    """An Apple GPU through MLX's Metal backend."""

    name = "mps"
    gpu = True

    def _platform_reason(self) -> str | None:
        mx = _mx()
        reason = metal_unavailable_reason(
            sys.platform, platform.machine(), bool(mx.metal.is_available()), mx.__version__
        )
        hosted = hosted_runner_reason()
        return reason or (f"MLX Metal GPU {hosted}" if hosted else None)

    @property
    def label(self) -> str:
        cores = apple_gpu_cores()
        cores_text = f", {cores} GPU cores" if cores else ""
        return f"{cpu_brand()} GPU (MLX Metal{cores_text})"

    def memory_available_bytes(self) -> int:
        info = _device_info(self)
        limit = info.get("max_recommended_working_set_size") or super().memory_available_bytes()
        return max(0, int(limit) - int(_memory_call("get_active_memory")))

    def _tf32_reason(self) -> str | None:
        generation = apple_generation(cpu_brand())
        if generation is None or generation < 5:
            return super()._tf32_reason()
        return None if tf32_enabled() else _tf32_off_reason()

    def float32_mode(self) -> str:
        return "fp32" if self._tf32_reason() else "tf32"


class MlxCudaDevice(MlxDevice):
    """An NVIDIA GPU through MLX's CUDA backend (cuBLASLt and cuDNN)."""

    name = "cuda"
    gpu = True

    def _platform_reason(self) -> str | None:
        return cuda_unavailable_reason(
            sys.platform,
            bool(_mx().cuda.is_available()),
            installed_cuda_wheels(),
            dist_version("mlx-cpu"),
        )

    @property
    def label(self) -> str:
        return f"{_device_info(self).get('device_name', 'NVIDIA GPU')} (MLX CUDA)"

    def memory_available_bytes(self) -> int:
        """The GPU's free memory. MLX's CUDA allocator may use managed memory, which does not
        fail cleanly when it runs out: large steps are checked against this first."""
        info = _device_info(self)
        free = info.get("free_memory")
        return int(free) if free is not None else super().memory_available_bytes()

    def _tf32_reason(self) -> str | None:
        major = int(_device_info(self).get("compute_capability_major", 0) or 0)
        if major < 8:
            return f"tf32 needs an Ampere or newer GPU, not {self.label}"
        return None if tf32_enabled() else _tf32_off_reason()

    def float32_mode(self) -> str:
        return "fp32" if self._tf32_reason() else "tf32"


def _tf32_off_reason() -> str:
    return (
        f"tf32 with MLX needs {TF32_VAR}=1 in the environment before the run: MLX reads it "
        f"once per process, and the suite sets it to {STRICT_FP32} so that fp32 is strict fp32"
    )


DEVICE_TYPES: dict[str, type[MlxDevice]] = {
    "cpu": MlxCpuDevice,
    "mps": MlxMetalDevice,
    "cuda": MlxCudaDevice,
}
assert tuple(DEVICE_TYPES) == DEVICE_NAMES


@functools.cache
def get_device(name: str) -> MlxDevice:
    """The one MLX Device object for the suite's device ``name``; probed lazily."""
    return DEVICE_TYPES[name]()


def _device_info(device: MlxDevice) -> dict[str, Any]:
    mx = _mx()
    try:
        return dict(mx.device_info(device.mlx_device()))
    except Exception:  # informative only; older MLX has mx.metal.device_info alone
        return {}


def _memory_call(name: str) -> Any:
    """``mx.<name>()``; MLX before 0.24 had the memory functions under ``mx.metal`` only."""
    mx = _mx()
    function = getattr(mx, name, None) or getattr(mx.metal, name)
    return function()


@functools.cache
def _dtype_probe(device_name: str, dtype: str) -> str | None:
    """A small convolution and matmul in ``dtype`` on the device: None when both run."""
    device = get_device(device_name)
    mx = _mx()
    reduced = mlx_dtype(dtype)
    try:
        with device.stream():
            x = mx.ones((1, 8, 8, 4), dtype=reduced)
            y = mx.conv2d(x, mx.ones((4, 3, 3, 4), dtype=reduced), padding=1)
            z = (y.reshape(8, 32) @ mx.ones((32, 2), dtype=reduced)).sum()
            mx.eval(z)
        value = z.item()
    except Exception as exc:
        return f"{dtype} does not run with MLX on {device.label}: {first_line(exc)}"
    if not value > 0:
        return f"{dtype} convolution with MLX on {device.label} gave a wrong result ({value})"
    return None


# The environment an MLX number depends on ------------------------------------------------------


def environment(load: bool = True) -> dict[str, Any]:
    """Versions, devices and settings; problems are reported as text, never raised.

    Package versions come from their metadata; MLX's own facts need the import, which
    ``load=False`` avoids.
    """
    info: dict[str, Any] = {
        "mlx": dist_version("mlx"),
        "mlx-metal": dist_version("mlx-metal"),
        "mlx-cpu": dist_version("mlx-cpu"),
        **{name: dist_version(name) for name in CUDA_WHEELS},
    }
    if not load:
        info[TF32_VAR] = os.environ.get(TF32_VAR)
        return info
    error = import_error()  # sets MLX_ENABLE_TF32 unless the user did
    info[TF32_VAR] = os.environ.get(TF32_VAR)
    info["import_error"] = error
    if error:
        return info
    try:
        mx = _mx()
        info.update(
            mlx_runtime=mx.__version__,
            default_device=str(mx.default_device()),
            metal_available=bool(mx.metal.is_available()),
            cuda_available=bool(mx.cuda.is_available()),
            tf32_enabled=tf32_enabled(),
            devices={
                name: {
                    "usable": device.usable,
                    "label": device.label if device.usable else None,
                    "reason": device.unusable_reason,
                    "float32_mode": device.float32_mode() if device.usable else None,
                }
                for name, device in ((n, get_device(n)) for n in DEVICE_NAMES)
            },
        )
        if info["metal_available"] or info["cuda_available"]:
            info["gpu_info"] = {k: v for k, v in mx.device_info(mx.gpu).items()}
    except Exception as exc:  # environment facts must never break a run
        info["error"] = first_line(exc)
    return info
