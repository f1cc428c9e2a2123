"""Reduced precision that a CPU only emulates, found before a case spends minutes on one step.

A CPU without fp16 kernels (x86 without AVX-512 FP16 or AMX-FP16) computes fp16 through
conversions. On a 2-core AMD EPYC VM (AVX-512 BF16, no FP16) under load, fp16 autocast
made ResNet18, the CNN and the Transformer 6 to 22 times slower than fp32, and one ResNet18
training step took 4 to 6 minutes: the time the step limit would cost just to find out.

So, once per session and dtype, a linear layer and a convolution are timed in fp32 and
under autocast in the dtype (the path the models take), in CPU time on one thread. Where
the slower of the two is more than ``EMULATED_RATIO`` times slower in the dtype, the dtype
counts as emulated, and a CPU case in it is estimated before it runs: one eager step of its
fp32 twin (same shapes, the cheap one) times that ratio. The ratio is the worse layer's, so
it overestimates models made mostly of the other; the runner acts on an estimate only well
over the limit (``accelbench.core.measure.ESTIMATE_MARGIN``).

Only workloads that run under autocast are estimated this way
(``TorchWorkload.runs_under_autocast``). Those that cast their tensors themselves take
other paths (a plain fp16 matmul ran at 0.3 GFLOP/s, 150 to 500 times fp32, but fp16 sdpa
near fp32 speed): the sweep's memory of slow lengths and the matmul ceiling's own estimate
cover them.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any

from accelbench.core.measure import fastest_s
from accelbench.core.spec import EAGER, CaseSpec

EMULATED_RATIO = 10.0
PROBE_N = 512
REDUCED = {"fp16": "float16", "bf16": "bfloat16"}


@functools.cache
def cpu_slowdown(dtype: str) -> float:
    """How many times slower the slower of two common layers runs on the CPU under
    ``dtype`` autocast than in fp32: a 512x512 linear layer and a 3x3 convolution (64
    channels, 8x32x32), in CPU time on one thread. Other programs take wall time from both
    (on a busy 2-core VM the wall-time ratio of the linear layer ranged from 3 to 34), not
    CPU time. Measured there: fp16 linear about 5x, convolution 65 to 100x; bf16 0.4-0.6x."""
    import torch

    x, w = torch.randn(PROBE_N, PROBE_N), torch.randn(PROBE_N, PROBE_N)
    conv, images = torch.nn.Conv2d(64, 64, 3, padding=1), torch.randn(8, 64, 32, 32)
    layers = [lambda: torch.nn.functional.linear(x, w), lambda: conv(images)]

    def under_autocast(layer: Callable[[], Any]) -> Callable[[], Any]:
        def call() -> Any:
            with torch.autocast("cpu", dtype=getattr(torch, REDUCED[dtype])):
                return layer()

        return call

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the work runs in this thread, so its CPU time is the cost
    try:
        with torch.inference_mode():
            return max(
                fastest_s(under_autocast(layer), time.thread_time)
                / fastest_s(layer, time.thread_time)
                for layer in layers
            )
    finally:
        torch.set_num_threads(threads)


def estimate_from_fp32(workload_cls: Any, spec: CaseSpec, device: Any) -> tuple[float, str] | None:
    """For a CPU case in an emulated dtype: one eager fp32 step of the same case times the
    slowdown, and how that was estimated; None where the dtype is not emulated (or the case
    is not on the CPU)."""
    if spec.device != "cpu" or spec.dtype not in REDUCED:
        return None
    ratio = cpu_slowdown(spec.dtype)
    if ratio < EMULATED_RATIO:
        return None
    twin = workload_cls(dataclasses.replace(spec, dtype="fp32", mode=EAGER), device)

    def step() -> None:
        twin.step()
        device.synchronize()

    fp32_s = fastest_s(step)
    return fp32_s * ratio, (
        f"estimated: one fp32 step took {fp32_s:.3g} s and {spec.dtype} layers run "
        f"{ratio:.0f}x slower than fp32 on this CPU"
    )
