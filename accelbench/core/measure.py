"""Timing: untimed warm-up, a plan of bounded rounds, and the callable pytest-benchmark times.

Accelerators run asynchronously, so a host clock read before the device has finished
measures only how fast work was queued. Every timed round here ends in the device's
``synchronize``, handed the last step's result (a framework without a device-wide barrier
waits on that). A round is a block of k steps with one synchronize at its end: the CPU
queues step i+1 while the device runs step i, as in real training, so the figure is
steady-state time per step (pytest-benchmark divides the round by its k iterations).
Where the backend has events, device-side time is recorded around the same blocks.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from accelbench.core.sizes import TimingBudget

TIMING_MODE = "steady-state: blocks of k steps, one synchronize per block"


@dataclass(frozen=True)
class TimingPlan:
    warmup_steps: int
    steps_per_round: int
    rounds: int
    warmup_rounds: int
    estimated_step_s: float


class SynchronizedBlocks:
    """The target of ``benchmark.pedantic(..., iterations=k)``.

    pytest-benchmark calls it k times per timed round; the k-th call of each round waits
    for the device. Event timing (if any) brackets the same k steps. ``round_start`` (if
    any) runs before the first step of each round, so a stateful workload can begin every
    round from the same state. ``block_end`` (if given) runs after each round's synchronize,
    e.g. a check that nothing recompiled.
    """

    def __init__(
        self,
        step: Callable[[], Any],
        device: Any,
        steps_per_round: int,
        timer: Any = None,
        round_start: Callable[[], None] | None = None,
        block_end: Callable[[], None] | None = None,
    ) -> None:
        self.step = step
        self.device = device
        self.steps_per_round = steps_per_round
        self.timer = timer
        self.round_start = round_start
        self.block_end = block_end
        self.calls = 0
        self.result: Any = None  # the last step's, which the round's synchronize waits on

    def __call__(self) -> None:
        position = self.calls % self.steps_per_round
        self.calls += 1
        if position == 0 and self.round_start is not None:
            self.round_start()
        if position == 0 and self.timer is not None:
            self.timer.start()
        self.result = self.step()
        if position == self.steps_per_round - 1:
            if self.timer is not None:
                self.timer.stop()
            self.device.synchronize(self.result)
            self.device.sample_memory()
            if self.block_end is not None:
                self.block_end()

    def wait(self) -> None:
        """Wait for the last step's work, as a round's end does."""
        self.device.synchronize(self.result)

    def device_step_times_s(self, rounds: int) -> list[float]:
        """Device time per step of the last ``rounds`` blocks (the timed ones)."""
        if self.timer is None:
            return []
        self.wait()
        blocks = self.timer.elapsed_s()[-rounds:] if rounds else []
        return [b / self.steps_per_round for b in blocks]


# A timed case runs at least this many steps: the first (timed alone), the FLOP count, one
# more warm-up step, two timed rounds of one step.
MIN_STEPS_PER_CASE = 5


# A step estimated (not timed) at more than this many times the limit is not even tried.
# Estimates extrapolate from something smaller and can be pessimistic where efficiency grows
# with size: on a busy 2-core VM a 512^3 fp32 matmul ran at 2.8 GFLOP/s and a 4096^3 one at
# 13, a 4.6-fold overestimate. Emulated fp16 ran at 0.3 GFLOP/s at every size.
ESTIMATE_MARGIN = 5.0


class StepTooSlow(Exception):
    """One step takes longer than the size profile allows (``TimingBudget.max_step_s``);
    ``estimated``: how the step was estimated, where it was not timed."""

    def __init__(self, step_s: float, budget: TimingBudget, estimated: str = "") -> None:
        self.step_s = step_s
        self.estimated = estimated
        self.limit_s = budget.max_step_s
        self.case_estimate_s = MIN_STEPS_PER_CASE * step_s
        took = (
            f"one step would take about {step_s:.3g} s ({estimated})"
            if estimated
            else f"one step took {step_s:.3g} s"
        )
        super().__init__(
            f"{took}, over the limit of {budget.max_step_s:g} s per step; "
            f"the case would take about {self.case_estimate_s:.0f} s "
            f"(at least {MIN_STEPS_PER_CASE} steps: warm-up, FLOP count, two timed rounds)"
        )


def check_estimate(estimate: Callable[[], tuple[float, str] | None], budget: TimingBudget) -> None:
    """``StepTooSlow`` when a workload's own estimate of one step (``estimate()``: seconds,
    and how it was estimated) is over ``ESTIMATE_MARGIN`` times the limit: the first step is
    not tried. Without a limit (infinite) nothing is estimated."""
    if math.isinf(budget.max_step_s):
        return
    found = estimate()
    if found is not None and found[0] > ESTIMATE_MARGIN * budget.max_step_s:
        raise StepTooSlow(found[0], budget, estimated=found[1])


def fastest_s(call: Callable[[], Any], clock: Callable[[], float] = time.perf_counter) -> float:
    """The fastest of a few calls (two to four, until a second is spent), the first left
    out: it pays for lazy initialisation; the fastest, since load only adds time. For
    probes that estimate a step; ``call`` synchronizes the device itself."""
    times: list[float] = []
    while len(times) < 4 and (len(times) < 2 or sum(times) < 1.0):
        start = clock()
        call()
        times.append(clock() - start)
    return min(times[1:])


def time_first_step(
    step: Callable[[], Any],
    device: Any,
    budget: TimingBudget,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Run and time one synchronized step; ``StepTooSlow`` when it is over the budget's
    limit, so that a case that would overrun its budget many times over (fp16 on a CPU
    without fp16 kernels) costs one step, not the whole case."""
    t0 = clock()
    device.synchronize(step())
    step_s = clock() - t0
    if step_s > budget.max_step_s:
        raise StepTooSlow(step_s, budget)
    return step_s


