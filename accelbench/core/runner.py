"""One benchmark case from start to finish, with pytest-benchmark's fixture as the clock.

probe device -> the workload's estimate of one step, if any (far over the step limit: skip)
-> build workload -> parity against the CPU -> first step, timed alone (over the limit:
skip) -> warm-up -> timed rounds -> extra_info. Nothing here imports pytest: a case that
cannot run raises ``CaseSkipped`` with its reason, and the plugin turns that into a skip.

One loop (``Runner``) runs every case; what differs for a data-parallel case is its
strategy's hooks (``accelbench.core.strategy``). ``SingleDevice`` is the default strategy.

A compiled case (``spec.mode`` other than eager) runs: build -> compile_step -> warm-up
until compiled steps are steady (the compilation timed on its own) -> parity of a fresh
compiled workload against the eager CPU reference -> timed rounds that fail on repeated
recompiling (accelbench.core.compiled).

Nothing in core imports a backend: the plugin hands the ``Runner`` the frameworks'
registry (``accelbench.backends``), which finds devices by name.
"""

from __future__ import annotations

import dataclasses
import gc
import statistics
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from accelbench.core import parity, saved_form
from accelbench.core.compiled import (
    Compilable,
    CompiledWarmup,
    RecompileGuard,
    mode_unsupported_reason,
    warm_up_compiled,
)
from accelbench.core.conditions import CaseWatch
from accelbench.core.device import Device, first_line
from accelbench.core.latency import isolated_latency
from accelbench.core.measure import (
    StepTooSlow,
    SynchronizedBlocks,
    TimingPlan,
    check_estimate,
    fixed_rounds_overrun,
    harness_overhead_s,
    plan_timing,
    time_first_step,
    warm_up,
)
from accelbench.core.sizes import BUDGETS, TimingBudget
from accelbench.core.spec import (
    EAGER,
    CaseSpec,
    execution_label,
    parse_length_variant,
    variant_batch,
)
from accelbench.core.strategy import CaseSkipped, CaseStrategy, GroupFigures, Started
from accelbench.core.timed_window import TimedWindow, window_info
from accelbench.core.workload import FixedRounds, Workload

__all__ = ["CaseSkipped", "Frameworks", "Runner", "SingleDevice", "too_slow_reason"]

T = TypeVar("T")


class Frameworks(Protocol):
    """What the runner needs of the frameworks' registry (``accelbench.backends``)."""

    def get(self, name: str) -> Any: ...

    def get_device(self, framework: str, device: str) -> Device: ...


