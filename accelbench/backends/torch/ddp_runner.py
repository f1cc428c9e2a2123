"""One data-parallel case from start to finish, on every rank of its group.

groups (every rank) -> skip agreed by the members (also where one worker's step is
estimated far over the step limit) -> parity of one step across ranks and against one
process (on the CPU, that first step over the limit: every member skips) -> warm-up as
long as rank 0 says -> rank 0's timing plan, broadcast -> timed rounds, each ending in the
device's synchronize and a barrier -> alternating rounds with and without the gradient
all-reduce -> extra_info (rank 0's is saved).

Like ``accelbench.core.runner`` nothing here imports pytest: a case that cannot run raises
``CaseSkipped``, on every member together.
"""

from __future__ import annotations

import gc
import socket
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np

from accelbench import backends
from accelbench.backends.torch import distributed
from accelbench.core import ddp_parity, saved_form
from accelbench.core.conditions import CaseWatch, without_sibling_workers
from accelbench.core.device import first_line
from accelbench.core.launch import parse_workers_variant
from accelbench.core.measure import (
    TIMING_MODE,
    StepTooSlow,
    SynchronizedBlocks,
    TimingPlan,
    check_estimate,
    harness_overhead_s,
    plan_timing,
    time_first_step,
)
from accelbench.core.parity import relative_error
from accelbench.core.runner import CaseSkipped, too_slow_reason
from accelbench.core.sizes import BUDGETS, TimingBudget
from accelbench.core.spec import CaseSpec
from accelbench.core.timed_window import TimedWindow, group_energy, window_info

_flops_cache: dict[tuple[str, ...], int | None] = {}
MAX_ALLREDUCE_PAIRS = 10


def run_ddp_case(benchmark: Any, workload_cls: Any, spec: CaseSpec) -> dict[str, Any]:
    """Measure ``spec`` (a ``DataParallel`` workload) on this rank; returns extra_info."""
    reason = distributed.unavailable_reason(spec.device)  # the same on every rank
    if reason:
        raise CaseSkipped(reason)
    workers = parse_workers_variant(spec.variant)
    if workers is None:
        raise ValueError(f"{spec.variant!r} names no worker count (expected workers=N)")
    group = distributed.case_group(spec.device, workers)  # on every rank, in the same order
    if not group.is_member:
        raise CaseSkipped(
            f"rank {group.rank} idles while the {workers}-worker case runs on ranks 0-{workers - 1}"
        )
    device = backends.get_device("torch", spec.device)
    reason = group.agree(_local_reason(spec, device))
    if reason:
        raise CaseSkipped(reason)
    benchmark.group = spec.group
    device.set_precision(spec.dtype)
    try:
        return _measure(benchmark, workload_cls, spec, device, group)
    except Exception as exc:
        if not device.is_out_of_memory(exc):
            raise
        # Alike devices run out of memory at the same step, and every rank skips. A rank
        # alone out of memory leaves the others waiting in a collective until the timeout.
        gc.collect()
        device.empty_cache()
        raise CaseSkipped(
            f"out of memory: {spec.workload} {spec.variant} at size {spec.size} ({spec.dtype}) "
            f"on {device.label}: {first_line(exc)}"
        ) from None


def _local_reason(spec: CaseSpec, device: Any) -> str | None:
    """Why this rank cannot run the case (its own device, the dtype); None when it can."""
    if spec.device == "cuda" and distributed.world().cuda_reason:
        return distributed.world().cuda_reason
    return device.unusable_reason or device.dtype_unsupported_reason(spec.dtype)


