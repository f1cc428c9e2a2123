"""Reduced precision that a CPU only emulates, found before a case spends minutes on one step.

A CPU without fp16 kernels (x86 without AVX-512 FP16 or AMX-FP16) computes fp16 through
conversions. On a 2-core AMD EPYC VM (AVX-512 BF16, no FP16) under load, fp16 autocast
made ResNet18, the CNN and the Transformer 6 to 22 times slower than fp32, and one ResNet18
training step took 4 to 6 minutes: the time the step limit would cost just to find out.

So, once per session and dtype, a linear layer and a convolution are timed in fp32 and
under autocast in the dtype (the path the models take), in CPU time on one thread. Where
the slower of the two is more than ``EMULATED_RATIO`` times slower in the dtype, the dtype
counts as emulated, and a CPU case in it is estimated before it runs: the CPU time of one
eager step of its fp32 twin (same shapes, the cheap one) on one thread times that ratio,
divided by PyTorch's threads. The ratio is the worse layer's, so
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
from accelbench.core.workload import SEED

EMULATED_RATIO = 10.0
PROBE_N = 512
REDUCED = {"fp16": "float16", "bf16": "bfloat16"}


def probe_inputs() -> tuple[Any, ...]:
    """The probe layers' fp32 tensors, seeded: a 512x512 input and weight (a linear layer),
    a batch of 8 images of 64 channels at 32x32 and a 3x3 kernel of 64 to 64 channels (NCHW,
    OIHW; a convolution); another framework's probe converts these same numbers."""
    import torch

    generator = torch.Generator().manual_seed(SEED)
    shapes = ((PROBE_N, PROBE_N), (PROBE_N, PROBE_N), (8, 64, 32, 32), (64, 64, 3, 3))
    return tuple(torch.randn(shape, generator=generator) for shape in shapes)


def layer_times_s(
    dtype: str | None = None, clock: Callable[[], float] = time.thread_time
) -> list[float]:
    """CPU time of the probe layers (linear, convolution) in PyTorch on the CPU, on one thread:
    in fp32, or under ``dtype`` autocast. One thread, since other programs take wall time
    from a multi-threaded kernel (on a busy 2-core VM the wall-time ratio of the linear
    layer ranged from 3 to 34), not CPU time."""
    import torch

    x, w, images, kernel = probe_inputs()
    layers = [
        lambda: torch.nn.functional.linear(x, w),
        lambda: torch.nn.functional.conv2d(images, kernel, padding=1),
    ]

    def under_autocast(layer: Callable[[], Any]) -> Callable[[], Any]:
        def call() -> Any:
            with torch.autocast("cpu", dtype=getattr(torch, REDUCED[dtype])):
                return layer()

        return call if dtype in REDUCED else layer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the work runs in this thread, so its CPU time is the cost
    try:
        with torch.inference_mode():
            return [fastest_s(under_autocast(layer), clock) for layer in layers]
    finally:
        torch.set_num_threads(threads)


@functools.cache
def cpu_slowdown(dtype: str) -> float:
    """How many times slower the slower of the two probe layers runs on the CPU under
    ``dtype`` autocast than in fp32 (``layer_times_s``). Measured on a busy 2-core VM: fp16
    linear about 5x, convolution 65 to 100x; bf16 0.4-0.6x."""
    return max(r / f for r, f in zip(layer_times_s(dtype), layer_times_s()))


@functools.cache
def twin_cpu_s(twin_cls: Any, twin_spec: CaseSpec) -> float:
    """CPU time of one step of the PyTorch CPU case ``twin_spec`` on one thread, measured
    once per session (the cases of several dtypes, frameworks and the data-parallel case of
    one model share it). CPU time, as the probe layers': on a busy 2-core VM the fp32 CNN's
    training step took 0.8 s of wall time on two threads and 0.05 s of CPU time on one."""
    import torch

    from accelbench.backends.torch.devices import get_device

    cpu = get_device("cpu")
    workload = twin_cls(twin_spec, cpu)

    def step() -> None:
        workload.step()
        cpu.synchronize()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fastest_s(step, time.process_time)
    finally:
        torch.set_num_threads(threads)


def estimate_from_twin(
    twin_cls: Any,
    twin_spec: CaseSpec,
    ratio: float,
    layers: str,
    twin: str = "fp32",
    threads: int = 1,
) -> tuple[float, str]:
    """The CPU time of one step of the PyTorch CPU case ``twin_spec`` (the fast one;
    ``twin`` names it) times ``ratio`` (how much slower ``layers`` run than the twin's),
    shared by ``threads`` threads as if they scaled perfectly, and how that was estimated.
    Load from other programs is left out: it only adds."""
    cpu_s = twin_cpu_s(twin_cls, twin_spec)
    shared = f", shared by {threads} threads" if threads > 1 else ""
    return cpu_s * ratio / threads, (
        f"estimated: one {twin} step took {cpu_s:.3g} s of CPU time on one thread and {layers} "
        f"run {ratio:.0f}x slower than {twin} on this CPU{shared}"
    )


def estimate_from_fp32(workload_cls: Any, spec: CaseSpec, device: Any) -> tuple[float, str] | None:
    """For a CPU case in an emulated dtype: one eager fp32 step of the same case times the
    slowdown, and how that was estimated; None where the dtype is not emulated (or the case
    is not on the CPU)."""
    if spec.device != "cpu" or spec.dtype not in REDUCED:
        return None
    ratio = cpu_slowdown(spec.dtype)
    if ratio < EMULATED_RATIO:
        return None
    import torch

    twin_spec = dataclasses.replace(spec, dtype="fp32", mode=EAGER)
    threads = torch.get_num_threads()
    return estimate_from_twin(
        workload_cls, twin_spec, ratio, f"{spec.dtype} layers", "fp32", threads
    )