ESTIMATE_STEPS = 2  # the first step, and one warm step that sizes the rounds


def warm_up(
    step: Callable[[], Any],
    device: Any,
    budget: TimingBudget,
    clock: Callable[[], float] = time.perf_counter,
    done: Sequence[float] = (),
) -> tuple[int, float]:
    """Run untimed steps (compilation, autotuning, allocator growth) until the budget is spent.

    ``done``: the times of steps already run (the first step, timed alone), counted as
    warm-up. Slow steps stop early: two steps suffice once warm-up has taken longer than
    the warm-up and measuring budgets together. Returns the number of warm-up steps and the
    median synchronized time of one step, which sizes the timed rounds. That median leaves
    the first step out (it pays for lazy initialisation), so at least ``ESTIMATE_STEPS``
    steps run whatever the profile's minimum: sized from a cold first step alone, a 0.1 ms
    step that took 3 ms once on a busy machine got rounds of one step (its latency) in one
    run and of eight (its steady state) in the next, 1.6-3x apart per step.
    """
    times: list[float] = list(done)
    started = clock() - sum(times)
    enough_s = budget.warmup_s + budget.measure_s
    least = max(ESTIMATE_STEPS, budget.min_warmup_steps)
    while len(times) < least or clock() - started < budget.warmup_s:
        if len(times) >= 2 and clock() - started >= enough_s:
            break
        t0 = clock()
        device.synchronize(step())
        times.append(clock() - t0)
    settled = times[1:] or times
    return len(times), statistics.median(settled)


def plan_timing(
    warmup_steps: int, step_s: float, budget: TimingBudget, steps_per_round: int | None = None
) -> TimingPlan:
    """Choose k (steps per round) and the number of rounds within the budget.

    A round lasts about ``block_target_s``, unless the workload fixes k
    (``steps_per_round``); rounds fill ``measure_s`` between min_rounds and max_rounds, but
    a step so slow that min_rounds would overrun the budget five-fold gets fewer rounds (at
    least two) so every benchmark stays bounded.
    """
    step_s = max(step_s, 1e-7)
    k = min(max(1, math.ceil(budget.block_target_s / step_s)), budget.max_steps_per_round)
    k = steps_per_round or k
    round_s = k * step_s
    rounds = min(max(int(budget.measure_s // round_s), budget.min_rounds), budget.max_rounds)
    rounds = min(rounds, max(2, int(5 * budget.measure_s // round_s)))
    warmup_rounds = 1 if round_s * (rounds + 1) <= 5 * budget.measure_s else 0
    return TimingPlan(
        warmup_steps=warmup_steps,
        steps_per_round=k,
        rounds=rounds,
        warmup_rounds=warmup_rounds,
        estimated_step_s=step_s,
    )


def fixed_rounds_overrun(plan: TimingPlan, budget: TimingBudget) -> str | None:
    """Why a plan whose k the workload fixed cannot stay bounded, or None.

    Such a round cannot be shortened (a tg round generates a set number of tokens), so a
    slow device could need far longer than the budget for the two rounds a median needs;
    beyond ``budget.max_fixed_rounds_s`` the case is refused.
    """
    needed = 2 * plan.steps_per_round * plan.estimated_step_s
    allowed = budget.max_fixed_rounds_s
    if needed <= allowed:
        return None
    step_s = plan.estimated_step_s
    step = f"{step_s:.3g} s" if step_s >= 1 else f"{step_s * 1e3:.3g} ms"
    return (
        f"{plan.steps_per_round} steps per round at {step} each (warm-up estimate) need "
        f"about {needed:.0f} s for two rounds; this size allows {allowed:.0f} s"
    )


class _NoDevice:
    def synchronize(self, result: Any = None) -> None: ...

    def sample_memory(self) -> None: ...


def harness_overhead_s(steps_per_round: int, rounds: int = 20) -> float:
    """Time per step that SynchronizedBlocks itself adds, measured with an empty step."""
    blocks = SynchronizedBlocks(lambda: None, _NoDevice(), steps_per_round)
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(steps_per_round):
            blocks()
        samples.append((time.perf_counter() - t0) / steps_per_round)
    return statistics.median(samples)