class Runner:
    """The measurement loop of one session, and what its cases taught it: the cases found
    too slow (so longer lengths of a sweep are not started) and the FLOPs counted per shape.
    The plugin makes one per session; a test makes its own."""

    def __init__(self, frameworks: Frameworks) -> None:
        self.frameworks = frameworks
        self.too_slow: dict[CaseSpec, float] = {}  # spec -> seconds per step
        self.estimated: set[CaseSpec] = set()  # those of them estimated, not timed
        self.flops_counted: dict[tuple[str, ...], int | None] = {}

    def unusable_reason(self, workload_cls: type[Workload], spec: CaseSpec) -> str | None:
        """Why ``spec`` cannot run here at all (no such device, framework or device
        unusable, dtype or mode unsupported), found without building or stepping anything;
        None if it can."""
        backend = self.frameworks.get(spec.framework)
        if spec.device not in backend.devices:
            return f"{backend.title} has no device {spec.device!r}"
        reason = backend.import_error()
        if reason:
            return reason
        device = backend.get_device(spec.device)
        return (
            device.unusable_reason
            or device.dtype_unsupported_reason(spec.dtype)
            or mode_unsupported_reason(workload_cls, spec, device)
        )

    def run(self, benchmark: Any, workload_cls: type[Workload], spec: CaseSpec) -> dict[str, Any]:
        """Measure ``spec`` with ``benchmark`` (pytest-benchmark's fixture); returns extra_info."""
        strategy = (workload_cls.strategy or SingleDevice)(self, workload_cls, spec)
        device = strategy.device = strategy.open()
        benchmark.group = spec.group
        device.set_precision(spec.dtype)
        compiled = spec.mode != EAGER and issubclass(workload_cls, Compilable)
        compiler = workload_cls if compiled else None
        if compiler is not None:
            compiler.clear_compiled()
        try:
            return self._measure(benchmark, strategy, device)
        except Exception as exc:
            if compiler is not None and compiler.is_compile_failure(exc):
                raise CaseSkipped(
                    f"{spec.mode} failed for {spec.workload} on {device.label}: {first_line(exc)}"
                ) from None
            if not device.is_out_of_memory(exc):
                raise
            # Alike devices run out of memory at the same step, and every rank of a group
            # skips; a rank alone out of memory leaves the others waiting in a collective.
            gc.collect()
            device.empty_cache()
            where = f"{spec.workload} {spec.variant}".strip()
            raise CaseSkipped(
                f"out of memory: {where} at size {spec.size} ({spec.dtype}) on {device.label}: "
                f"{first_line(exc)}"
            ) from None
        finally:
            if compiler is not None:
                compiler.clear_compiled()

    def _measure(self, benchmark: Any, strategy: CaseStrategy, device: Any) -> dict[str, Any]:
        spec, workload_cls = strategy.spec, strategy.workload_cls
        budget = BUDGETS[spec.size]
        limit = None if benchmark.disabled else budget
        info = saved_form.case_info(spec, device_label=device.label, **strategy.facts())
        reason = strategy.agree(
            self.known_too_slow(spec, device.label, strategy.parity_reference())
        )
        if reason:
            raise CaseSkipped(reason)
        watch = CaseWatch()
        if limit is not None:  # before the parity check, which steps the case too
            estimate = lambda: workload_cls.estimated_step_s(spec, device)  # noqa: E731
            self.within_limit(strategy, watch, lambda: check_estimate(estimate, budget))
        started = strategy.start(benchmark, limit, watch)
        workload = started.workload
        info.update(started.info)
        dtype_ran = workload.dtype_ran()
        if dtype_ran != spec.dtype:
            raise CaseSkipped(
                f"{spec.dtype} requested but {dtype_ran} ran on {device.label} "
                "(autocast disabled itself for this dtype)"
            )
        sync = strategy.synchronizer
        if benchmark.disabled:  # --benchmark-disable: one untimed step, a correctness run
            if not started.stepped:
                sync.synchronize(benchmark.pedantic(workload.step))
            return {**info, "dtype_ran": dtype_ran}
        flops = strategy.flops(workload)

        warmup_steps, step_s = strategy.warm_up(workload, budget, started)
        rounds = workload if isinstance(workload, FixedRounds) else None
        fixed_steps = rounds.steps_per_round() if rounds else None
        plan = strategy.plan(warmup_steps, step_s, budget, fixed_steps)
        overrun = fixed_rounds_overrun(plan, budget) if fixed_steps else None
        if overrun:
            raise CaseSkipped(f"too slow: {spec.workload} {spec.phase} {spec.variant}: {overrun}")
        guard = None
        if spec.mode != EAGER:
            guard = RecompileGuard(workload.compilations, f"{spec.mode} on {device.label}")
        blocks = SynchronizedBlocks(
            workload.step,
            sync,
            plan.steps_per_round,
            device.timer(),
            rounds.round_start if rounds else None,
            block_end=guard,
        )
        device.reset_memory()
        window = TimedWindow(watch, spec.device, device.nvidia_uuid())
        window.run(benchmark, blocks, plan)
        memory = device.memory()
        stats = benchmark.stats.stats
        device_times = blocks.device_step_times_s(stats.rounds)
        group = strategy.after_rounds(workload, plan)
        figures = timed_info(
            workload,
            dtype_ran,
            plan,
            stats,
            device_times,
            memory,
            flops,
            strategy.timing_mode,
            started.first_step_s,
            group,
        )
        info.update(figures)
        if guard is not None:
            info["recompiles_timed"] = guard.count
        if spec.phase == "infer" and variant_batch(spec.variant) == 1:
            info.update(isolated_latency(workload.step, device, budget))
        energy = strategy.energy(window, workload, figures["items_per_step"])
        info.update(window_info(energy, strategy.conditions(window)))
        return info

    def within_limit(self, strategy: CaseStrategy, watch: CaseWatch, call: Callable[[], T]) -> T:
        """``call()``; a ``StepTooSlow`` from it skips the case with the estimate (on every
        process of the case together: ``strategy.agree``), and is remembered so that longer
        lengths of the sweep are not started."""
        spec, label = strategy.spec, strategy.device.label
        reason = None
        try:
            result = call()
        except StepTooSlow as exc:
            self.too_slow[spec] = exc.step_s
            (self.estimated.add if exc.estimated else self.estimated.discard)(spec)
            busy = watch.busy_note()
            reason = too_slow_reason(spec, label, exc) + (f"; {busy}" if busy else "")
        reason = strategy.agree(reason)
        if reason:
            raise CaseSkipped(reason)
        return result

    def known_too_slow(
        self, spec: CaseSpec, label: str, reference: CaseSpec | None = None
    ) -> str | None:
        """Why ``spec`` need not even start: a shorter length of the same sweep was already
        over the step limit on this device, or its parity reference (``reference``: for an
        accelerator, the same case on the CPU in fp32) was."""
        candidates = [(spec, "")]
        if reference is not None:
            candidates.append((reference, "the CPU reference for parity: "))
        for slow, step_s in self.too_slow.items():
            for mine, role in candidates:
                if _at_least_as_slow(mine, slow):
                    where = f"{slow.variant} " if slow.variant else ""
                    took = "was estimated at" if slow in self.estimated else "already took"
                    return (
                        f"too slow, not started: {role}{where}{slow.phase} {slow.dtype} on "
                        f"{'the CPU' if role else label} {took} {step_s:.3g} s per step, over "
                        f"the {spec.size} limit of {BUDGETS[spec.size].max_step_s:g} s; "
                        f"{spec.variant or 'this case'} is at least as slow"
                    )
        return None

    def flops_once(self, key: tuple[str, ...], count: Callable[[], int | None]) -> int | None:
        """``count()``, once per ``key`` (the shape of a step) in this session."""
        if key not in self.flops_counted:
            self.flops_counted[key] = count()
        return self.flops_counted[key]


