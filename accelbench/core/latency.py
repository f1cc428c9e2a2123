"""Isolated latency: one step, then synchronize, timed alone.

The suite's figures are steady-state time per step (blocks of k steps, one synchronize at
the end, the CPU queueing ahead of the device). What an interactive user feels at batch 1
is different: one request, launched and waited for, with the device idle before and after.
On a GPU that costs every kernel launch and the synchronization in full. This module times
exactly that, as a figure recorded beside the steady-state one, never instead of it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from accelbench.core.sizes import TimingBudget

LATENCY_MODE = "isolated: one step, then synchronize; median over repeats"
MIN_REPEATS = 3
MAX_REPEATS = 20


def isolated_latency(
    step: Callable[[], Any],
    device: Any,
    budget: TimingBudget,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """The median time of one synchronized step, repeated MIN_REPEATS to MAX_REPEATS times
    and at most about ``budget.measure_s`` (the workload is already warm)."""
    device.synchronize()
    times: list[float] = []
    started = clock()
    while len(times) < MIN_REPEATS or (
        len(times) < MAX_REPEATS and clock() - started < budget.measure_s
    ):
        t0 = clock()
        device.synchronize(step())
        times.append(clock() - t0)
    return {
        "latency_batch1_s": statistics.median(times),
        "latency_batch1_repeats": len(times),
        "latency_mode": LATENCY_MODE,
    }
