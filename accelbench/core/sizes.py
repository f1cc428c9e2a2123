"""Size profiles: how big each workload is and how long each benchmark may take.

Each workload keeps its own shapes per profile (``Workload.SIZES``), so adding a workload
touches one module; this module names the profiles and their time budgets.
"""

from __future__ import annotations

from dataclasses import dataclass

PROFILES = ("smoke", "standard", "full")
DEFAULT_PROFILE = "standard"


@dataclass(frozen=True)
class TimingBudget:
    """Bounds on one benchmark's warm-up and timed rounds.

    ``block_target_s``: a timed round runs k steps and ends in one synchronize, with k
    chosen so the round lasts about this long (steady-state throughput, not launch latency).
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


BUDGETS = {
    "smoke": TimingBudget(
        warmup_s=0.0,
        min_warmup_steps=1,
        measure_s=0.2,
        min_rounds=3,
        max_rounds=10,
        block_target_s=0.002,
        max_fixed_rounds_s=10.0,
    ),
    "standard": TimingBudget(
        warmup_s=0.5,
        min_warmup_steps=3,
        measure_s=1.5,
        min_rounds=5,
        max_rounds=100,
        block_target_s=0.02,
    ),
    "full": TimingBudget(
        warmup_s=2.0,
        min_warmup_steps=5,
        measure_s=10.0,
        min_rounds=5,
        max_rounds=300,
        block_target_s=0.05,
        max_fixed_rounds_s=120.0,
    ),
}
assert tuple(BUDGETS) == PROFILES
