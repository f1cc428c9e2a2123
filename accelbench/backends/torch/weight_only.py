"""Weight-only quantized linear layers through torch's own kernels.

The one module that touches torch's non-public operators for quantized weights (tests:
``tests/test_llm_quant.py``). They are the kernels torchao's weight-only configs call
(int4 "tensor core tiled" and "int4 cpu" layouts, int8 weight-only), used here directly so
that quantized cases need no extra package:

- int4, groups of ``GROUP_SIZE`` with a scale and a zero point each (tinygemm's convention:
  ``w = (q - 8) * scale + zero``, q in 0..15): ``aten._weight_int4pack_mm`` on CUDA (bf16
  activations only), ``aten._weight_int4pack_mm_for_cpu`` on the CPU, each with its own
  packing (``_convert_weight_to_int4pack[_for_cpu]``).
- int8, one scale per output channel (``w = q * scale``, q in -128..127):
  ``aten._weight_int8pack_mm``, on the CPU and CUDA.

On MPS torch has such kernels too, but they are not tried here (no Mac to check them
against): an MPS case skips with that reason.

Quantization is done once on the host in fp32 from the fp32 weights, with the scales and
zero points rounded to bf16 (what the CUDA kernel stores), so the quantized weights are the
same numbers on every device and in every dtype; ``dequantized`` gives them back as an fp32
matrix, for a reference that computes with exactly these weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from accelbench.core.spec import DTYPES as SUITE_DTYPES

GROUP_SIZE = 64
INT4_LEVELS = 15
INT8_MAX = 127
OPS = {
    "w4": {"cpu": "_weight_int4pack_mm_for_cpu", "cuda": "_weight_int4pack_mm"},
    "w8": {"cpu": "_weight_int8pack_mm", "cuda": "_weight_int8pack_mm"},
}
# Activation dtypes each kernel takes (the run's dtype; tf32 runs fp32 tensors).
DTYPES = {
    ("w4", "cpu"): SUITE_DTYPES,
    ("w4", "cuda"): ("bf16",),
    ("w8", "cpu"): SUITE_DTYPES,
    ("w8", "cuda"): SUITE_DTYPES,
}


def unsupported_reason(weights: str, device_type: str, dtype: str) -> str | None:
    """Why ``weights`` cannot run on ``device_type`` in ``dtype`` here; None when they can."""
    op = OPS[weights].get(device_type)
    if op is None:
        return (
            f"{weights} on {device_type}: torch's weight-only kernels are wired for the CPU "
            "and CUDA only (not tried on this device)"
        )
    if not _has_kernel(op, device_type):
        return f"{weights} on {device_type}: this torch {torch.__version__} has no {op} kernel"
    if dtype not in DTYPES[weights, device_type]:
        allowed = ", ".join(DTYPES[weights, device_type])
        return f"{weights} on {device_type}: torch's {op} takes {allowed} activations, not {dtype}"
    return None


def _has_kernel(op: str, device_type: str) -> bool:
    if not hasattr(torch.ops.aten, op):
        return False
    key = {"cpu": "CPU", "cuda": "CUDA"}[device_type]
    return torch._C._dispatch_has_kernel_for_dispatch_key(f"aten::{op}", key)


def _bf16(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.bfloat16).float()


def quantize_int4(
    weight: torch.Tensor, group_size: int = GROUP_SIZE
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """fp32 (rows, cols) -> codes (rows, cols) int32 in 0..15, scales and zero points
    (rows, cols // group_size) fp32 holding bf16 values; asymmetric, from each group's range."""
    rows, cols = weight.shape
    if cols % group_size:
        raise ValueError(f"{cols} inputs are not a whole number of groups of {group_size}")
    groups = weight.float().reshape(rows, cols // group_size, group_size)
    low, high = groups.amin(-1), groups.amax(-1)
    scales = _bf16(((high - low) / INT4_LEVELS).clamp(min=1e-8))
    zeros = _bf16(low + scales * 8)
    codes = ((groups - zeros[..., None]) / scales[..., None]).round() + 8
    return codes.clamp(0, INT4_LEVELS).to(torch.int32).reshape(rows, cols), scales, zeros


def dequantize_int4(codes: torch.Tensor, scales: torch.Tensor, zeros: torch.Tensor) -> torch.Tensor:
    rows, cols = codes.shape
    groups = codes.reshape(rows, scales.shape[1], -1).float() - 8
    return (groups * scales[..., None] + zeros[..., None]).reshape(rows, cols)


def quantize_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """fp32 (rows, cols) -> codes int8 and one scale per row (fp32 holding a bf16 value);
    symmetric, from each row's largest magnitude."""
    scales = _bf16((weight.float().abs().amax(1) / INT8_MAX).clamp(min=1e-8))
    codes = (weight.float() / scales[:, None]).round().clamp(-INT8_MAX - 1, INT8_MAX)
    return codes.to(torch.int8), scales


def dequantize_int8(codes: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    return codes.float() * scales[:, None]


class WeightOnlyLinear(nn.Module):
    """``x @ w.T`` with ``w`` stored quantized; input of any leading shape, in ``dtype``."""

    def __init__(self, rows: int, cols: int) -> None:
        super().__init__()
        self.rows, self.cols = rows, cols

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.matmul(x.reshape(-1, self.cols))
        return y.reshape(*x.shape[:-1], self.rows)

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def stored_bytes(self) -> int:
        """What a forward pass reads of the weights: the packed integers and the scales."""
        return sum(b.numel() * b.element_size() for b in self.buffers())


class Int4Linear(WeightOnlyLinear):
    def __init__(self, weight: torch.Tensor, dtype: torch.dtype, device: Any) -> None:
        super().__init__(*weight.shape)
        codes, scales, zeros = quantize_int4(weight)
        # (groups, rows, 2): each group's scale and zero point, as both kernels take them.
        self.register_buffer(
            "scale_and_zero",
            torch.stack([scales, zeros], -1)
            .transpose(0, 1)
            .contiguous()
            .to(device=device, dtype=dtype),
        )
        device = torch.device(device)
        self.on_cuda = device.type == "cuda"
        if self.on_cuda:
            tiles = next(t for t in (8, 4, 2) if self.cols % (16 * t) == 0)
            pairs = (codes[:, ::2] << 4 | codes[:, 1::2]).to(torch.uint8).to(device)
            packed = torch.ops.aten._convert_weight_to_int4pack(pairs, tiles)
        else:
            packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(codes.to(device), 2)
        self.register_buffer("packed", packed)

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        if self.on_cuda:
            return torch.ops.aten._weight_int4pack_mm(
                x, self.packed, GROUP_SIZE, self.scale_and_zero
            )
        return torch.ops.aten._weight_int4pack_mm_for_cpu(
            x, self.packed, GROUP_SIZE, self.scale_and_zero
        )


class Int8Linear(WeightOnlyLinear):
    def __init__(self, weight: torch.Tensor, dtype: torch.dtype, device: Any) -> None:
        super().__init__(*weight.shape)
        codes, scales = quantize_int8(weight)
        self.register_buffer("codes", codes.to(device))
        self.register_buffer("scales", scales.to(device=device, dtype=dtype))

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.aten._weight_int8pack_mm(x, self.codes, self.scales)


LINEARS = {"w4": Int4Linear, "w8": Int8Linear}


def quantized_linear(
    weights: str, weight: torch.Tensor, dtype: torch.dtype, device: Any
) -> WeightOnlyLinear:
    """``weight`` (fp32, rows x cols, on the host) quantized as ``weights`` names, on ``device``."""
    return LINEARS[weights](weight, dtype, device)


def dequantized(weights: str, weight: torch.Tensor) -> torch.Tensor:
    """The fp32 matrix the quantized ``weight`` stands for: what the kernels multiply by."""
    if weights == "w4":
        return dequantize_int4(*quantize_int4(weight))
    return dequantize_int8(*quantize_int8(weight))
