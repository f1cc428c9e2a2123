"""Quantized weights of the language model: their names in a case, their formats and bytes.

People who run a language model locally run it with quantized weights (llama-bench's tables
are Q4_0/Q4_K, mlx-lm's default models are 4-bit). A case names its weights with a bare name
part of its variant, ``ctx-w4-L=512`` (the variant grammar, ``accelbench.core.spec``); a
variant without one (``ctx-L=512``) is the unquantized model in the run's dtype, as before.

Weight-only quantization: the matmul weights (q/k/v, out, gate/up, down, and the head) are
stored as integers in groups along the input dimension, each group with a scale (and a
zero point or bias); activations, norms, the cache and the embedding lookup stay in the
run's dtype. Each framework uses its own kernels, so each has its own formats:

- PyTorch: ``w4`` is int4 in groups of 64 with a scale and a zero point per group (the
  tinygemm layout of torch's ``_weight_int4pack_mm``, what torchao's int4 weight-only
  config uses); ``w8`` is int8 with one scale per output channel (torch's
  ``_weight_int8pack_mm``, torchao's int8 weight-only default). No group-wise int8 kernel
  exists there.
- MLX: ``mx.quantize``'s affine format (what ``mlx.nn.quantize`` and mlx-lm use): ``w4``
  and ``w8`` in groups of 64, a scale and a bias per group.

Bytes per generated token count what a step reads: the packed integers and the scales (and
zero points) of every quantized matrix, plus what stays unquantized. Nothing here imports a
framework: the read side can use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from accelbench.core.spec import W4, W8, WEIGHTS, weights_of

if TYPE_CHECKING:  # llm_model imports torch
    from accelbench.workloads.llm_model import LlmSize

__all__ = ["W4", "W8", "WEIGHTS", "weights_of"]  # the names, from the variant grammar


MATRICES = ("qkv", "out", "gate_up", "down")  # a layer's matmul weights, by module name


def is_matrix(name: str) -> bool:
    """A weight that a decode step multiplies by (the embedding table only as a tied head)."""
    owner, _, attribute = name.rpartition(".")
    return attribute == "weight" and (owner.rpartition(".")[2] in MATRICES or owner == "head")


def quantized_as(name: str, tied: bool) -> str | None:
    """The name a drawn weight is quantized under: a matrix its own; a tied embedding table
    ``head.weight`` (the head reads it whole, the lookup one row, unquantized); None for a
    weight kept in the run's dtype."""
    if is_matrix(name):
        return name
    return "head.weight" if name == "embed.weight" and tied else None


@dataclass(frozen=True)
class WeightFormat:
    """How one quantized matrix (rows = outputs, cols = inputs) is stored.

    ``group_size``: inputs sharing one scale; None: one group per row (per output channel).
    ``scale_fields``: numbers stored per group (2: a scale and a zero point or bias; 1: a
    scale only).
    """

    name: str
    bits: int
    group_size: int | None
    scale_fields: int

    def groups(self, cols: int) -> int:
        return 1 if self.group_size is None else cols // self.group_size

    def matrix_bytes(self, rows: int, cols: int, scale_itemsize: int) -> int:
        """The packed integers and the scales (and zero points) of a rows x cols matrix."""
        packed = rows * cols * self.bits // 8
        return packed + rows * self.groups(cols) * self.scale_fields * scale_itemsize


TORCH_FORMATS = {
    W4: WeightFormat(W4, bits=4, group_size=64, scale_fields=2),
    W8: WeightFormat(W8, bits=8, group_size=None, scale_fields=1),
}
MLX_FORMATS = {
    W4: WeightFormat(W4, bits=4, group_size=64, scale_fields=2),
    W8: WeightFormat(W8, bits=8, group_size=64, scale_fields=2),
}


def weights_name(implementation: str, weights: str) -> str:
    """The variant's curve with its weights: ``("ctx", "w4")`` -> ``"ctx-w4"``; ``("ctx", "")``
    -> ``"ctx"``."""
    return f"{implementation}-{weights}" if weights else implementation


def matrix_shapes(size: LlmSize) -> list[tuple[int, int]]:
    """(rows, cols) of every matrix a decode step multiplies by: each layer's q/k/v, out,
    gate/up and down, then the head over the vocabulary (the embedding table when tied)."""
    d, hd = size.d_model, size.head_dim
    layer = [
        ((size.heads + 2 * size.kv_heads) * hd, d),
        (d, size.heads * hd),
        (2 * size.ffn, d),
        (d, size.ffn),
    ]
    return layer * size.layers + [(size.vocab, d)]


def quantized_weight_bytes(size: LlmSize, fmt: WeightFormat, scale_itemsize: int) -> int:
    """The bytes of every quantized matrix of the model, packed, with its scales."""
    return sum(fmt.matrix_bytes(r, c, scale_itemsize) for r, c in matrix_shapes(size))


def unquantized_bytes_per_token(size: LlmSize, itemsize: int) -> int:
    """What a quantized model still reads in the run's dtype per token: the norm weights and
    the one embedding row the lookup reads."""
    return (2 * size.layers + 1) * size.d_model * itemsize + size.d_model * itemsize
