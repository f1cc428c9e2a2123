"""The facts a number depends on: chip, OS, GPU, framework versions and settings.

Saved into pytest-benchmark's ``machine_info["accelbench"]`` and printed by
``python -m accelbench sysinfo``.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

import psutil

from accelbench.devices import apple_gpu_cores, cpu_brand, fallback_enabled


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


def torch_info() -> dict[str, Any]:
    import torch

    from accelbench.devices import get_device

    info: dict[str, Any] = {
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "mps_built": torch.backends.mps.is_built(),
        "mps_available": torch.backends.mps.is_available(),
        "PYTORCH_ENABLE_MPS_FALLBACK": os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK"),
        "mps_fallback_enabled": fallback_enabled(),
        "cuda_built": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except ImportError:
        info["torchvision"] = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["cuda_device"] = props.name
        info["cuda_device_memory_bytes"] = props.total_memory
        info["cuda_capability"] = f"{props.major}.{props.minor}"
        info["cuda_multiprocessors"] = props.multi_processor_count
    devices = {}
    for name in ("cpu", "mps", "cuda"):
        device = get_device(name)
        devices[name] = {
            "usable": device.usable,
            "label": device.label if device.usable else None,
            "reason": device.unusable_reason,
        }
    info["devices"] = devices
    return info


def collect(frameworks: tuple[str, ...] = ("torch", "tf", "mlx")) -> dict[str, Any]:
    """Everything above; TensorFlow's and MLX's facts only where they are in ``frameworks``."""
    info: dict[str, Any] = {"system": system_info(), "torch": torch_info()}
    if "tf" in frameworks:
        from accelbench import tf_devices

        info["tensorflow"] = tf_devices.environment()
    if "mlx" in frameworks:
        from accelbench import mlx_devices

        info["mlx"] = mlx_devices.environment()
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
