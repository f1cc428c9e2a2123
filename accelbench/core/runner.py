"""One benchmark case from start to finish, with pytest-benchmark's fixture as the clock.

probe device -> the workload's estimate of one step, if any (far over the step limit: skip)
-> build workload -> parity against the CPU -> first step, timed alone (over the limit:
skip) -> warm-up -> timed rounds -> extra_info. Nothing here imports pytest: a case that
cannot run raises ``CaseSkipped`` with its reason, and the plugin turns that into a skip.

A compiled case (``spec.mode`` other than eager) runs: build -> compile_step -> warm-up
until compiled steps are steady (the compilation timed on its own) -> parity of a fresh
compiled workload against the eager CPU reference -> timed rounds that fail on repeated
recompiling (accelbench.core.compiled).
"""

from __future__ import annotations

import dataclasses
import gc
import statistics
from collections.abc import Callable
from typing import Any, TypeVar

from accelbench import backends
from accelbench.core import parity, saved_form
from accelbench.core.compiled import CompiledWarmup, RecompileGuard, warm_up_compiled
from accelbench.core.conditions import CaseWatch
from accelbench.core.device import first_line
from accelbench.core.latency import isolated_latency
from accelbench.core.measure import (
    TIMING_MODE,
    StepTooSlow,
    SynchronizedBlocks,
    check_estimate,
    fixed_rounds_overrun,
    harness_overhead_s,
    plan_timing,
    time_first_step,
    warm_up,
)
from accelbench.core.sizes import BUDGETS, TimingBudget
from accelbench.core.spec import EAGER, CaseSpec, parse_length_variant, variant_batch
from accelbench.core.timed_window import TimedWindow, window_info
from accelbench.core.workload import Workload

T = TypeVar("T")
_flops_cache: dict[tuple[str, ...], int | None] = {}
# Cases skipped in this session because one step was over the limit: spec -> seconds per step.
_too_slow: dict[CaseSpec, float] = {}
_estimated: set[CaseSpec] = set()  # those of them estimated, not timed


class CaseSkipped(Exception):
    """This case cannot run here; the message says why."""


def unusable_reason(workload_cls: type[Workload], spec: CaseSpec) -> str | None:
    """Why ``spec`` cannot run here at all (no such device, framework or device unusable,
    dtype or mode unsupported), found without building or stepping anything; None if it can."""
    backend = backends.get(spec.framework)
    if spec.device not in backend.devices:
        return f"{backend.title} has no device {spec.device!r}"
    reason = backend.import_error()
    if reason:
        return reason
    device = backend.get_device(spec.device)
    return (
        device.unusable_reason
        or device.dtype_unsupported_reason(spec.dtype)
        or workload_cls.mode_unsupported_reason(spec, device)
    )


def run_case(benchmark: Any, workload_cls: type[Workload], spec: CaseSpec) -> dict[str, Any]:
    """Measure ``spec`` with ``benchmark`` (pytest-benchmark's fixture); returns extra_info."""
    reason = unusable_reason(workload_cls, spec)
    if reason:
        raise CaseSkipped(reason)
    device = backends.get_device(spec.framework, spec.device)
    benchmark.group = spec.group
    device.set_precision(spec.dtype)
    compiled = spec.mode != EAGER
    if compiled:
        workload_cls.clear_compiled()
    try:
        return _measure(benchmark, workload_cls, spec, device)
    except Exception as exc:
        if compiled and workload_cls.is_compile_failure(exc):
            raise CaseSkipped(
                f"{spec.mode} failed for {spec.workload} on {device.label}: {first_line(exc)}"
            ) from None
        if not device.is_out_of_memory(exc):
            raise
        gc.collect()
        device.empty_cache()
        where = f"{spec.workload} {spec.variant}".strip()
        raise CaseSkipped(
            f"out of memory: {where} at size {spec.size} ({spec.dtype}) on {device.label}: "
            f"{first_line(exc)}"
        ) from None
    finally:
        if compiled:
            workload_cls.clear_compiled()


