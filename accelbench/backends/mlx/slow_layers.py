"""MLX on a CPU where its layers are far slower than PyTorch's, found before a case spends
minutes on one step.

The Linux ``mlx-cpu`` wheel links the reference BLAS: on a 2-core AMD EPYC VM a 512x512
linear layer and a 3x3 convolution took 25 to 40 times PyTorch's fp32 CPU time on one
thread, in fp32 and fp16 alike, and one ResNet18 training step at the standard size took
285 s (its first step, which the step limit would cost just to find out). A Mac's MLX CPU
uses Accelerate and should be near PyTorch.

So, once per session and dtype, MLX runs PyTorch's probe layers
(``accelbench.backends.torch.slow_dtypes``) on the same numbers, in CPU time (MLX computes
in its own threads: this process's CPU time counts them). Where the slower of the two is
more than ``EMULATED_RATIO`` times PyTorch's fp32 on one thread, an MLX CPU case is
estimated before it runs: the CPU time of one step of its PyTorch twin (the case its
parity check runs) on one thread times that ratio (MLX's CPU layers ran on one thread here:
their CPU time was their wall time). The runner acts on an estimate only well over the limit.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np

from accelbench.backends.torch import slow_dtypes
from accelbench.core.measure import fastest_s


@functools.cache
def cpu_slowdown(dtype: str) -> float:
    """How many times PyTorch's fp32 CPU time (one thread) the slower of the probe layers
    takes in MLX on the CPU in ``dtype`` (inputs and weights cast to it, as the MLX
    workloads' layers do)."""
    from accelbench.backends.mlx.devices import mlx_dtype, modules

    mx = modules()[0]
    compute = mlx_dtype(dtype)
    x, w, images, kernel = (mx.array(t.numpy()).astype(compute) for t in slow_dtypes.probe_inputs())
    images = images.transpose(0, 2, 3, 1)  # NCHW -> NHWC, OIHW -> OHWI, as the workloads
    kernel = kernel.transpose(0, 2, 3, 1)
    layers = [lambda: x @ w.T, lambda: mx.conv2d(images, kernel, padding=1)]
    with mx.stream(mx.cpu):
        mlx_s = [fastest_s(lambda f=f: mx.eval(f()), time.process_time) for f in layers]
    torch_s = slow_dtypes.layer_times_s(clock=time.process_time)
    return float(np.max(np.divide(mlx_s, torch_s)))


def estimate_from_twin(workload_cls: Any, spec: Any, twin_spec: Any) -> tuple[float, str] | None:
    """For an MLX CPU case whose layers run over ``EMULATED_RATIO`` times slower than
    PyTorch's fp32: its PyTorch twin's step times that ratio; None elsewhere."""
    if spec.device != "cpu":
        return None
    ratio = cpu_slowdown(spec.dtype)
    if ratio < slow_dtypes.EMULATED_RATIO:
        return None
    return slow_dtypes.estimate_from_twin(
        workload_cls.twin, twin_spec, ratio, f"MLX's {spec.dtype} layers", "PyTorch fp32"
    )
