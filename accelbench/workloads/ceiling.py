"""The machine's own ceilings: a large matmul (FLOP/s) and a large copy (bytes/s) per device.

Reports give each workload's TFLOP/s as a share of the matmul ceiling measured on the same
device, in the same dtype, in the same run: a measured figure, not a datasheet one.

- ``matmul``: C = A @ B with square n x n operands in the run's dtype (no autocast);
  2 * n**3 FLOPs per step (one multiply and one add per term).
- ``copy``: dst.copy_(src) over a buffer well beyond the caches; bytes per step counts the
  read of src and the write of dst (2 * elements * bytes per element), as bandwidth tests do.

The parity check stays affordable at large sizes: the CPU reference of the matmul computes
only the first ``PARITY_ROWS`` rows (row i of A @ B needs only row i of A), and the copy is
checked at sampled positions against the fill pattern, with no CPU-sized buffer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from accelbench.core.ceilings import (
    BYTES_PER_ELEMENT,
    CEILING_SIZES,
    CEILING_VARIANTS,
    CEILING_WORKLOAD,
    COPY,
    MATMUL,
    PEAK,
    copy_bytes,
    matmul_flops,
)
from accelbench.core.measure import fastest_s
from accelbench.core.spec import CaseSpec
from accelbench.core.workload import SEED, Workload

PARITY_ROWS = 128
PROBE_ROWS = 8  # rows of the matmul that estimate the whole one's time
COPY_SAMPLES = 4096
PATTERN_PERIOD = 251  # fill values (i % 251) - 125 are exact in fp32, fp16 and bf16


def copy_pattern(indices: Any) -> Any:
    """The source buffer's value at each index (works on numpy arrays and torch tensors)."""
    return indices % PATTERN_PERIOD - (PATTERN_PERIOD // 2)


class Ceiling(Workload):
    name = CEILING_WORKLOAD
    framework = "torch"
    phases = (PEAK,)
    SIZES = CEILING_SIZES

    # No batch sweep (MAX_SWEEP_BATCH stays None): a ceiling is one large op, not a batch.

    @classmethod
    def variants(cls, size: str) -> list[str]:
        return list(CEILING_VARIANTS)

    def __init__(self, spec: Any, device: Any) -> None:
        super().__init__(spec, device)
        if spec.variant not in CEILING_VARIANTS:
            raise ValueError(
                f"ceiling variant must be {MATMUL!r} or {COPY!r}, not {spec.variant!r}"
            )
        import torch

        from accelbench.backends.torch.dtypes import torch_dtype

        self.torch = torch
        self.torch_device = device.torch_device()
        self.dtype = torch_dtype(spec.dtype)
        self._out: Any = None
        self._src: Any = None
        if spec.variant == MATMUL:
            n = self.size.matmul_n
            generator = torch.Generator().manual_seed(SEED)
            # Built on the CPU in fp32 from one seed, so every device starts from the same numbers.
            self.a = torch.randn(n, n, generator=generator).to(self.torch_device, self.dtype)
            self.b = torch.randn(n, n, generator=generator).to(self.torch_device, self.dtype)

    # The contract ---------------------------------------------------------------------------

    @property
    def item_unit(self) -> str:  # type: ignore[override]
        return "matmuls" if self.spec.variant == MATMUL else "bytes"

    @property
    def items_per_step(self) -> int:
        return 1 if self.spec.variant == MATMUL else self.bytes_per_step() or 0

    def step(self) -> Any:
        if self.spec.variant == MATMUL:
            if self._out is None:
                self._out = self.torch.empty_like(self.a)
            return self.torch.mm(self.a, self.b, out=self._out)
        src, dst = self._copy_buffers()
        return dst.copy_(src)

    def flops_per_step(self) -> int | None:
        return matmul_flops(self.size.matmul_n) if self.spec.variant == MATMUL else None

    @classmethod
    def estimated_step_s(cls, spec: CaseSpec, device: Any) -> tuple[float, str] | None:
        """The matmul's time from its first PROBE_ROWS rows (row i of A @ B needs row i of A
        and all of B), scaled by n / PROBE_ROWS. The probe streams the whole of B as the step
        does, so it keeps the rate of a kernel that slows down with size: fp16 on a CPU
        without fp16 kernels ran at 1.6 GFLOP/s at 512^3 but 0.27 at 2048^3 and 4096^3 (a
        4096^3 step took 8 minutes), and its first 8 rows at 0.19. A fast kernel is
        underestimated: fp32's 8 rows ran at 10 GFLOP/s, the whole matmul at 43."""
        n = cls.SIZES[spec.size].matmul_n
        if spec.variant != MATMUL or n <= PROBE_ROWS:
            return None
        import torch

        from accelbench.backends.torch.dtypes import torch_dtype

        dtype = torch_dtype(spec.dtype)
        generator = torch.Generator().manual_seed(SEED)
        rows = torch.randn(PROBE_ROWS, n, generator=generator).to(device.torch_device(), dtype)
        b = torch.randn(n, n, generator=generator).to(device.torch_device(), dtype)

        def probe() -> None:
            torch.mm(rows, b)
            device.synchronize()

        probe_s = fastest_s(probe)
        return probe_s * n / PROBE_ROWS, (
            f"estimated: {PROBE_ROWS} rows of the {spec.dtype} matmul took {probe_s:.3g} s here"
        )

    def bytes_per_step(self) -> int | None:
        if self.spec.variant == COPY:
            return copy_bytes(self.size.copy_elements, self.spec.dtype)
        return None

    def parity_outputs(self) -> dict[str, np.ndarray]:
        on_cpu = self.spec.device == "cpu"
        if self.spec.variant == MATMUL:
            rows = min(PARITY_ROWS, self.size.matmul_n)
            # The CPU reference computes only the checked rows; the device runs the timed step.
            out = self.a[:rows] @ self.b if on_cpu else self.step()[:rows]
            return {f"C[:{rows}]": out.detach().float().cpu().numpy()}
        indices = self._sample_indices()
        if on_cpu:  # a copy is exact: the expected values are the fill pattern itself
            expected = copy_pattern(indices.astype(np.int64)).astype(np.float32)
            return {"dst[sample]": expected}
        dst = self.step()
        taken = dst[self.torch.from_numpy(indices).to(self.torch_device)]
        return {"dst[sample]": taken.float().cpu().numpy()}

    def shapes(self) -> dict[str, Any]:
        if self.spec.variant == MATMUL:
            n = self.size.matmul_n
            return {"m": n, "n": n, "k": n}
        return {
            "elements": self.size.copy_elements,
            "bytes_per_element": BYTES_PER_ELEMENT[self.spec.dtype],
        }

    def dtype_ran(self) -> str:
        tensor = self.a if self.spec.variant == MATMUL else self._copy_buffers()[1]
        # A float32 tensor computes in tf32 on NVIDIA when the device was set up for it.
        float32_mode = getattr(self.device, "float32_mode", lambda: "fp32")
        from accelbench.backends.torch.dtypes import dtype_name

        return dtype_name(tensor.dtype, float32_mode())

    def threads(self) -> int | None:
        return self.torch.get_num_threads()

    # Internals ------------------------------------------------------------------------------

    def _copy_buffers(self) -> tuple[Any, Any]:
        """Source and destination, filled on the device itself (no host-sized transfer)."""
        if self._src is None:
            torch = self.torch
            index = torch.arange(
                self.size.copy_elements, dtype=torch.int32, device=self.torch_device
            )
            self._src = copy_pattern(index).to(self.dtype)
            del index
            self._out = torch.empty_like(self._src)
        return self._src, self._out

    def _sample_indices(self) -> np.ndarray:
        return copy_sample_indices(self.size.copy_elements)


def copy_sample_indices(count: int) -> np.ndarray:
    """The positions of a copy checked against the fill pattern: evenly spaced, and the last."""
    step = max(1, count // COPY_SAMPLES)
    return np.unique(np.append(np.arange(0, count, step), count - 1))