def _measure(
    benchmark: Any, workload_cls: type[Workload], spec: CaseSpec, device: Any
) -> dict[str, Any]:
    budget = BUDGETS[spec.size]
    info = saved_form.case_info(spec, device_label=device.label)
    compiled = spec.mode != EAGER
    reference = workload_cls.parity_reference(spec)
    reason = known_too_slow(spec, device.label, reference[1] if reference else None)
    if reason:
        raise CaseSkipped(reason)
    watch = CaseWatch()
    if not benchmark.disabled:  # before the parity check, which steps the case too
        _within_limit(
            lambda: check_estimate(lambda: workload_cls.estimated_step_s(spec, device), budget),
            spec,
            device.label,
            watch,
        )
    if reference is not None and not compiled:
        # On the CPU the parity step is a step like the others: timed as the first one.
        limit = budget if spec.device == "cpu" and not benchmark.disabled else None
        parity_info = _within_limit(
            lambda: _check_parity(workload_cls, spec, device, *reference, limit=limit),
            spec,
            device.label,
            watch,
        )
        info.update(parity_info)

    workload = workload_cls(spec, device)
    warmup: CompiledWarmup | None = None
    first_step_s = None
    if compiled:  # the first step compiles: timed by the compiled warm-up, not limited here
        workload.compile_step()
        if benchmark.disabled:  # one untimed (compiling) step, then parity
            benchmark.pedantic(workload.step)
            device.synchronize()
        else:
            warmup = warm_up_compiled(workload.step, device, budget, workload.compilations)
        compile_info = _compile_info(warmup, workload) if warmup else {}
        if reference is not None:
            info.update(_check_parity(workload_cls, spec, device, *reference))
        info.update(compile_info)
    elif not benchmark.disabled:
        first_step_s = _within_limit(
            lambda: time_first_step(workload.step, device, budget), spec, device.label, watch
        )
    dtype_ran = workload.dtype_ran()
    if dtype_ran != spec.dtype:
        raise CaseSkipped(
            f"{spec.dtype} requested but {dtype_ran} ran on {device.label} "
            "(autocast disabled itself for this dtype)"
        )
    if benchmark.disabled:  # --benchmark-disable: one untimed step, a correctness run
        if not compiled:
            benchmark.pedantic(workload.step)
            device.synchronize()
        return {**info, "dtype_ran": dtype_ran}
    key = (spec.framework, spec.workload, spec.phase, spec.size, spec.variant)
    if key not in _flops_cache:
        _flops_cache[key] = workload.flops_per_step()
    flops = _flops_cache[key]

    if warmup is None:
        done = [first_step_s] if first_step_s is not None else []
        warmup_steps, step_s = warm_up(workload.step, device, budget, done=done)
    else:
        warmup_steps, step_s = warmup.steps, warmup.step_s
    fixed_steps = workload.steps_per_round()
    plan = plan_timing(warmup_steps, step_s, budget, fixed_steps)
    overrun = fixed_rounds_overrun(plan, budget) if fixed_steps else None
    if overrun:
        raise CaseSkipped(f"too slow: {spec.workload} {spec.phase} {spec.variant}: {overrun}")
    guard = None
    if compiled:
        guard = RecompileGuard(workload.compilations, f"{spec.mode} on {device.label}")
    blocks = SynchronizedBlocks(
        workload.step,
        device,
        plan.steps_per_round,
        device.timer(),
        workload.round_start,
        block_end=guard,
    )
    device.reset_memory()
    window = TimedWindow(watch, spec.device, device.nvidia_uuid())
    window.run(benchmark, blocks, plan, device.synchronize)

    stats = benchmark.stats.stats
    median_s = stats.median
    device_times = blocks.device_step_times_s(stats.rounds)
    info.update(
        dtype_ran=dtype_ran,
        item_unit=workload.item_unit,
        items_per_step=workload.items_per_step,
        throughput_per_s=workload.items_per_step / median_s,
        flops_per_step=flops,
        tflops_per_s=flops / median_s / 1e12 if flops else None,
        bytes_per_step=workload.bytes_per_step(),
        timing_mode=TIMING_MODE,
        steps_per_round=plan.steps_per_round,
        rounds=stats.rounds,
        warmup_steps=plan.warmup_steps,
        warmup_rounds=plan.warmup_rounds,
        device_time_median_s=statistics.median(device_times) if device_times else None,
        harness_overhead_per_step_s=harness_overhead_s(plan.steps_per_round),
        memory=device.memory(),
        threads=workload.threads(),
        shapes=workload.shapes(),
        first_step_s=first_step_s,
    )
    if guard is not None:
        info["recompiles_timed"] = guard.count
    if spec.phase == "infer" and variant_batch(spec.variant) == 1:
        info.update(isolated_latency(workload.step, device, budget))
    energy = window.energy(workload.items_per_step, workload.item_unit)
    info.update(window_info(energy, window.conditions()))
    return info


