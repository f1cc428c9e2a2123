"""What a ceiling case is, said once for the workloads that measure it and the read side
that sets other cases against it: the two variants, their phase, their sizes and how many
bytes a copy moves.

- ``matmul``: C = A @ B with square n x n operands; 2 * n**3 FLOPs per step.
- ``copy``: dst.copy_(src) over a buffer well beyond the caches; a step reads src and
  writes dst, so it moves 2 * elements * bytes per element.
"""

from __future__ import annotations

from dataclasses import dataclass

CEILING_WORKLOAD = "ceiling"
PEAK = "peak"  # the ceilings' one phase: the device at its peak, not a model's step
MATMUL = "matmul"
COPY = "copy"
CEILING_VARIANTS = (MATMUL, COPY)

# tf32 keeps float32 tensors; the device computes the matmul with tensor cores (NVIDIA).
BYTES_PER_ELEMENT = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2}


@dataclass(frozen=True)
class CeilingSize:
    matmul_n: int
    copy_elements: int


# smoke: a few milliseconds on a laptop CPU. standard: 4096^3 matmul (137 GFLOP) and a
# 256 MiB copy (fp32), enough to fill an M4 GPU and the smallest size past the caches.
# full: 8192^3 (1.1 TFLOP) and 1 GiB, far beyond an H200's 50 MB L2 and long enough per
# step to hide launch overhead.
CEILING_SIZES = {
    "smoke": CeilingSize(matmul_n=256, copy_elements=1 << 20),
    "standard": CeilingSize(matmul_n=4096, copy_elements=1 << 26),
    "full": CeilingSize(matmul_n=8192, copy_elements=1 << 28),
}
# The quick profile's language model is read against them: the smallest size past the
# caches, which the shares do not mark "too small".
CEILING_SIZES["quick"] = CEILING_SIZES["standard"]


def matmul_flops(n: int) -> int:
    """FLOPs of an n x n by n x n matmul: n*n outputs, each n multiplies and n adds."""
    return 2 * n**3


def copy_bytes(elements: int, dtype: str) -> int:
    """Bytes moved by one copy of ``elements`` values: each is read once and written once."""
    return 2 * elements * BYTES_PER_ELEMENT[dtype]
