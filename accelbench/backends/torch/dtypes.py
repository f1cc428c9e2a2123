"""The suite's dtype names (accelbench.core.spec.DTYPES) as PyTorch dtypes, both ways: the
one place the PyTorch workloads and devices look them up."""

from __future__ import annotations

import torch

# What a case computes in; tf32 is float32 with TF32 math switched on (``set_precision``).
TORCH_DTYPES = {
    "fp32": torch.float32,
    "tf32": torch.float32,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}
_NAMES = {dtype: name for name, dtype in TORCH_DTYPES.items() if dtype != torch.float32}


def torch_dtype(name: str) -> torch.dtype:
    return TORCH_DTYPES[name]


def reduced_dtype(name: str) -> torch.dtype | None:
    """The reduced precision of ``name`` (autocast's dtype), or None for float32."""
    dtype = TORCH_DTYPES[name]
    return None if dtype == torch.float32 else dtype


def dtype_name(dtype: torch.dtype, float32_mode: str) -> str:
    """The suite's name of a dtype that ran: float32 is ``float32_mode`` ("fp32" or "tf32")."""
    if dtype == torch.float32:
        return float32_mode
    return _NAMES.get(dtype, str(dtype))
