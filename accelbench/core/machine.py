"""The facts a number depends on: chip, OS, GPU, framework versions and settings.

Saved into pytest-benchmark's ``machine_info["accelbench"]`` and printed by
``python -m accelbench sysinfo``.
"""

from __future__ import annotations

import platform
import sys
from typing import Any

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


def collect(frameworks: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The system's facts, and each framework's (all registered ones when None).

    Facts come from each backend's ``environment()``; a framework missing from
    ``frameworks`` is not imported.
    """
    from accelbench import backends

    info: dict[str, Any] = {"system": system_info()}
    for name in backends.names() if frameworks is None else frameworks:
        info[ENVIRONMENT_KEYS.get(name, name)] = backends.get(name).environment()
    return info


# Saved runs name each framework's facts by the framework's package ("tensorflow").
ENVIRONMENT_KEYS = {"tf": "tensorflow"}


def format_info(info: dict[str, Any], indent: int = 0) -> str:
    lines = []
    for key, value in info.items():
        if isinstance(value, dict):
            lines.append(" " * indent + f"{key}:")
            lines.append(format_info(value, indent + 2))
        else:
            lines.append(" " * indent + f"{key}: {value}")
    return "\n".join(lines)