def _measure(
    benchmark: Any, workload_cls: Any, spec: CaseSpec, device: Any, group: Any
) -> dict[str, Any]:
    budget = BUDGETS[spec.size]
    watch = CaseWatch()
    synced = distributed.GroupSynchronized(device, group)
    info = saved_form.case_info(
        spec,
        device_label=device.label,
        model=workload_cls.base.name,
        workers=group.size,
        world_size=distributed.world().launch.world_size,
        launcher=distributed.world().launch.launcher,
        hosts=group.hosts,
        communication=distributed.communication_facts(group.backend),
    )
    limit = None if benchmark.disabled else budget
    if limit is not None:
        _skip_together(
            group,
            spec,
            device.label,
            lambda: check_estimate(lambda: workload_cls.estimated_step_s(spec, device), budget),
        )
    # The workload checked for parity is the one timed: a step taken changes no timing.
    workload = workload_cls(spec, device, group)
    info["ddp"] = workload.ddp_settings()
    # On the CPU the parity step is a step like the others: timed as the first one (on an
    # accelerator it also pays for initialisation: cuDNN's search, the first all-reduce).
    first_limit = limit if spec.device == "cpu" else None
    parity_info, reference = _check_parity(workload, workload_cls, spec, group, first_limit)
    info.update(parity_info)
    dtype_ran = workload.dtype_ran()
    if dtype_ran != spec.dtype:
        raise CaseSkipped(
            f"{spec.dtype} requested but {dtype_ran} ran on {device.label} "
            "(autocast disabled itself for this dtype)"
        )
    if benchmark.disabled:  # --benchmark-disable: one untimed step on every rank
        benchmark.pedantic(workload.step)
        synced.synchronize()
        return {**info, "dtype_ran": dtype_ran}
    flops_per_worker = _flops_per_worker(reference, spec) if reference is not None else None
    del reference
    gc.collect()

    warmup_steps, step_s = distributed.agreed_warm_up(workload.step, synced, budget)
    plan: TimingPlan = group.broadcast(
        plan_timing(warmup_steps, step_s, budget) if group.is_leader else None
    )
    blocks = SynchronizedBlocks(workload.step, synced, plan.steps_per_round, device.timer())
    device.reset_memory()
    window = TimedWindow(watch, spec.device, device.nvidia_uuid())
    window.run(benchmark, blocks, plan, synced.synchronize)
    memory = device.memory()
    stats = benchmark.stats.stats
    device_times = blocks.device_step_times_s(stats.rounds)

    pairs = allreduce_pairs(plan)
    paired = distributed.paired_rounds(
        {"sync": workload.step, "no_sync": workload.step_without_sync},
        synced,
        plan.steps_per_round,
        pairs,
    )
    items = group.gather(workload.items_per_step)
    barrier_s = distributed.barrier_time_s(group)
    median_s = stats.median
    group_items = sum(items)
    group_flops = flops_per_worker * group.size if flops_per_worker else None
    sync_s, no_sync_s = statistics.median(paired["sync"]), statistics.median(paired["no_sync"])
    info.update(
        dtype_ran=dtype_ran,
        item_unit=workload.item_unit,
        items_per_step=group_items,
        items_per_worker=items,
        throughput_per_s=group_items / median_s,
        throughput_per_worker_per_s=group_items / median_s / group.size,
        flops_per_step=group_flops,
        flops_per_worker_step=flops_per_worker,
        tflops_per_s=group_flops / median_s / 1e12 if group_flops else None,
        gradient_bytes=workload.gradient_bytes(),
        timing_mode=TIMING_MODE + ", then a barrier of every worker",
        steps_per_round=plan.steps_per_round,
        rounds=stats.rounds,
        warmup_steps=plan.warmup_steps,
        warmup_rounds=plan.warmup_rounds,
        device_time_median_s=statistics.median(device_times) if device_times else None,
        harness_overhead_per_step_s=harness_overhead_s(plan.steps_per_round),
        barrier_median_s=barrier_s,
        allreduce_pairs=pairs,
        step_sync_median_s=sync_s,
        step_no_sync_median_s=no_sync_s,
        allreduce_exposed_share=(sync_s - no_sync_s) / sync_s,
        memory=memory,
        threads=workload.threads(),
        shapes=workload.shapes(),
    )
    # Collectives, on every member: every worker's device's energy, and their CPU use.
    energy = group_energy(
        group.gather(window.energy(workload.items_per_step, workload.item_unit)), group_items
    )
    info.update(window_info(energy, _conditions(window, group)))
    return info