def _within_limit(call: Callable[[], T], spec: CaseSpec, label: str, watch: CaseWatch) -> T:
    """``call()``; a ``StepTooSlow`` from it skips the case with the estimate, and is
    remembered so that longer lengths of the sweep are not started."""
    try:
        return call()
    except StepTooSlow as exc:
        _too_slow[spec] = exc.step_s
        (_estimated.add if exc.estimated else _estimated.discard)(spec)
        busy = watch.busy_note()
        reason = too_slow_reason(spec, label, exc) + (f"; {busy}" if busy else "")
        raise CaseSkipped(reason) from None


def known_too_slow(spec: CaseSpec, label: str, reference: CaseSpec | None = None) -> str | None:
    """Why ``spec`` need not even start: a shorter length of the same sweep was already over
    the step limit on this device, or its parity reference (``reference``: for an
    accelerator, the same case on the CPU in fp32) was."""
    candidates = [(spec, "")]
    if reference is not None:
        candidates.append((reference, "the CPU reference for parity: "))
    for slow, step_s in _too_slow.items():
        for mine, role in candidates:
            if _at_least_as_slow(mine, slow):
                where = f"{slow.variant} " if slow.variant else ""
                took = "was estimated at" if slow in _estimated else "already took"
                return (
                    f"too slow, not started: {role}{where}{slow.phase} {slow.dtype} on "
                    f"{'the CPU' if role else label} {took} {step_s:.3g} s per step, over "
                    f"the {spec.size} limit of {BUDGETS[spec.size].max_step_s:g} s; "
                    f"{spec.variant or 'this case'} is at least as slow"
                )
    return None


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


def _compile_info(warmup: CompiledWarmup, workload: Workload) -> dict[str, Any]:
    """The compilation, measured apart from the timed rounds (accelbench.core.compiled)."""
    return {
        "compile_time_s": warmup.compile_time_s,
        "compile_steps": warmup.compile_steps,
        "compilations_warmup": warmup.compilations,
        "compile_steady": warmup.steady,
        **workload.compile_facts(),
    }


def _check_parity(
    workload_cls: type[Workload],
    spec: CaseSpec,
    device: Any,
    reference_cls: type[Workload],
    reference_spec: CaseSpec,
    limit: TimingBudget | None = None,
) -> dict[str, Any]:
    """One step of this case against one step of its reference (the same workload on the CPU
    in fp32, eager, default layout, or another framework's twin there), same weights and
    inputs; a compiled case checks a fresh compiled workload. With ``limit``, this case's
    step is timed: ``StepTooSlow`` when it is over the limit."""
    reference_device = backends.get_device(reference_spec.framework, reference_spec.device)
    expected = reference_cls(reference_spec, reference_device).parity_outputs()
    checked = workload_cls(spec, device)
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
    execution = " ".join(
        x for x in (spec.mode if spec.mode != EAGER else "", spec.memory_format) if x
    )
    parity.check(result, f"{device.label} [{execution}]" if execution else device.label)
    gc.collect()
    info = {
        "parity_max_rel_error": result.max_error,
        "parity_tolerance": result.tolerance,
        "parity_errors": result.errors,
        "parity_reference": f"{reference_spec.framework} {reference_spec.device} "
        f"{reference_spec.dtype}",
    }
    if result.tokens is not None:
        info["parity_tokens"] = result.tokens.as_dict()
    return info
