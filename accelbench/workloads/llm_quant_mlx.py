"""The MLX language model with quantized weights, through MLX's own quantization.

``mx.quantize`` (affine, groups of 64, a scale and a bias per group: what ``mlx.nn.quantize``
and mlx-lm do) of every matmul weight: each layer's q/k/v, out, gate/up and down, and the
head (a tied head quantizes the embedding table for the head; the embedding lookup reads
the table in the run's dtype, as in the PyTorch model, ``llm_quant``). A step multiplies
with ``mx.quantized_matmul``, as mlx-lm's ``QuantizedLinear`` does.

Each matrix is quantized from its fp32 values, with the scales and biases then rounded to
bf16 (what mlx-lm's bf16 models store), so the quantized weights are the same numbers in
every dtype. ``dequantize=True`` gives them back as fp32 matrices (``mx.dequantize``): the
reference that parity checks a quantized case against.

MLX is passed in (``mx``), so importing this module never imports MLX.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from accelbench.workloads.llm_model import LlmSize, seeded_weights
from accelbench.workloads.llm_weights import WeightFormat, is_matrix, quantized_as


@dataclass(frozen=True)
class MlxQuantized:
    """One matrix as ``mx.quantize`` stores it: packed uint32 codes, scales and biases."""

    packed: Any
    scales: Any
    biases: Any
    group_size: int
    bits: int

    def matmul(self, x: Any, mx: Any) -> Any:
        """``x @ w.T``."""
        return mx.quantized_matmul(
            x,
            self.packed,
            self.scales,
            self.biases,
            transpose=True,
            group_size=self.group_size,
            bits=self.bits,
        )

    def dequantized(self, mx: Any) -> Any:
        return mx.dequantize(
            self.packed, self.scales, self.biases, group_size=self.group_size, bits=self.bits
        )

    def arrays(self) -> list[Any]:
        return [self.packed, self.scales, self.biases]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays())


def quantize(value: Any, fmt: WeightFormat, dtype: Any, mx: Any) -> MlxQuantized:
    """An fp32 matrix (MLX array) quantized as ``fmt``, scales and biases in ``dtype``."""
    packed, scales, biases = mx.quantize(value, group_size=fmt.group_size, bits=fmt.bits)
    scales, biases = (a.astype(mx.bfloat16).astype(dtype) for a in (scales, biases))
    return MlxQuantized(packed, scales, biases, fmt.group_size, fmt.bits)


def quantized_mlx_weights(
    size: LlmSize, seed: int, dtype: Any, mx: Any, fmt: WeightFormat, dequantize: bool = False
) -> Iterator[tuple[str, Any]]:
    """``llm_model_mlx.mlx_weights`` with every matmul weight quantized (or, with
    ``dequantize``, the fp32 matrix it stands for, in ``dtype``); a tied table also gives
    ``head.weight``, quantized. One matrix at a time, each evaluated before the next."""
    for name, value in seeded_weights(size, seed):
        array = mx.array(value.numpy())
        del value
        entries = []
        quantized_name = quantized_as(name, size.tied)
        if quantized_name is not None:
            quantized = quantize(array, fmt, dtype, mx)
            if dequantize:
                quantized = quantized.dequantized(mx).astype(dtype)
            entries.append((quantized_name, quantized))
        if not is_matrix(name):
            entries.append((name, array.astype(dtype)))
        for entry, weight in entries:
            mx.eval(weight.arrays() if isinstance(weight, MlxQuantized) else weight)
            yield entry, weight
