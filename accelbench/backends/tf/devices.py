"""TensorFlow devices: the suite's cpu, mps and cuda mapped onto TensorFlow's, behind one guard.

``import tensorflow`` is slow, noisy and can fail in ways other than ImportError: on a Mac,
tensorflow-metal 1.2.0 loads inside ``import tensorflow`` and a TensorFlow newer than 2.19
makes the whole import fail with a missing symbol. So TensorFlow is imported once, only
when a TF case runs, inside ``_import_tf``: a failure becomes ``import_error()``'s text and
every TF case skips with it, while the PyTorch cases run.

Device names: "cpu" is ``/CPU:0``; "mps" is ``/GPU:0`` when that GPU is Apple's Metal
plugin (macOS arm64 with tensorflow-metal); "cuda" is ``/GPU:0`` when it is an NVIDIA GPU.
TensorFlow places an op on the CPU when the device asked for cannot run it (soft device
placement), so every probe checks where its result actually lives.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.metadata
import importlib.util
import io
import os
import platform
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from accelbench.core.device import Device, SampledRss, cpu_brand, first_line, hosted_runner_reason

DEVICE_NAMES = ("cpu", "mps", "cuda")

LOG_LEVEL_VAR = "TF_CPP_MIN_LOG_LEVEL"
QUIET_LOG_LEVEL = "2"  # TensorFlow's C++ INFO and WARNING lines off, ERROR and FATAL kept
METAL_PLUGIN = "tensorflow-metal"
METAL_PYTHONS = "3.9-3.12"  # tensorflow-metal 1.2.0 publishes wheels for these only
METAL_LAST_PYTHON = (3, 12)
# The suite's dtype names as TensorFlow's, the one place they are looked up: tf32 is float32
# with TensorFlow's TF32 execution on (``set_precision``); fp16 and bf16 are reduced.
DTYPE_NAMES = {"fp32": "float32", "tf32": "float32", "fp16": "float16", "bf16": "bfloat16"}
REDUCED = ("fp16", "bf16")


def keras_policy(dtype: str) -> str:
    """Keras mixed precision: float32 variables, compute in the reduced dtype (as autocast)."""
    return f"mixed_{DTYPE_NAMES[dtype]}" if dtype in REDUCED else "float32"


def dtype_name(tf_name: str, float32_mode: str) -> str:
    """The suite's name of a TensorFlow dtype that ran: float32 is ``float32_mode``."""
    if tf_name == "float32":
        return float32_mode
    names = {DTYPE_NAMES[d]: d for d in REDUCED}
    return names.get(tf_name, tf_name)


# The guarded import ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TfImport:
    """The outcome of importing TensorFlow and Keras once in this process."""

    tf: Any = None
    keras: Any = None
    error: str | None = None
    memory_growth: dict[str, str] = field(default_factory=dict)


@functools.cache
def _import_tf() -> TfImport:
    os.environ.setdefault(LOG_LEVEL_VAR, QUIET_LOG_LEVEL)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    _load_llvm_users_first()
    with _without_native_info_logs():
        try:  # TensorFlow first, so that its own error is the one reported
            tf = importlib.import_module("tensorflow")
            keras = importlib.import_module("keras")
            backend = keras.backend.backend()
        except Exception as exc:  # a broken plugin raises NotFoundError, not ImportError
            return TfImport(error=_import_reason(exc))
        if backend != "tensorflow":
            return TfImport(
                error="TensorFlow benchmarks need the Keras backend 'tensorflow', "
                f"KERAS_BACKEND selects {backend!r}"
            )
        growth = _allow_memory_growth(tf)
    return TfImport(tf=tf, keras=keras, memory_growth=growth)


def import_error() -> str | None:
    """None when TensorFlow and Keras import and work; otherwise one line saying why not."""
    return _import_tf().error


def modules() -> tuple[Any, Any]:
    """``(tensorflow, keras)``, imported through the guard; only once ``import_error()`` is None.

    Workloads take the modules from here rather than importing them: TensorFlow cannot be
    imported twice in one process (its C++ registries abort), which a fresh ``import``
    would attempt after something (pytester's in-process runs) dropped it from sys.modules.
    """
    state = _import_tf()
    if state.tf is None:
        raise RuntimeError(state.error)
    return state.tf, state.keras