def _conditions(window: TimedWindow, group: Any) -> dict[str, Any]:
    """This worker's conditions, the other workers of the case on the same machine counted
    as the case's own CPU use (a collective: every member calls it)."""
    conditions = window.conditions()
    mine = (
        socket.gethostname(),
        conditions["cpu"]["own_cores"],
        conditions.get("cpu_timed", {}).get("own_cores", 0.0),
    )
    workers = group.gather(mine)
    siblings = [
        w for i, w in enumerate(workers) if w[0] == mine[0] and group.members[i] != group.rank
    ]
    if not siblings:
        return conditions
    return without_sibling_workers(
        conditions, sum(w[1] for w in siblings), sum(w[2] for w in siblings)
    )


def allreduce_pairs(plan: TimingPlan) -> int:
    """Rounds with and without the all-reduce, each: half the timed rounds, 1 to 10."""
    return max(1, min(plan.rounds // 2, MAX_ALLREDUCE_PAIRS))


def _flops_per_worker(reference: Any, spec: CaseSpec) -> int | None:
    """FLOPs of one worker's step: the single-device step's (the all-reduce adds none),
    counted once per model, phase and size."""
    key = (spec.framework, reference.spec.workload, spec.phase, spec.size)
    if key not in _flops_cache:
        _flops_cache[key] = reference.flops_per_step()
    return _flops_cache[key]


def _skip_together(group: Any, spec: CaseSpec, label: str, check: Callable[[], Any]) -> None:
    """``check()`` on every member; a ``StepTooSlow`` on any member skips the case on all of
    them together (one waiting in a collective for another would wait forever)."""
    reason = None
    try:
        check()
    except StepTooSlow as exc:
        reason = too_slow_reason(spec, label, exc)
    reason = group.agree(reason)
    if reason:
        raise CaseSkipped(reason)


def _check_parity(
    workload: Any, workload_cls: Any, spec: CaseSpec, group: Any, limit: TimingBudget | None
) -> tuple[dict[str, Any], Any]:
    """One step from identical weights: each rank's update against rank 0's (broadcast) and
    rank 0's against one process's step over every worker's batch (rank 0 computes it).
    Every member reaches the same verdict, so a failure fails the case on every rank. That
    first step is timed: over ``limit``'s step limit, every member skips before the
    reference step.

    Returns the parity figures and, on rank 0, the single-device workload of the reference.
    """
    import torch

    outputs: dict[str, np.ndarray] = {}

    def first_step() -> None:
        outputs.update(workload.parity_outputs())

    if limit is None:
        first_step()
    else:
        _skip_together(
            group,
            spec,
            workload.device.label,
            lambda: time_first_step(first_step, workload.device, limit),
        )
    update = outputs["update"]
    rank_errors = [0.0]
    if group.size > 1:
        leader = group.broadcast_array(torch.from_numpy(update)).numpy()
        own = 0.0 if group.is_leader else relative_error(update, leader)
        rank_errors = group.gather(own)
    reference, reference_error = None, None
    if group.is_leader:
        reference = workload_cls.single_device(spec, workload.device)
        expected = workload_cls.reference_outputs(reference, group.size)["update"]
        reference_error = relative_error(update, expected)
    reference_error = group.broadcast(reference_error)
    result = ddp_parity.verdict(dict(zip(group.members, rank_errors)), reference_error, spec.dtype)
    ddp_parity.check(result, f"{spec.workload} {spec.variant} on {workload.device.label}")
    parity_info = {
        "parity_max_rel_error": result.max_error,
        "parity_tolerance": result.tolerance,
        "parity_errors": result.errors,
    }
    return parity_info, reference
