"""The machine's ceilings in MLX: a large matmul and a large copy, as accelbench.workloads.ceiling.

Same variants, sizes, FLOP and byte counts as the PyTorch ceilings. The matmul's operands are
the PyTorch twin's (built on the CPU from the fixed seed) cast to the run's dtype; the copy's
source is filled on the device with the same pattern, and a step copies it into a new
buffer (``mx.asarray(src, copy=True)``: one read and one write of every element, queued on
the device). Parity is checked as for PyTorch: the first rows of the product against the
PyTorch CPU's, and sampled positions of the copy against the fill pattern.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from accelbench.backends.mlx.workload import MlxWorkload
from accelbench.core.spec import CaseSpec
from accelbench.workloads.ceiling import (
    BYTES_PER_ELEMENT,
    COPY,
    MATMUL,
    PARITY_ROWS,
    Ceiling,
    copy_bytes,
    copy_pattern,
    copy_sample_indices,
    matmul_flops,
)


class MlxCeiling(MlxWorkload):
    name = Ceiling.name
    phases = Ceiling.phases
    modes = Ceiling.modes  # one library kernel each: nothing for a compiler to fuse
    SIZES = Ceiling.SIZES
    twin = Ceiling

    def __init__(self, spec: CaseSpec, device: Any) -> None:
        if spec.variant not in (MATMUL, COPY):
            raise ValueError(
                f"ceiling variant must be {MATMUL!r} or {COPY!r}, not {spec.variant!r}"
            )
        super().__init__(spec, device)

    def setup(self, twin: Any) -> None:
        mx = self.mx
        self.dtype = self.compute_dtype or mx.float32
        if self.spec.variant == MATMUL:
            self.a = mx.array(twin.a.numpy()).astype(self.dtype)
            self.b = mx.array(twin.b.numpy()).astype(self.dtype)
            mx.eval(self.a, self.b)
        else:
            index = mx.arange(self.size.copy_elements, dtype=mx.int32)
            self.src = copy_pattern(index).astype(self.dtype)
            mx.eval(self.src)

    @property
    def item_unit(self) -> str:  # type: ignore[override]
        return "matmuls" if self.spec.variant == MATMUL else "bytes"

    @property
    def items_per_step(self) -> int:
        return 1 if self.spec.variant == MATMUL else self.bytes_per_step() or 0

    def make_step(self) -> Callable[[], Any]:
        if self.spec.variant == MATMUL:
            return lambda: self.a @ self.b
        return lambda: self.mx.asarray(self.src, copy=True)

    def output_dtype(self) -> Any:
        return self.a.dtype if self.spec.variant == MATMUL else self.src.dtype

    def flops_per_step(self) -> int | None:
        return matmul_flops(self.size.matmul_n) if self.spec.variant == MATMUL else None

    def bytes_per_step(self) -> int | None:
        if self.spec.variant == COPY:
            return copy_bytes(self.size.copy_elements, self.spec.dtype)
        return None

    def parity_outputs(self) -> dict[str, np.ndarray]:
        mx = self.mx
        with self.device.stream():
            if self.spec.variant == MATMUL:
                rows = min(PARITY_ROWS, self.size.matmul_n)
                return {f"C[:{rows}]": self.to_numpy(self._step()[:rows])}
            indices = copy_sample_indices(self.size.copy_elements)
            taken = mx.take(self._step(), mx.array(indices.astype(np.int32)))
            return {"dst[sample]": self.to_numpy(taken)}

    def shapes(self) -> dict[str, Any]:
        if self.spec.variant == MATMUL:
            n = self.size.matmul_n
            return {"m": n, "n": n, "k": n}
        return {
            "elements": self.size.copy_elements,
            "bytes_per_element": BYTES_PER_ELEMENT[self.spec.dtype],
        }