def _tf() -> Any:
    return modules()[0]


def _load_llvm_users_first() -> None:
    """Import triton (when installed, as with PyTorch's CUDA wheels) before TensorFlow.

    Both carry their own LLVM. PyTorch imports triton lazily, when the first optimizer is
    built (torch._dynamo checks for it); after TensorFlow is loaded, that import crashes
    the process with a segmentation fault (triton 3.8 and TensorFlow 2.21, Linux). In the
    other order both work, and importing triton takes a tenth of a second.
    """
    if importlib.util.find_spec("triton") is None:
        return
    with contextlib.suppress(Exception):  # a broken triton is PyTorch's concern, not ours
        import triton  # noqa: F401


def _import_reason(exc: BaseException) -> str:
    reason = f"TensorFlow unusable: {first_line(exc)}"
    metal = dist_version(METAL_PLUGIN)
    if metal and ("metal" in str(exc).lower() or "tensorflow-plugins" in str(exc)):
        tf_version = dist_version("tensorflow") or "?"
        reason += (
            f" (tensorflow-metal {metal} does not load into tensorflow {tf_version}; "
            f"install tensorflow>=2.18,<2.19 as requirements.txt pins it, "
            f"or uninstall tensorflow-metal for the CPU only)"
        )
    return reason


def _allow_memory_growth(tf: Any) -> dict[str, str]:
    """Let TensorFlow's GPU allocator grow instead of taking nearly all GPU memory at its
    first op, so PyTorch in the same process keeps room. Must run before any TF op.

    Metal GPUs are left alone: their memory is unified and managed by the plugin.
    """
    if sys.platform == "darwin":
        return {}
    outcome = {}
    try:
        gpus = tf.config.list_physical_devices("GPU")
    except Exception as exc:  # a GPU platform that fails to initialize: the probes will say
        return {"GPU": f"not listed: {first_line(exc)}"}
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
            outcome[gpu.name] = "on"
        except (RuntimeError, ValueError) as exc:  # runtime already initialized
            outcome[gpu.name] = f"not set: {first_line(exc)}"
    return outcome


# TensorFlow's C++ logging -------------------------------------------------------------------

# TF 2.21 logs through absl before absl is initialized: those lines ignore TF_CPP_MIN_LOG_LEVEL.
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
# "I0000 00:00:1795935033.078521    5990 port.cc:153] ...": severity, MMDD, time (absl writes
# seconds since the epoch where it has no time zone yet), thread, file:line.
_RECORD_START = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ ]+:\d+\] ")


