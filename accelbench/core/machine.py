"""The facts a number depends on: chip, OS, GPU, framework versions and settings.

``python -m accelbench sysinfo`` prints them all. A saved run splits them: pytest-benchmark's
``machine_info["accelbench"]`` holds only what identifies the machine (``machine_facts``),
since pytest-benchmark compares machine_info between runs; what varies with options,
environment variables or the run's own settings (``run_facts``) goes into the run's own
``accelbench`` block.

Each framework's facts come from its backend's ``environment()``, through the frameworks'
registry (``accelbench.backends``) that the caller passes in: core imports no backend.
"""

from __future__ import annotations

import platform
import sys
from typing import Any, Protocol

import psutil

from accelbench.core.device import apple_gpu_cores, cpu_brand


def system_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu": cpu_brand(),
        "cpu_cores_logical": psutil.cpu_count(logical=True),
        "cpu_cores_physical": psutil.cpu_count(logical=False),
        "memory_bytes": psutil.virtual_memory().total,
        "os": platform.system(),
        "os_version": platform.mac_ver()[0] if sys.platform == "darwin" else platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    if sys.platform == "darwin":
        info["apple_gpu_cores"] = apple_gpu_cores()
        info["unified_memory_bytes"] = info["memory_bytes"]
    return info


class Registry(Protocol):
    """What these facts need of the frameworks' registry (``accelbench.backends``)."""

    def names(self) -> tuple[str, ...]: ...

    def get(self, name: str) -> Any: ...


def collect(registry: Registry, frameworks: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The system's facts, and each framework's (all registered ones when None).

    Facts come from each backend's ``environment()``; a framework missing from
    ``frameworks`` is not imported.
    """
    info: dict[str, Any] = {"system": system_info()}
    for name in registry.names() if frameworks is None else frameworks:
        info[ENVIRONMENT_KEYS.get(name, name)] = registry.get(name).environment()
    return info


# Saved runs name each framework's facts by the framework's package ("tensorflow").
ENVIRONMENT_KEYS = {"tf": "tensorflow"}


# torch facts that an option, an environment variable or the run itself sets (the suite
# turns TF32 off for fp32): not facts of the machine.
RUN_SETTINGS = (
    "torch_threads",
    "PYTORCH_ENABLE_MPS_FALLBACK",
    "mps_fallback_enabled",
    "cudnn_benchmark",
    "cudnn_allow_tf32",
    "cuda_matmul_allow_tf32",
    "float32_matmul_precision",
)


def machine_facts(registry: Registry) -> dict[str, Any]:
    """What identifies the machine: system facts, and torch's without ``RUN_SETTINGS``.

    PyTorch is the one framework every run imports, so its facts (GPU name, CUDA and cuDNN
    versions, MPS built and available) name the machine; other frameworks' facts depend on
    which were selected and go into ``run_facts``.
    """
    torch = registry.get("torch").environment()
    return {
        "system": system_info(),
        "torch": {k: v for k, v in torch.items() if k not in RUN_SETTINGS},
    }


def run_facts(registry: Registry, frameworks: tuple[str, ...]) -> dict[str, Any]:
    """What this run's options and environment decide: the frameworks selected, torch's
    ``RUN_SETTINGS`` as they stand, the facts of every other selected framework."""
    torch = registry.get("torch").environment()
    info: dict[str, Any] = {
        "frameworks": list(frameworks),
        "torch": {k: torch.get(k) for k in RUN_SETTINGS},
    }
    for name in frameworks:
        if name != "torch":
            info[ENVIRONMENT_KEYS.get(name, name)] = registry.get(name).environment()
    return info


def format_info(info: dict[str, Any], indent: int = 0) -> str:
    lines = []
    for key, value in info.items():
        if isinstance(value, dict):
            lines.append(" " * indent + f"{key}:")
            lines.append(format_info(value, indent + 2))
        else:
            lines.append(" " * indent + f"{key}: {value}")
    return "\n".join(lines)