class SingleDevice(CaseStrategy):
    """One process on one device: parity on a freshly built workload before the timed one
    is built (a compiled case: after its compiled warm-up), the first step timed alone."""

    def open(self) -> Any:
        reason = self.runner.unusable_reason(self.workload_cls, self.spec)
        if reason:
            raise CaseSkipped(reason)
        return self.runner.frameworks.get_device(self.spec.framework, self.spec.device)

    def parity_reference(self) -> CaseSpec | None:
        reference = self.workload_cls.parity_reference(self.spec)
        return reference[1] if reference else None

    def start(self, benchmark: Any, limit: TimingBudget | None, watch: CaseWatch) -> Started:
        spec, device, workload_cls = self.spec, self.device, self.workload_cls
        reference = workload_cls.parity_reference(spec)
        info: dict[str, Any] = {}
        if reference is not None and spec.mode == EAGER:
            # On the CPU the parity step is a step like the others: timed as the first one.
            first_limit = limit if spec.device == "cpu" else None
            info.update(
                self.runner.within_limit(
                    self, watch, lambda: self._check_parity(*reference, limit=first_limit)
                )
            )
        workload = workload_cls(spec, device)
        if spec.mode == EAGER:
            if limit is None:
                return Started(workload, info)
            first_step_s = self.runner.within_limit(
                self, watch, lambda: time_first_step(workload.step, device, limit)
            )
            return Started(workload, info, first_step_s=first_step_s)
        # The first step compiles: timed by the compiled warm-up, not limited here.
        workload.compile_step()
        warmup: CompiledWarmup | None = None
        if limit is None:  # one untimed (compiling) step, then parity
            device.synchronize(benchmark.pedantic(workload.step))
        else:
            warmup = warm_up_compiled(workload.step, device, limit, workload.compilations)
        compile_info = _compile_info(warmup, workload) if warmup else {}  # before parity's
        if reference is not None:
            info.update(self._check_parity(*reference))
        info.update(compile_info)
        if warmup is None:
            return Started(workload, info, stepped=True)
        return Started(workload, info, warmup=(warmup.steps, warmup.step_s))

    def warm_up(self, workload: Any, budget: TimingBudget, started: Started) -> tuple[int, float]:
        if started.warmup is not None:
            return started.warmup
        done = [started.first_step_s] if started.first_step_s is not None else []
        return warm_up(workload.step, self.device, budget, done=done)

    def plan(
        self, warmup_steps: int, step_s: float, budget: TimingBudget, fixed: int | None
    ) -> TimingPlan:
        return plan_timing(warmup_steps, step_s, budget, fixed)

    def flops(self, workload: Any) -> int | None:
        spec = self.spec
        key = (spec.framework, spec.workload, spec.phase, spec.size, spec.variant)
        return self.runner.flops_once(key, workload.flops_per_step)

    def energy(self, window: TimedWindow, workload: Any, items_per_step: float) -> dict[str, Any]:
        return window.energy(items_per_step, workload.item_unit)

    def conditions(self, window: TimedWindow) -> dict[str, Any]:
        return window.conditions()

    def _check_parity(
        self,
        reference_cls: type[Workload],
        reference_spec: CaseSpec,
        limit: TimingBudget | None = None,
    ) -> dict[str, Any]:
        """One step of this case against one step of its reference (the same workload on
        the CPU in fp32, eager, default layout, or another framework's twin there), same
        weights and inputs; a compiled case checks a fresh compiled workload. With
        ``limit``, this case's step is timed: ``StepTooSlow`` when it is over the limit."""
        spec, device = self.spec, self.device
        frameworks = self.runner.frameworks
        reference_device = frameworks.get_device(reference_spec.framework, reference_spec.device)
        expected = reference_cls(reference_spec, reference_device).parity_outputs()
        checked = self.workload_cls(spec, device)
        if spec.mode != EAGER:
            checked.compile_step()
        if limit is None:
            actual = checked.parity_outputs()
        else:
            outputs: list[dict[str, Any]] = []
            step = checked.parity_outputs
            time_first_step(lambda: outputs.append(step()), device, limit)
            actual = outputs[0]
            del step
        del checked
        device.synchronize()
        result = parity.compare(actual, expected, spec.dtype)
        execution = execution_label(spec.mode, spec.memory_format, default="")
        parity.check(result, f"{device.label} [{execution}]" if execution else device.label)
        gc.collect()
        reference = f"{reference_spec.framework} {reference_spec.device} {reference_spec.dtype}"
        return result.info(reference)


