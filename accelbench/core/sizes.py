"""Size profiles: how big each workload is and how long each benchmark may take.

Each workload keeps its own shapes per profile (``Workload.SIZES``), so adding a workload
touches one module; this module names the profiles and their time budgets.

``quick``, the default, answers "how much faster is my GPU" within minutes: only the
workloads that give it a shape (the headline models at realistic sizes, no sweeps), short
timing, and a time budget for the whole run (``--budget``). ``standard`` and ``full`` are
the full picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

QUICK = "quick"
PROFILES = (QUICK, "smoke", "standard", "full")
DEFAULT_PROFILE = QUICK


@dataclass(frozen=True)
class TimingBudget:
    """Bounds on one benchmark's warm-up and timed rounds.

    ``block_target_s``: a timed round runs k steps and ends in one synchronize, with k
    chosen so the round lasts about this long (steady-state throughput, not launch latency).
    ``max_step_s``: a case whose first step takes longer is skipped with the estimate: it
    would run at least five such steps (``measure.MIN_STEPS_PER_CASE``), so no case takes
    much more than five times this (fp16 on a CPU without fp16 kernels took 27 s per
    ResNet18 training step and 64 s per sdpa L=4096 step on a 2-core x86 VM).
    """

    warmup_s: float
    min_warmup_steps: int
    measure_s: float
    min_rounds: int
    max_rounds: int
    block_target_s: float
    max_steps_per_round: int = 1000
    # A workload that fixes its steps per round (a tg round of 128 tokens) cannot shorten a
    # round on a slow device: beyond this many seconds for two rounds the case is skipped.
    max_fixed_rounds_s: float = 60.0
    max_step_s: float = 60.0
    # The whole run's time budget (``--budget`` overrides it); cases that do not fit are
    # not started, and are listed as such.
    run_budget_s: float = math.inf

    def describe(self) -> str:
        """The plan in one line, for the terminal header."""
        warmup = f"at least {self.min_warmup_steps} step{'s' * (self.min_warmup_steps > 1)}"
        if self.warmup_s:
            warmup += f" and {self.warmup_s:g} s"
        return (
            f"untimed warm-up of {warmup}, then {self.min_rounds}-{self.max_rounds} timed "
            f"rounds (at least 2 for slow steps) of k steps, k sized so a round lasts "
            f"~{self.block_target_s * 1e3:g} ms, within ~{self.measure_s:g} s; a case whose "
            "first step takes over "
            f"{self.max_step_s:g} s is skipped"
        )


BUDGETS = {
    QUICK: TimingBudget(
        warmup_s=0.2,
        min_warmup_steps=1,
        measure_s=0.6,
        min_rounds=5,
        max_rounds=50,
        block_target_s=0.02,
        max_fixed_rounds_s=20.0,
        max_step_s=5.0,
        run_budget_s=300.0,
    ),
    "smoke": TimingBudget(
        warmup_s=0.0,
        min_warmup_steps=1,
        measure_s=0.2,
        min_rounds=3,
        max_rounds=10,
        block_target_s=0.002,
        max_fixed_rounds_s=10.0,
        max_step_s=5.0,
    ),
    "standard": TimingBudget(
        warmup_s=0.5,
        min_warmup_steps=3,
        measure_s=1.5,
        min_rounds=5,
        max_rounds=100,
        block_target_s=0.02,
        max_step_s=15.0,
    ),
    "full": TimingBudget(
        warmup_s=2.0,
        min_warmup_steps=5,
        measure_s=10.0,
        min_rounds=5,
        max_rounds=300,
        block_target_s=0.05,
        max_fixed_rounds_s=120.0,
        max_step_s=60.0,
    ),
}
assert tuple(BUDGETS) == PROFILES
