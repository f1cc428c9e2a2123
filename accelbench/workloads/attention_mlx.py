"""Self-attention alone in MLX, swept over sequence lengths: the PyTorch sweep's twin.

``naive``: ``softmax(q k^T / sqrt(d)) v`` as two matmuls and a softmax (computed in float32,
as PyTorch's softmax accumulates), holding the L x L scores. ``sdpa``:
``mx.fast.scaled_dot_product_attention``, MLX's fused attention. Same variants
(``naive-L=128``, ``sdpa-L=4096``), shapes, seeded q, k, v and output gradient as
accelbench.workloads.attention; fp16 and bf16 cast q, k and v directly. Training is forward
and backward to q, k and v (``mx.vjp`` with the seeded output gradient).

Before the first step the memory it needs is compared with what the device has: on the CPU
with the host's available memory (Linux's overcommit would otherwise kill the session), on
CUDA with the GPU's free memory (MLX's CUDA allocator may use managed memory, which does
not fail cleanly), on Metal with the recommended working set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from accelbench.backends.mlx.workload import MlxWorkload
from accelbench.core.spec import CaseSpec, parse_length_variant
from accelbench.workloads.attention import (
    GIB,
    IMPLEMENTATIONS,
    NAIVE_SCORE_MATRICES,
    Attention,
    attention_flops,
)


def attention_step_bytes(
    shape: tuple[int, int, int, int], itemsize: int, phase: str, implementation: str
) -> int:
    """About the most memory one step holds at once: q, k, v and the output (and their
    gradients in training), plus the naive version's L x L score matrices."""
    b, h, n, d = shape
    vectors = (8 if phase == "train" else 4) * b * h * n * d
    matrices = NAIVE_SCORE_MATRICES[phase] if implementation == "naive" else 0
    return (vectors + matrices * b * h * n * n) * itemsize


class MlxAttention(MlxWorkload):
    name = Attention.name
    item_unit = Attention.item_unit
    SIZES = Attention.SIZES
    twin = Attention
    # Batched (head_dim 64) matmuls, not the probe's layers: the probe's 44x made a naive
    # L=2048 step 84 s on a busy 2-core VM, where a run under less load took 6 s. Bounded
    # by the step limit and the sweep's memory of slow lengths instead.
    estimated_from_twin = False

    def __init__(self, spec: CaseSpec, device: Any) -> None:
        point = parse_length_variant(spec.variant)
        if point is None or point[0] not in IMPLEMENTATIONS:
            raise ValueError(
                f"attention variant {spec.variant!r}: expected '<implementation>-L=<length>' "
                f"with implementation one of {', '.join(IMPLEMENTATIONS)}"
            )
        self.implementation, self.length = point
        self._memory_checked = False
        super().__init__(spec, device)

    def setup(self, twin: Any) -> None:
        mx = self.mx
        dtype = self.compute_dtype or mx.float32
        q, k, v = (mx.array(t.detach().numpy()).astype(dtype) for t in twin.inputs)
        self.q, self.k, self.v = q, k, v
        self.grad_output = mx.array(twin.targets.numpy()).astype(dtype)
        mx.eval(self.q, self.k, self.v, self.grad_output)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.size.batch, self.size.heads, self.length, self.size.head_dim)

    def attend(self, q: Any, k: Any, v: Any) -> Any:
        mx = self.mx
        scale = q.shape[-1] ** -0.5
        if self.implementation == "sdpa":
            return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale)
        scores = (q * scale) @ k.swapaxes(-1, -2)
        return mx.softmax(scores, axis=-1, precise=True) @ v

    def make_step(self) -> Callable[[], Any]:
        if not self.training:
            return lambda: self.attend(self.q, self.k, self.v)

        def train_step() -> Any:
            outputs, grads = self.mx.vjp(
                lambda q, k, v: self.attend(q, k, v),
                [self.q, self.k, self.v],
                [self.grad_output],
            )
            return [*outputs, *grads]

        return train_step

    def step(self) -> Any:
        if not self._memory_checked:
            self._check_memory()
        return super().step()

    def output_dtype(self) -> Any:
        return self.attend(self.q, self.k, self.v).dtype

    def parity_outputs(self) -> dict[str, np.ndarray]:
        """The first (batch, head) pair only, as PyTorch's sweep checks; a compiled case runs
        a whole compiled step (its kernels at the timed shapes) and keeps the first pair."""
        mx = self.mx
        if self.compiled:
            with self.device.stream():
                result = self._step()
                if not self.training:
                    return {"output": self.to_numpy(result[:1, :1])}
                output, *grads = (t[:1, :1] for t in result)
                outputs = {"output": self.to_numpy(output)}
                outputs.update({f"grad[{n}]": self.to_numpy(g) for n, g in zip("qkv", grads)})
                return outputs
        q, k, v = (t[:1, :1] for t in (self.q, self.k, self.v))
        with self.device.stream():
            if not self.training:
                return {"output": self.to_numpy(self.attend(q, k, v))}
            (output,), grads = mx.vjp(
                lambda q, k, v: self.attend(q, k, v), [q, k, v], [self.grad_output[:1, :1]]
            )
            outputs = {"output": self.to_numpy(output)}
            outputs.update({f"grad[{n}]": self.to_numpy(g) for n, g in zip("qkv", grads)})
        return outputs

    @property
    def items_per_step(self) -> int:
        return self.size.batch * self.length

    def shapes(self) -> dict[str, Any]:
        return {
            "batch": self.size.batch,
            "heads": self.size.heads,
            "length": self.length,
            "head_dim": self.size.head_dim,
            "implementation": self.implementation,
            "input": list(self.input_shape),
        }

    def flops_per_step(self) -> int:
        b, h, n, d = self.input_shape
        return attention_flops(b, h, n, d, self.spec.phase)

    def step_bytes(self) -> int:
        return attention_step_bytes(
            self.input_shape, self.q.itemsize, self.spec.phase, self.implementation
        )

    def _check_memory(self) -> None:
        """Raise MemoryError before a step that cannot fit in what the device has free."""
        self._memory_checked = True
        needed, available = self.step_bytes(), self.device.memory_available_bytes()
        if needed > available:
            raise MemoryError(
                f"attention {self.spec.variant} {self.spec.phase} needs about "
                f"{needed / GIB:.1f} GiB for one step; {available / GIB:.1f} GiB available "
                f"on {self.device.label}"
            )
