"""The PyTorch language model with quantized weights (``w4``, ``w8``; ``llm_weights``).

The same seeded weights as ``llm_model.build``, drawn in fp32 one matrix at a time; every
matmul weight (each layer's q/k/v, out, gate/up and down, and the head) is quantized on the
host and stored packed on the device (``accelbench.backends.torch.weight_only``). A tied
head quantizes the embedding table for the head; the embedding lookup (one row per token)
reads the table in the run's dtype. Norms stay in the run's dtype.

``dequantize=True`` builds the reference for parity: the same quantized weights given back
as fp32 matrices in plain ``nn.Linear`` layers, so a CPU fp32 run computes with exactly the
weights the kernels use.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from accelbench.backends.torch import weight_only
from accelbench.workloads.llm_model import DecoderLM, LlmSize, seeded_weights
from accelbench.workloads.llm_weights import is_matrix, quantized_as


def build_quantized(
    size: LlmSize,
    dtype: torch.dtype,
    device: Any,
    seed: int,
    weights: str,
    dequantize: bool = False,
) -> DecoderLM:
    """``llm_model.build`` with the matmul weights quantized as ``weights`` names (or, with
    ``dequantize``, replaced by the fp32 matrices they stand for)."""
    with torch.device("meta"):
        model = DecoderLM(size)
    for name, value in seeded_weights(size, seed):
        quantized = quantized_as(name, size.tied)
        if quantized is not None:  # the module that multiplies by it becomes a quantized one
            parent_name, _, child = quantized.rpartition(".")[0].rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, _matrix(weights, value, dtype, device, dequantize))
        if not is_matrix(name):
            owner_name, _, attribute = name.rpartition(".")
            weight = nn.Parameter(value.to(device=device, dtype=dtype), requires_grad=False)
            setattr(model.get_submodule(owner_name), attribute, weight)
        del value
    return model.eval()


def _matrix(
    weights: str, value: torch.Tensor, dtype: torch.dtype, device: Any, dequantize: bool
) -> nn.Module:
    if not dequantize:
        return weight_only.quantized_linear(weights, value, dtype, device)
    linear = nn.Linear(value.shape[1], value.shape[0], bias=False, device="meta")
    matrix = weight_only.dequantized(weights, value).to(device=device, dtype=dtype)
    linear.weight = nn.Parameter(matrix, requires_grad=False)
    return linear


def stored_weight_bytes(model: DecoderLM) -> int:
    """The bytes of the model's quantized matrices as stored on the device."""
    return sum(
        m.stored_bytes() for m in model.modules() if isinstance(m, weight_only.WeightOnlyLinear)
    )
