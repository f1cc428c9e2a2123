"""How the one measurement loop runs a case: the hooks a strategy implements.

``accelbench.core.runner.Runner`` holds the loop: known-too-slow and estimate checks ->
``start`` (build, parity, first steps) -> dtype check -> FLOPs -> ``warm_up`` -> ``plan``
-> timed rounds of ``SynchronizedBlocks`` ending in ``synchronizer.synchronize(result)``
-> ``after_rounds`` -> extra_info (one function for every strategy) -> ``energy`` and
``conditions``. What differs between one process on one device
(``accelbench.core.runner.SingleDevice``, the default) and a group of processes
(``accelbench.backends.torch.ddp_runner.DataParallelRun``) is a hook here, never a second
copy of the loop. A workload names its strategy with ``Workload.strategy``.

Every hook that a group runs is a collective: every member calls it, in the same order.
Nothing here imports a framework or pytest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from accelbench.core.conditions import CaseWatch
from accelbench.core.measure import TIMING_MODE, TimingPlan
from accelbench.core.sizes import TimingBudget
from accelbench.core.spec import CaseSpec
from accelbench.core.timed_window import TimedWindow


class CaseSkipped(Exception):
    """This case cannot run here; the message says why."""


@dataclass
class Started:
    """What ``CaseStrategy.start`` leaves for the loop: the workload to time, the extra_info
    fields its checks gave, and how far its first steps went."""

    workload: Any
    info: dict[str, Any]
    first_step_s: float | None = None  # the first step, timed alone
    warmup: tuple[int, float] | None = None  # warm-up already done: steps, step seconds
    stepped: bool = False  # a --benchmark-disable run has taken its one step already


@dataclass(frozen=True)
class GroupFigures:
    """What the workers of a data-parallel case add to its figures, besides the group's
    items per step (the sum of ``items_per_worker``)."""

    items_per_worker: list[int]
    flops_per_worker: int | None
    gradient_bytes: int
    barrier_s: float
    allreduce_pairs: int
    sync_s: float  # median step time with the gradient all-reduce
    no_sync_s: float  # and without it


class CaseStrategy(ABC):
    """One case, run the way its workload needs; the loop calls the hooks in the order of
    this class."""

    # A timed round as the saved figures describe it.
    timing_mode: ClassVar[str] = TIMING_MODE
    # Every rank of a launch runs the case together (otherwise a multi-rank launch skips it).
    spans_ranks: ClassVar[bool] = False

    def __init__(self, runner: Any, workload_cls: Any, spec: CaseSpec) -> None:
        self.runner = runner
        self.workload_cls = workload_cls
        self.spec = spec
        self.device: Any = None

    @abstractmethod
    def open(self) -> Any:
        """The device this rank runs the case on; ``CaseSkipped`` when it cannot run."""

    def agree(self, reason: str | None) -> str | None:
        """The reason to skip that every process of the case acts on; ``reason`` alone here."""
        return reason

    def facts(self) -> dict[str, Any]:
        """extra_info fields known before any step."""
        return {}

    def parity_reference(self) -> CaseSpec | None:
        """The case whose being too slow means this one need not start (its parity reference)."""
        return None

    @abstractmethod
    def start(self, benchmark: Any, limit: TimingBudget | None, watch: CaseWatch) -> Started:
        """Build the workload to time, check it (parity), take its first steps; with
        ``limit``, a first step over its step limit skips the case (``Runner.within_limit``)."""

    @property
    def synchronizer(self) -> Any:
        """What a timed round ends in: ``synchronize(result)`` and ``sample_memory()``."""
        return self.device

    @abstractmethod
    def warm_up(self, workload: Any, budget: TimingBudget, started: Started) -> tuple[int, float]:
        """Untimed steps; returns their number and the step time that sizes the rounds."""

    @abstractmethod
    def plan(
        self, warmup_steps: int, step_s: float, budget: TimingBudget, fixed: int | None
    ) -> TimingPlan:
        """The timed rounds: steps per round (``fixed`` where the workload fixes it), rounds."""

    @abstractmethod
    def flops(self, workload: Any) -> int | None:
        """FLOPs of one step of the whole case, or None where they cannot be counted."""

    def after_rounds(self, workload: Any, plan: TimingPlan) -> GroupFigures | None:
        """Measurements after the timed rounds that the figures need beyond one device's."""
        return None

    @abstractmethod
    def energy(self, window: TimedWindow, workload: Any, items_per_step: float) -> dict[str, Any]:
        """The energy of the timed rounds (``items_per_step``: the whole case's)."""

    @abstractmethod
    def conditions(self, window: TimedWindow) -> dict[str, Any]:
        """The conditions the case ran under, judged."""
