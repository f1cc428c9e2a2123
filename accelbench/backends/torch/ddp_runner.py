"""The data-parallel strategy of the one measurement loop: a case run on every rank of its
group (``accelbench.core.runner.Runner`` with the hooks of ``DataParallelRun``).

groups (every rank) -> skip agreed by the members (also where one worker's step is
estimated far over the step limit) -> parity of one step across ranks and against one
process (on the CPU, that first step over the limit: every member skips) -> warm-up as
long as rank 0 says -> rank 0's timing plan, broadcast -> timed rounds, each ending in the
device's synchronize and a barrier -> alternating rounds with and without the gradient
all-reduce -> extra_info (rank 0's is saved).

Like the loop, nothing here imports pytest: a case that cannot run raises ``CaseSkipped``,
on every member together. A ``DataParallel`` workload (accelbench.workloads.ddp) has, beyond
the Workload contract: ``model`` and ``base`` (its single-device model), ``ddp_settings``,
``step_without_sync``, ``gradient_bytes``, ``single_device`` and ``reference_outputs``.
"""

from __future__ import annotations

import gc
import socket
import statistics
from typing import Any

import numpy as np

from accelbench.backends.torch import distributed
from accelbench.core import ddp_parity
from accelbench.core.conditions import CaseWatch, without_sibling_workers
from accelbench.core.launch import parse_workers_variant
from accelbench.core.measure import TIMING_MODE, TimingPlan, plan_timing, time_first_step
from accelbench.core.parity import relative_error
from accelbench.core.sizes import TimingBudget
from accelbench.core.strategy import CaseSkipped, CaseStrategy, GroupFigures, Started
from accelbench.core.timed_window import TimedWindow, group_energy

MAX_ALLREDUCE_PAIRS = 10