def timed_info(
    workload: Any,
    dtype_ran: str,
    plan: TimingPlan,
    stats: Any,
    device_times: list[float],
    memory: dict[str, int],
    flops: int | None,
    timing_mode: str,
    first_step_s: float | None,
    group: GroupFigures | None,
) -> dict[str, Any]:
    """The extra_info fields of a timed case, for every strategy: throughput, FLOP/s,
    timing plan, device time, memory; a data-parallel case's per-worker and all-reduce
    figures (``group``), a single-device case's bytes per step and first step."""
    median_s = stats.median
    items = sum(group.items_per_worker) if group else workload.items_per_step
    info: dict[str, Any] = {
        "dtype_ran": dtype_ran,
        "item_unit": workload.item_unit,
        "items_per_step": items,
        "throughput_per_s": items / median_s,
        "flops_per_step": flops,
        "tflops_per_s": flops / median_s / 1e12 if flops else None,
        "timing_mode": timing_mode,
        "steps_per_round": plan.steps_per_round,
        "rounds": stats.rounds,
        "warmup_steps": plan.warmup_steps,
        "warmup_rounds": plan.warmup_rounds,
        "device_time_median_s": statistics.median(device_times) if device_times else None,
        "harness_overhead_per_step_s": harness_overhead_s(plan.steps_per_round),
        "memory": memory,
        "threads": workload.threads(),
        "shapes": workload.shapes(),
    }
    if group is None:
        info["bytes_per_step"] = workload.bytes_per_step()
        info["first_step_s"] = first_step_s
        return info
    workers = len(group.items_per_worker)
    info.update(
        items_per_worker=group.items_per_worker,
        throughput_per_worker_per_s=items / median_s / workers,
        flops_per_worker_step=group.flops_per_worker,
        gradient_bytes=group.gradient_bytes,
        barrier_median_s=group.barrier_s,
        allreduce_pairs=group.allreduce_pairs,
        step_sync_median_s=group.sync_s,
        step_no_sync_median_s=group.no_sync_s,
        allreduce_exposed_share=(group.sync_s - group.no_sync_s) / group.sync_s,
    )
    return info


def _at_least_as_slow(spec: CaseSpec, slow: CaseSpec) -> bool:
    """The same case, or the same sweep at a length no shorter."""
    if spec == slow:
        return True
    mine, theirs = parse_length_variant(spec.variant), parse_length_variant(slow.variant)
    if mine is None or theirs is None or mine[0] != theirs[0] or mine[1] < theirs[1]:
        return False
    return spec == dataclasses.replace(slow, variant=spec.variant)


def too_slow_reason(spec: CaseSpec, label: str, exc: StepTooSlow) -> str:
    where = f"{spec.workload} {spec.variant}".strip()
    reason = f"too slow: {where} {spec.phase} {spec.dtype} on {label} at size {spec.size}: {exc}"
    if spec.device == "cpu" and spec.dtype in ("fp16", "bf16"):
        reason += (
            f"; {spec.dtype} on a CPU without native {spec.dtype} kernels is emulated "
            "(see the README's dtype notes): use --dtype fp32 for the CPU"
        )
    return reason


def _compile_info(warmup: CompiledWarmup, workload: Any) -> dict[str, Any]:
    """The compilation, measured apart from the timed rounds (accelbench.core.compiled)."""
    return {
        "compile_time_s": warmup.compile_time_s,
        "compile_steps": warmup.compile_steps,
        "compilations_warmup": warmup.compilations,
        "compile_steady": warmup.steady,
        **workload.compile_facts(),
    }
