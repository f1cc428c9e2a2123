"""Self-attention alone, swept over sequence lengths, in two implementations.

``naive``: ``softmax(q k^T / sqrt(d)) v`` as two matmuls and a softmax; it materializes
the L x L score matrix, so its memory grows as L^2. ``sdpa``:
``torch.nn.functional.scaled_dot_product_attention``, which picks a fused kernel (flash,
memory-efficient, cuDNN) where the device has one and otherwise falls back to the same math.

Each variant ``<implementation>-L=<length>`` is one case, so the summary can fit how time
grows with L (``accelbench.results.views``). Inference is the forward pass; training is forward
and backward with q, k and v requiring grad (there are no weights, so no optimizer).
fp16 and bf16 cast q, k and v directly rather than through autocast, so sdpa sees inputs
its fast kernels accept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import psutil
import torch

from accelbench.backends.torch.workload import TorchWorkload, to_numpy
from accelbench.core.spec import EAGER, CaseSpec, length_variant, parse_length_variant

GIB = 2**30


@dataclass(frozen=True)
class AttentionSize:
    batch: int
    heads: int
    head_dim: int
    lengths: tuple[int, ...]


def doubling(start: int, stop: int) -> tuple[int, ...]:
    """``start, 2*start, ...`` up to and including ``stop``."""
    lengths = [start]
    while lengths[-1] * 2 <= stop:
        lengths.append(lengths[-1] * 2)
    return tuple(lengths)


def naive_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """matmul, softmax, matmul; the scale goes on q (L x d) rather than the L x L scores."""
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    return torch.softmax(scores, dim=-1) @ v


def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.scaled_dot_product_attention(q, k, v)


IMPLEMENTATIONS = {"naive": naive_attention, "sdpa": sdpa_attention}

# Score matrices (B*H*L*L elements) alive at once at the peak of one naive step: the scores
# and their softmax in a forward; about four in forward and backward. Measured on an H200
# (bf16, B*H=32, L=16384, one matrix 16 GiB): peaks of 32.9 and 65.2 GiB. sdpa's fused
# kernels work in tiles and hold none.
NAIVE_SCORE_MATRICES = {"infer": 2, "train": 4}


def attention_flops(batch: int, heads: int, length: int, head_dim: int, phase: str) -> int:
    """Matmul FLOPs of one step: q k^T and p v are 2*L*L*d each per (batch, head) forward;
    backward does two matmuls of the same size per forward matmul, so train = 3 x forward.

    A flash-style backward also recomputes q k^T (one more 2*L*L*d); that is the kernel's
    choice, not work the model asks for, so it is not counted here.
    """
    forward = 4 * batch * heads * length**2 * head_dim
    return forward if phase == "infer" else 3 * forward


def host_memory_available_bytes() -> int:
    return int(psutil.virtual_memory().available)


class AttentionOp(torch.nn.Module):
    """One implementation as a module without weights: ``forward(q, k, v)``."""

    def __init__(self, implementation: str) -> None:
        super().__init__()
        self.implementation = implementation
        self.attend = IMPLEMENTATIONS[implementation]

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return self.attend(q, k, v)


class Attention(TorchWorkload):
    """q, k, v of shape (batch, heads, length, head_dim), seeded; one attention per step.

    Parity with the CPU compares the first (batch, head) pair only: every pair runs the
    same code on the same kind of data, and one pair keeps the fp32 CPU reference at
    1/(batch*heads) of a step, affordable at L=16384 where a whole naive step on the CPU
    would need tens of GiB. A compiled case runs a whole step (the kernels compiled for the
    timed shapes) and keeps the first pair of its output and gradients.
    """

    name = "attention"
    runs_under_autocast = False  # q, k and v are cast to the compute dtype
    item_unit = "tokens"
    SIZES = {
        "smoke": AttentionSize(batch=1, heads=2, head_dim=16, lengths=(64, 128)),
        "standard": AttentionSize(batch=2, heads=8, head_dim=64, lengths=doubling(128, 4096)),
        "full": AttentionSize(batch=4, heads=8, head_dim=128, lengths=doubling(256, 16384)),
    }

    # No batch sweep (MAX_SWEEP_BATCH stays None): attention sweeps sequence length, and a
    # batch of independent (batch, head) pairs only scales the same kernels' grid.

    @classmethod
    def variants(cls, size: str) -> list[str]:
        lengths = cls.SIZES[size].lengths
        return [length_variant(impl, n) for impl in IMPLEMENTATIONS for n in lengths]

    def __init__(self, spec: CaseSpec, device: Any) -> None:
        point = parse_length_variant(spec.variant)
        if point is None or point[0] not in IMPLEMENTATIONS:
            raise ValueError(
                f"attention variant {spec.variant!r}: expected '<implementation>-L=<length>' "
                f"with implementation one of {', '.join(IMPLEMENTATIONS)}"
            )
        self.implementation, self.length = point
        super().__init__(spec, device)
        dtype = self.compute_dtype or torch.float32
        self.inputs = tuple(
            t.to(dtype=dtype).detach().requires_grad_(self.training) for t in self.inputs
        )
        self.grad_output = self.targets.to(dtype=dtype)
        self._memory_checked = False

    def build_model(self) -> Any:
        return AttentionOp(self.implementation)

    def make_batch(self, generator: Any) -> tuple[tuple[Any, ...], Any]:
        shape = self.input_shape
        q, k, v, grad_output = (torch.randn(shape, generator=generator) for _ in range(4))
        return (q, k, v), grad_output

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.size.batch, self.size.heads, self.length, self.size.head_dim)

    # The contract ---------------------------------------------------------------------------

    def forward(self) -> Any:
        """No autocast: q, k and v already hold the compute dtype."""
        output = self.model(*self.inputs)
        self._last_output_dtype = output.dtype
        return output

    def step(self) -> Any:
        if not self._memory_checked:
            self._check_host_memory()
        if not self.training:
            with torch.inference_mode():
                return self.run_forward()
        for t in self.inputs:
            t.grad = None
        output = self.run_forward()
        output.backward(self.grad_output)
        return output

    def parity_outputs(self) -> dict[str, np.ndarray]:
        if self.spec.mode != EAGER:  # the compiled kernels at the timed shapes, first pair kept
            output = self.step()
            outputs = {"output": to_numpy(output[:1, :1])}
            if self.training:
                outputs.update(
                    {f"grad[{n}]": to_numpy(t.grad[:1, :1]) for n, t in zip("qkv", self.inputs)}
                )
            return outputs
        q, k, v = (t[:1, :1].detach() for t in self.inputs)
        if not self.training:
            with torch.inference_mode():
                return {"output": to_numpy(self.model(q, k, v))}
        q, k, v = (t.clone().requires_grad_() for t in (q, k, v))
        output = self.model(q, k, v)
        output.backward(self.grad_output[:1, :1])
        outputs = {"output": to_numpy(output)}
        outputs.update({f"grad[{n}]": to_numpy(t.grad) for n, t in zip("qkv", (q, k, v))})
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
        """From the formula (``attention_flops``): torch's FLOP counter does not see inside
        the CPU's fused sdpa kernel, and counts a flash backward's recomputation."""
        b, h, n, d = self.input_shape
        return attention_flops(b, h, n, d, self.spec.phase)

    # Memory ------------------------------------------------------------------------------

    def step_bytes(self) -> int:
        """About the most memory one step holds at once."""
        b, h, n, d = self.input_shape
        itemsize = self.inputs[0].element_size()
        vectors = (8 if self.training else 4) * b * h * n * d  # q, k, v, output (+ grads)
        matrices = NAIVE_SCORE_MATRICES[self.spec.phase] if self.implementation == "naive" else 0
        return (vectors + matrices * b * h * n * n) * itemsize

    def _check_host_memory(self) -> None:
        """On the CPU, raise MemoryError before a step that cannot fit.

        An accelerator's allocator raises when it runs out; the CPU's may promise memory it
        does not have (Linux overcommit) and the kernel then kills the whole session.
        """
        self._memory_checked = True
        if self.torch_device.type != "cpu":
            return
        needed, available = self.step_bytes(), host_memory_available_bytes()
        if needed > available:
            raise MemoryError(
                f"attention {self.spec.variant} {self.spec.phase} needs about "
                f"{needed / GIB:.1f} GiB for one step; {available / GIB:.1f} GiB available"
            )
