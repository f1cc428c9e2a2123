"""The facts a PyTorch number depends on: versions, devices, math modes, MPS fallback."""

from __future__ import annotations

import os
from typing import Any

import torch

from accelbench.backends.torch.devices import DEVICE_NAMES, fallback_enabled, get_device


def environment(load: bool = True) -> dict[str, Any]:
    """PyTorch is always imported (a hard requirement), so ``load`` changes nothing."""
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
    for name in DEVICE_NAMES:
        device = get_device(name)
        devices[name] = {
            "usable": device.usable,
            "label": device.label if device.usable else None,
            "reason": device.unusable_reason,
        }
    info["devices"] = devices
    return info
