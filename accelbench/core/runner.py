"""One benchmark case from start to finish, with pytest-benchmark's fixture as the clock.

probe device -> build workload -> parity against the CPU -> warm-up -> timed rounds ->
extra_info. Nothing here imports pytest: a case that cannot run raises ``CaseSkipped``
with its reason, and the plugin turns that into a skip.

A compiled case (``spec.mode`` other than eager) runs: build -> compile_step -> warm-up
until compiled steps are steady (the compilation timed on its own) -> parity of a fresh
compiled workload against the eager CPU reference -> timed rounds that fail on repeated
recompiling (accelbench.core.compiled).
"""

from __future__ import annotations

import gc
import statistics
from typing import Any

from accelbench import backends
from accelbench.core import parity
from accelbench.core.compiled import CompiledWarmup, RecompileGuard, warm_up_compiled
from accelbench.core.device import first_line
from accelbench.core.latency import isolated_latency
from accelbench.core.measure import (
    TIMING_MODE,
    SynchronizedBlocks,
    fixed_rounds_overrun,
    harness_overhead_s,
    plan_timing,
    warm_up,
)
from accelbench.core.sizes import BUDGETS
from accelbench.core.spec import EAGER, CaseSpec, variant_batch
from accelbench.core.workload import Workload

_flops_cache: dict[tuple[str, ...], int | None] = {}


class CaseSkipped(Exception):
    """This case cannot run here; the message says why."""


def run_case(benchmark: Any, workload_cls: type[Workload], spec: CaseSpec) -> dict[str, Any]:
    """Measure ``spec`` with ``benchmark`` (pytest-benchmark's fixture); returns extra_info."""
    backend = backends.get(spec.framework)
    if spec.device not in backend.devices:
        raise CaseSkipped(f"{backend.title} has no device {spec.device!r}")
    reason = backend.import_error()
    if reason:
        raise CaseSkipped(reason)
    device = backend.get_device(spec.device)
    if device.unusable_reason:
        raise CaseSkipped(device.unusable_reason)
    reason = device.dtype_unsupported_reason(spec.dtype)
    if reason:
        raise CaseSkipped(reason)
    reason = workload_cls.mode_unsupported_reason(spec, device)
    if reason:
        raise CaseSkipped(reason)
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
    info: dict[str, Any] = {**spec.as_dict(), "device_label": device.label}
    compiled = spec.mode != EAGER
    reference = workload_cls.parity_reference(spec)
    if reference is not None and not compiled:
        info.update(_check_parity(workload_cls, spec, device, *reference))

    workload = workload_cls(spec, device)
    warmup: CompiledWarmup | None = None
    if compiled:
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
        warmup_steps, step_s = warm_up(workload.step, device, budget)
    else:
        warmup_steps, step_s = warmup.steps, warmup.step_s
    fixed_steps = workload.steps_per_round()
    plan = plan_timing(warmup_steps, step_s, budget, fixed_steps)
    overrun = fixed_rounds_overrun(plan, budget) if fixed_steps else None
    if overrun:
        raise CaseSkipped(f"{spec.workload} {spec.phase} {spec.variant}: {overrun}".strip())
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
    benchmark.pedantic(
        blocks,
        rounds=plan.rounds,
        warmup_rounds=plan.warmup_rounds,
        iterations=plan.steps_per_round,
    )
    device.synchronize()

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
    )
    if guard is not None:
        info["recompiles_timed"] = guard.count
    if spec.phase == "infer" and variant_batch(spec.variant) == 1:
        info.update(isolated_latency(workload.step, device, budget))
    return info


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
) -> dict[str, Any]:
    """One step of this case against one step of its reference (the same workload on the CPU
    in fp32, eager, default layout, or another framework's twin there), same weights and
    inputs; a compiled case checks a fresh compiled workload."""
    reference_device = backends.get_device(reference_spec.framework, reference_spec.device)
    expected = reference_cls(reference_spec, reference_device).parity_outputs()
    checked = workload_cls(spec, device)
    if spec.mode != EAGER:
        checked.compile_step()
    actual = checked.parity_outputs()
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
