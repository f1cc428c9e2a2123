"""Compiled steps: the compilation timed apart from the timed rounds, recompiles counted.

A compiled step (torch.compile, XLA, mx.compile) compiles at its first call, sometimes again
at the next few (a backward graph, a guard that fails once), and only then runs at its
steady speed. So a compiled case warms up differently from an eager one:

- ``warm_up_compiled`` steps until the compiler has stopped compiling and the last
  ``SETTLE_STEPS`` steps are within ``STEADY_SPREAD`` of each other (bounded in time). The
  compilation time is the wall time from the first call to the end of the last step that
  compiled: it includes running those few steps once, which is negligible next to compiling.
- ``RecompileGuard`` runs at the end of every timed round: a compilation there would put
  compiler time inside a timed figure. One is reported (``recompiles_timed``); more than
  ``MAX_TIMED_RECOMPILES`` fail the case, since its timed rounds mix compiling with running.

A workload that can run compiled declares the optional part ``Compilable`` (the backends'
workload bases do); the runner calls ``compile_step`` once on a freshly built workload.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accelbench.core.sizes import TimingBudget
from accelbench.core.spec import CaseSpec

SETTLE_STEPS = 3
STEADY_SPREAD = 1.5  # slowest / fastest of the last SETTLE_STEPS steps
MAX_TIMED_RECOMPILES = 1
MAX_WARMUP_COMPILING_STEPS = 8  # a step that compiles every time stops warming up after these


def mode_unsupported_reason(workload_cls: Any, spec: CaseSpec, device: Any) -> str | None:
    """None when ``spec.mode`` can run on ``device``; otherwise why not (the case skips)."""
    if issubclass(workload_cls, Compilable):
        return workload_cls.mode_unsupported_reason(spec, device)
    return _no_such_mode(workload_cls, spec)


def _no_such_mode(workload_cls: Any, spec: CaseSpec) -> str | None:
    if spec.mode not in workload_cls.modes:
        return f"{workload_cls.framework} {workload_cls.name} has no {spec.mode} mode"
    return None


class Compilable:
    """Optional part of the Workload contract: a step that can run compiled (torch.compile,
    TensorFlow's XLA, mx.compile, a CUDA graph). Its ``modes`` name the compiled modes."""

    @classmethod
    def mode_unsupported_reason(cls, spec: CaseSpec, device: Any) -> str | None:
        """None when ``spec.mode`` can run on ``device``; otherwise why not (the case skips)."""
        return _no_such_mode(cls, spec)

    def compile_step(self) -> None:
        """Make ``step`` and ``parity_outputs`` run compiled; called once, before any step.

        The compilation itself may happen lazily at the first call: the runner times it
        from the first step until steps are steady.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot compile its step")

    def compilations(self) -> int | None:
        """Compilations so far (a counter that grows with every compile and recompile), or
        None where the framework does not count them."""
        return None

    def compile_facts(self) -> dict[str, Any]:
        """What the compiler did, for extra_info (e.g. graphs compiled, graph breaks)."""
        return {}

    @classmethod
    def is_compile_failure(cls, exc: BaseException) -> bool:
        """Whether ``exc`` means the compiler cannot compile this step here (the case skips)."""
        return False

    @classmethod
    def clear_compiled(cls) -> None:
        """Forget code compiled for earlier cases, so that a case neither reuses nor counts
        another's compilations."""


class RecompileError(AssertionError):
    """The compiler recompiled during the timed rounds more often than allowed."""


@dataclass(frozen=True)
class CompiledWarmup:
    """What the warm-up of a compiled step found."""

    steps: int  # warm-up steps run, the compiling ones included
    step_s: float  # median time of the steps after the last compilation
    compile_time_s: float  # from the first call to the end of the last step that compiled
    compile_steps: int  # steps up to and including the last one that compiled
    compilations: int | None  # compilations counted during warm-up; None: not countable
    steady: bool  # whether the settle condition was met before the time bound


def warm_up_compiled(
    step: Callable[[], Any],
    device: Any,
    budget: TimingBudget,
    compilations: Callable[[], int | None],
    clock: Callable[[], float] = time.perf_counter,
) -> CompiledWarmup:
    """Step until compiled steps are steady; time the compilation.

    The first step always counts as compiling (compilers compile lazily, at the first call,
    whether or not they count it). A later step counts as compiling when ``compilations()``
    grew during it. After the last compiling step, warm-up continues for at least
    ``budget.warmup_s`` and ``budget.min_warmup_steps`` steps in all, until the last
    ``SETTLE_STEPS`` steps are steady, or until ``budget.warmup_s + budget.measure_s``
    have passed since the last compilation, or until ``MAX_WARMUP_COMPILING_STEPS`` steps
    have compiled (then ``steady`` is False).
    """
    start_count = compilations()
    count = start_count
    times: list[float] = []
    compile_steps = compiling = 0
    compiled_until = clock()
    steady = False
    while True:
        t0 = clock()
        device.synchronize(step())
        t1 = clock()
        times.append(t1 - t0)
        now = compilations()
        if len(times) == 1 or (now is not None and now != count):
            compile_steps, compiled_until = len(times), t1
            compiling += 1
        count = now
        if compiling > MAX_WARMUP_COMPILING_STEPS:
            break
        settled = times[compile_steps:]
        since = t1 - compiled_until
        if len(times) >= budget.min_warmup_steps and since >= budget.warmup_s:
            last = settled[-SETTLE_STEPS:]
            if len(last) == SETTLE_STEPS and max(last) <= STEADY_SPREAD * min(last):
                steady = True
                break
            if settled and since >= budget.warmup_s + budget.measure_s:
                break
    settled = times[compile_steps:] or times[-1:]
    counted = None if start_count is None or count is None else count - start_count
    return CompiledWarmup(
        steps=len(times),
        step_s=statistics.median(settled),
        compile_time_s=sum(times[:compile_steps]),
        compile_steps=compile_steps,
        compilations=counted,
        steady=steady,
    )


class RecompileGuard:
    """Called at the end of every timed round: counts the compilations since it was made and
    raises ``RecompileError`` once there are more than ``limit``.

    Raising inside the timed function makes pytest-benchmark drop the benchmark from its
    tables and saved JSON, so a figure with compiling in it is never kept.
    """

    def __init__(
        self,
        compilations: Callable[[], int | None],
        label: str,
        limit: int = MAX_TIMED_RECOMPILES,
    ) -> None:
        self.compilations = compilations
        self.label = label
        self.limit = limit
        self.start = compilations()

    @property
    def count(self) -> int | None:
        now = self.compilations()
        return None if now is None or self.start is None else now - self.start

    def __call__(self) -> None:
        count = self.count
        if count is not None and count > self.limit:
            raise RecompileError(
                f"{self.label}: {count} recompilations during the timed rounds (at most "
                f"{self.limit} allowed): the timing would include compiling. "
                "For PyTorch, TORCH_LOGS=recompiles names the guard that failed."
            )