class DataParallelRun(CaseStrategy):
    """One worker of a data-parallel case: every hook that talks to the other workers is a
    collective, called by every member in the same order."""

    timing_mode = TIMING_MODE + ", then a barrier of every worker"
    spans_ranks = True

    def open(self) -> Any:
        spec = self.spec
        reason = distributed.unavailable_reason(spec.device)  # the same on every rank
        if reason:
            raise CaseSkipped(reason)
        workers = parse_workers_variant(spec.variant)
        if workers is None:
            raise ValueError(f"{spec.variant!r} names no worker count (expected workers=N)")
        group = distributed.case_group(spec.device, workers)  # every rank, in the same order
        if not group.is_member:
            raise CaseSkipped(
                f"rank {group.rank} idles while the {workers}-worker case runs on ranks "
                f"0-{workers - 1}"
            )
        self.group = group
        reason = group.agree(self._local_reason())
        if reason:
            raise CaseSkipped(reason)
        device = self.runner.frameworks.get_device(spec.framework, spec.device)
        self.synced = distributed.GroupSynchronized(device, group)
        self.reference: Any = None  # rank 0's single-device workload, for the FLOP count
        self.flops_per_worker: int | None = None
        return device

    def _local_reason(self) -> str | None:
        """Why this rank cannot run the case (its CUDA device in the launch, else what would
        skip a single-device case: the device, the dtype); None when it can."""
        world = distributed.world()
        if self.spec.device == "cuda" and world.cuda_reason:
            return world.cuda_reason
        return self.runner.unusable_reason(self.workload_cls, self.spec)

    def agree(self, reason: str | None) -> str | None:
        return self.group.agree(reason)

    def facts(self) -> dict[str, Any]:
        world = distributed.world()
        return {
            "model": self.workload_cls.base.name,
            "workers": self.group.size,
            "world_size": world.launch.world_size,
            "launcher": world.launch.launcher,
            "hosts": self.group.hosts,
            "communication": distributed.communication_facts(self.group.backend),
        }

    def start(self, benchmark: Any, limit: TimingBudget | None, watch: CaseWatch) -> Started:
        """The workload checked for parity is the one timed: a step taken changes no timing.
        On the CPU the parity step is a step like the others, timed as the first one (on an
        accelerator it also pays for initialisation: cuDNN's search, the first all-reduce)."""
        workload = self.workload_cls(self.spec, self.device, self.group)
        info: dict[str, Any] = {"ddp": workload.ddp_settings()}
        first_limit = limit if self.spec.device == "cpu" else None
        info.update(self._check_parity(workload, watch, first_limit))
        return Started(workload, info)

    @property
    def synchronizer(self) -> Any:
        return self.synced

    def warm_up(self, workload: Any, budget: TimingBudget, started: Started) -> tuple[int, float]:
        return distributed.agreed_warm_up(workload.step, self.synced, budget)

    def plan(
        self, warmup_steps: int, step_s: float, budget: TimingBudget, fixed: int | None
    ) -> TimingPlan:
        leader = self.group.is_leader
        return self.group.broadcast(plan_timing(warmup_steps, step_s, budget) if leader else None)

    def flops(self, workload: Any) -> int | None:
        self.flops_per_worker = self._flops_per_worker()
        self.reference = None
        gc.collect()
        return self.flops_per_worker * self.group.size if self.flops_per_worker else None

    def _flops_per_worker(self) -> int | None:
        """FLOPs of one worker's step: the single-device step's (the all-reduce adds none),
        counted once per model, phase and size, on rank 0 (which built the reference)."""
        if self.reference is None:
            return None
        spec = self.spec
        key = (spec.framework, self.reference.spec.workload, spec.phase, spec.size)
        return self.runner.flops_once(key, self.reference.flops_per_step)

    def after_rounds(self, workload: Any, plan: TimingPlan) -> GroupFigures:
        group = self.group
        pairs = allreduce_pairs(plan)
        paired = distributed.paired_rounds(
            {"sync": workload.step, "no_sync": workload.step_without_sync},
            self.synced,
            plan.steps_per_round,
            pairs,
        )
        items = group.gather(workload.items_per_step)
        return GroupFigures(
            items_per_worker=items,
            flops_per_worker=self.flops_per_worker,
            gradient_bytes=workload.gradient_bytes(),
            barrier_s=distributed.barrier_time_s(group),
            allreduce_pairs=pairs,
            sync_s=statistics.median(paired["sync"]),
            no_sync_s=statistics.median(paired["no_sync"]),
        )

    def energy(self, window: TimedWindow, workload: Any, items_per_step: float) -> dict[str, Any]:
        """Every worker's device's energy together (a collective)."""
        mine = window.energy(workload.items_per_step, workload.item_unit)
        return group_energy(self.group.gather(mine), items_per_step)

    def conditions(self, window: TimedWindow) -> dict[str, Any]:
        """This worker's conditions, the other workers of the case on the same machine
        counted as the case's own CPU use (a collective: every member calls it)."""
        conditions = window.conditions()
        mine = (
            socket.gethostname(),
            conditions["cpu"]["own_cores"],
            conditions.get("cpu_timed", {}).get("own_cores", 0.0),
        )
        workers = self.group.gather(mine)
        siblings = [
            w
            for i, w in enumerate(workers)
            if w[0] == mine[0] and self.group.members[i] != self.group.rank
        ]
        if not siblings:
            return conditions
        return without_sibling_workers(
            conditions, sum(w[1] for w in siblings), sum(w[2] for w in siblings)
        )

    def _check_parity(
        self, workload: Any, watch: CaseWatch, limit: TimingBudget | None
    ) -> dict[str, Any]:
        """One step from identical weights: each rank's update against rank 0's (broadcast)
        and rank 0's against one process's step over every worker's batch (rank 0 computes
        it, and keeps that single-device workload for the FLOP count). Every member reaches
        the same verdict, so a failure fails the case on every rank. That first step is
        timed: over ``limit``'s step limit, every member skips before the reference step."""
        import torch

        spec, group = self.spec, self.group
        outputs: dict[str, np.ndarray] = {}

        def first_step() -> None:
            outputs.update(workload.parity_outputs())

        if limit is None:
            first_step()
        else:
            self.runner.within_limit(
                self, watch, lambda: time_first_step(first_step, workload.device, limit)
            )
        update = outputs["update"]
        rank_errors = [0.0]
        if group.size > 1:
            leader = group.broadcast_array(torch.from_numpy(update)).numpy()
            own = 0.0 if group.is_leader else relative_error(update, leader)
            rank_errors = group.gather(own)
        reference_error = None
        if group.is_leader:
            self.reference = self.workload_cls.single_device(spec, workload.device)
            expected = self.workload_cls.reference_outputs(self.reference, group.size)["update"]
            reference_error = relative_error(update, expected)
        reference_error = group.broadcast(reference_error)
        result = ddp_parity.verdict(
            dict(zip(group.members, rank_errors)), reference_error, spec.dtype
        )
        ddp_parity.check(result, f"{spec.workload} {spec.variant} on {workload.device.label}")
        return result.info()


def allreduce_pairs(plan: TimingPlan) -> int:
    """Rounds with and without the all-reduce, each: half the timed rounds, 1 to 10."""
    return max(1, min(plan.rounds // 2, MAX_ALLREDUCE_PAIRS))