def drop_info_records(text: str) -> str:
    """``text`` (native stderr) without absl INFO records and absl's preamble line.

    A record runs from its ``I0000 hh:mm:ss.us thread file:line]`` header to the next
    header; WARNING, ERROR and FATAL records and any other text are kept as they are.
    """
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith(_ABSL_PREAMBLE):
            dropping = True
            continue
        if _RECORD_START.match(line):
            dropping = line.startswith("I")
        elif not line.strip():
            dropping = False
        if not dropping:
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def _without_native_info_logs() -> Iterator[None]:
    """Hold back TensorFlow's C++ INFO lines written to file descriptor 2 during the import.

    What the C++ side writes is collected in a temporary file and written back to stderr
    afterwards without its INFO records; Python's own stderr is set aside and written back
    untouched, so warnings and error text are never lost. ``TF_CPP_MIN_LOG_LEVEL=0``
    keeps everything.
    """
    try:
        saved_fd = os.dup(2) if os.environ.get(LOG_LEVEL_VAR) != "0" else None
    except OSError:  # no file descriptor 2: nothing to hold back
        saved_fd = None
    if saved_fd is None:
        yield
        return
    python_stderr, sys.stderr = sys.stderr, io.StringIO()
    with tempfile.TemporaryFile() as native:
        os.dup2(native.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            held, sys.stderr = sys.stderr, python_stderr
            native.seek(0)
            text = drop_info_records(native.read().decode(errors="replace"))
            if text:
                os.write(2, text.encode())
            if held.getvalue():
                sys.stderr.write(held.getvalue())


# Facts without importing TensorFlow -------------------------------------------------------------


def dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def metal_unavailable_reason(
    system: str,
    machine: str,
    python: tuple[int, int],
    plugin_version: str | None,
    gpu_count: int,
    tf_version: str,
) -> str | None:
    """Why TensorFlow cannot use an Apple GPU through Metal here, or None when it can."""
    prefix = "TensorFlow Metal GPU not available"
    if system != "darwin":
        return f"{prefix}: {system} is not macOS"
    if machine != "arm64":
        return f"{prefix}: needs Apple Silicon, this Mac is {machine}"
    if plugin_version is None:
        if python > METAL_LAST_PYTHON:
            return (
                f"{prefix}: tensorflow-metal is not installed, and it has no wheels for "
                f"Python {python[0]}.{python[1]} (the Metal GPU needs Python {METAL_PYTHONS})"
            )
        return (
            f"{prefix}: tensorflow-metal is not installed "
            "(pip install -r requirements.txt installs it with a TensorFlow it loads into)"
        )
    if gpu_count == 0:
        return (
            f"{prefix}: tensorflow-metal {plugin_version} is installed but "
            f"TensorFlow {tf_version} lists no GPU"
        )
    return None


def cuda_unavailable_reason(
    system: str, built_with_cuda: bool, gpu_details: list[dict[str, Any]], tf_version: str
) -> str | None:
    """Why TensorFlow cannot use an NVIDIA GPU here, or None when it can."""
    prefix = "TensorFlow CUDA GPU not available"
    if system == "darwin":
        return f"{prefix}: TensorFlow has no CUDA on macOS"
    if not built_with_cuda:
        return f"{prefix}: TensorFlow {tf_version} was built without CUDA"
    if not gpu_details:
        return (
            f"{prefix}: TensorFlow {tf_version} sees no NVIDIA GPU (no driver or device; "
            "on Linux, pip install 'tensorflow[and-cuda]' brings the CUDA libraries)"
        )
    if "compute_capability" not in gpu_details[0]:
        return f"{prefix}: GPU:0 is {gpu_details[0].get('device_name', 'not an NVIDIA GPU')}"
    return None


def _python() -> tuple[int, int]:
    return sys.version_info[0], sys.version_info[1]


# Devices ------------------------------------------------------------------------------------------


class TfDevice(Device):
    """One TensorFlow device, with the interface of accelbench.backends.torch.devices.Device."""

    framework = "tf"
    tf_name: str

    def _probe(self) -> str | None:
        error = import_error()
        if error:
            return error
        reason = self._platform_reason()
        if reason:
            return reason
        tf = _tf()
        with tf.device(self.tf_name):
            x = tf.ones((256, 256))
            y = tf.reduce_sum(x @ x)
            # A convolution too: on CUDA it needs cuDNN, which a matmul does not load.
            conv = tf.nn.conv2d(tf.ones((1, 8, 8, 4)), tf.ones((3, 3, 4, 4)), 1, "SAME")
        for op, result in (("matmul", y), ("convolution", conv)):
            if not _placed_on(result, self.tf_name):
                return f"{self.name}: TensorFlow ran a {op} on {result.device}, not {self.tf_name}"
        value, centre = float(y.numpy()), float(conv[0, 4, 4, 0].numpy())
        if value != 256.0**3 or centre != 3 * 3 * 4:
            return f"{self.label} gave wrong results for a matmul and a convolution"
        return None

    def _platform_reason(self) -> str | None:
        return None

    def scope(self) -> Any:
        """``with device.scope():`` places ops and variables on this device."""
        return _tf().device(self.tf_name)

    def synchronize(self, result: Any = None) -> None:
        tf = _tf()
        sync = getattr(tf.test.experimental, "sync_devices", None)
        if sync is not None:
            sync()
            return
        with tf.device(self.tf_name):  # older TF: a result read back follows queued work
            tf.constant(0.0).numpy()

    def dtype_unsupported_reason(self, dtype: str) -> str | None:
        if dtype in REDUCED:
            return _dtype_probe(self.name, dtype)
        return super().dtype_unsupported_reason(dtype)

    def set_precision(self, dtype: str) -> None:
        """TensorFlow computes float32 convolutions and matmuls in TF32 on NVIDIA GPUs by
        default; "fp32" turns that off (process-wide), "tf32" turns it on."""
        _tf().config.experimental.enable_tensor_float_32_execution(dtype == "tf32")

    def is_out_of_memory(self, exc: BaseException) -> bool:
        if isinstance(exc, MemoryError):
            return True
        if import_error() is None and isinstance(exc, _tf().errors.ResourceExhaustedError):
            return True
        text = str(exc)
        return "OOM when allocating" in text or "out of memory" in text.lower()


class TfCpuDevice(SampledRss, TfDevice):
    name = "cpu"
    tf_name = "/CPU:0"

    @property
    def label(self) -> str:
        return f"{cpu_brand()} (CPU, TensorFlow, {intra_op_threads()} threads)"


class TfGpuDevice(TfDevice):
    """``/GPU:0``: memory from TensorFlow's allocator where the plugin reports it."""

    tf_name = "/GPU:0"

    def __init__(self) -> None:
        self._has_peak_counter = False
        self._current_peak = 0
        self._memory_error: str | None = None

    def _memory_info(self) -> dict[str, int] | None:
        try:
            return _tf().config.experimental.get_memory_info("GPU:0")
        except Exception as exc:  # a plugin without memory statistics
            self._memory_error = first_line(exc)
            return None

    def reset_memory(self) -> None:
        self._current_peak = 0
        try:
            _tf().config.experimental.reset_memory_stats("GPU:0")
            self._has_peak_counter = True
        except Exception:  # no peak counter: sample the current figure instead
            self._has_peak_counter = False
        self.sample_memory()

    def sample_memory(self) -> None:
        if self._has_peak_counter:
            return
        info = self._memory_info()
        if info:
            self._current_peak = max(self._current_peak, int(info.get("current", 0)))

    def memory(self) -> dict[str, int]:
        if self._has_peak_counter:
            info = self._memory_info()
            if info:
                return {"allocated_peak_bytes": int(info["peak"])}
        if self._memory_error is None:
            return {"allocated_peak_sampled_bytes": self._current_peak}
        return {}


class TfMetalDevice(TfGpuDevice):
    """An Apple GPU through Apple's tensorflow-metal PluggableDevice."""

    name = "mps"

    def _platform_reason(self) -> str | None:
        tf = _tf()
        reason = metal_unavailable_reason(
            sys.platform,
            platform.machine(),
            _python(),
            dist_version(METAL_PLUGIN),
            len(tf.config.list_physical_devices("GPU")),
            tf.__version__,
        )
        hosted = hosted_runner_reason()
        return reason or (f"TensorFlow Metal GPU {hosted}" if hosted else None)

    @property
    def label(self) -> str:
        return f"{cpu_brand()} GPU (Metal, TensorFlow)"


class TfCudaDevice(TfGpuDevice):
    name = "cuda"

    def _platform_reason(self) -> str | None:
        tf = _tf()
        return cuda_unavailable_reason(
            sys.platform, tf.test.is_built_with_cuda(), _gpu_details(), tf.__version__
        )

    @property
    def label(self) -> str:
        details = _gpu_details()
        name = details[0].get("device_name", "NVIDIA GPU") if details else "NVIDIA GPU"
        return f"{name} (CUDA, TensorFlow)"

    def dtype_unsupported_reason(self, dtype: str) -> str | None:
        if dtype == "tf32":
            capability = _gpu_details()[0].get("compute_capability") or (0, 0)
            if tuple(capability) < (8, 0):
                return f"tf32 needs an Ampere or newer GPU, not {self.label}"
            return None
        return super().dtype_unsupported_reason(dtype)

    def float32_mode(self) -> str:
        enabled = _tf().config.experimental.tensor_float_32_execution_enabled()
        return "tf32" if enabled else "fp32"


DEVICE_TYPES: dict[str, type[TfDevice]] = {
    "cpu": TfCpuDevice,
    "mps": TfMetalDevice,
    "cuda": TfCudaDevice,
}
assert tuple(DEVICE_TYPES) == DEVICE_NAMES


@functools.cache
def get_device(name: str) -> TfDevice:
    """The one TensorFlow Device object for the suite's device ``name``; probed lazily."""
    return DEVICE_TYPES[name]()


def _placed_on(tensor: Any, tf_name: str) -> bool:
    """Whether an eager tensor lives on ``tf_name`` ("/GPU:0" matches ".../device:GPU:0")."""
    kind, index = tf_name.strip("/").split(":")
    return tensor.device.upper().endswith(f"{kind}:{index}".upper())


def _gpu_details() -> list[dict[str, Any]]:
    tf = _tf()
    details = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            details.append(dict(tf.config.experimental.get_device_details(gpu)))
        except Exception:  # details are informative only
            details.append({})
    return details


@functools.cache
def _dtype_probe(device_name: str, dtype: str) -> str | None:
    """A small convolution and matmul in ``dtype`` on the device: None when both run there."""
    device = get_device(device_name)
    tf = _tf()
    try:
        with tf.device(device.tf_name):
            x = tf.ones((1, 8, 8, 4), dtype=DTYPE_NAMES[dtype])
            kernel = tf.ones((3, 3, 4, 4), dtype=DTYPE_NAMES[dtype])
            y = tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
            z = tf.reduce_sum(tf.reshape(y, (8, 32)) @ tf.ones((32, 2), dtype=y.dtype))
        placed = _placed_on(y, device.tf_name) and _placed_on(z, device.tf_name)
        value = float(tf.cast(z, tf.float32).numpy())
    except Exception as exc:
        return f"{dtype} does not run with TensorFlow on {device.label}: {first_line(exc)}"
    if not placed:
        return f"{dtype} convolutions fall back from {device.label} to {y.device}"
    if not value > 0:
        return f"{dtype} convolution on {device.label} gave a wrong result ({value})"
    return None


def intra_op_threads() -> int:
    """Threads of TensorFlow's kernel pool: the configured number, or (0 = default) the CPUs
    this process may run on, which is what TensorFlow then uses."""
    configured = _tf().config.threading.get_intra_op_parallelism_threads()
    if configured:
        return int(configured)
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


# The environment a TF number depends on ---------------------------------------------------------


def environment(load: bool = True) -> dict[str, Any]:
    """Versions, devices and settings; problems are reported as text, never raised.

    Package versions come from their metadata; TensorFlow's own facts (devices, build,
    threads) need the import, which ``load=False`` avoids.
    """
    error = import_error() if load else None  # first: the import sets TF_CPP_MIN_LOG_LEVEL
    info: dict[str, Any] = {
        "tensorflow": dist_version("tensorflow"),
        "keras": dist_version("keras"),
        "tensorflow-metal": dist_version(METAL_PLUGIN),
        LOG_LEVEL_VAR: os.environ.get(LOG_LEVEL_VAR),
    }
    if not load:
        return info
    info["import_error"] = error
    if error:
        return info
    try:
        tf = _tf()
        build = dict(tf.sysconfig.get_build_info())
        info.update(
            tensorflow_runtime=tf.__version__,
            built_with_cuda=build.get("is_cuda_build", False),
            cuda_version=build.get("cuda_version"),
            cudnn_version=build.get("cudnn_version"),
            physical_devices=[d.name for d in tf.config.list_physical_devices()],
            gpu_details=_gpu_details(),
            memory_growth=_import_tf().memory_growth,
            soft_device_placement=tf.config.get_soft_device_placement(),
            tensor_float_32_execution=tf.config.experimental.tensor_float_32_execution_enabled(),
            intra_op_threads=intra_op_threads(),
            inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads(),
            devices={
                name: {
                    "usable": device.usable,
                    "label": device.label if device.usable else None,
                    "reason": device.unusable_reason,
                }
                for name, device in ((n, get_device(n)) for n in DEVICE_NAMES)
            },
        )
    except Exception as exc:  # environment facts must never break a run
        info["error"] = first_line(exc)
    return info
