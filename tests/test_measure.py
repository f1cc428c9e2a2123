"""Timing plans stay within budget; warm-up is untimed; blocks end in one synchronize."""

import itertools

import pytest

from accelbench.core.measure import SynchronizedBlocks, harness_overhead_s, plan_timing, warm_up
from accelbench.core.sizes import BUDGETS, TimingBudget

BUDGET = TimingBudget(
    warmup_s=1.0,
    min_warmup_steps=3,
    measure_s=3.0,
    min_rounds=5,
    max_rounds=100,
    block_target_s=0.02,
)


class RecordingDevice:
    def __init__(self):
        self.log = []

    def synchronize(self, result=None):
        self.log.append("sync")

    def sample_memory(self):
        self.log.append("sample")


def test_fast_steps_are_grouped_into_blocks_of_about_the_target_length():
    plan = plan_timing(warmup_steps=3, step_s=0.001, budget=BUDGET)
    assert plan.steps_per_round == 20
    assert plan.rounds == 100  # 3 s / 20 ms = 150 rounds, capped at max_rounds


def test_slow_steps_run_one_per_round_and_at_least_min_rounds():
    plan = plan_timing(warmup_steps=3, step_s=0.5, budget=BUDGET)
    assert (plan.steps_per_round, plan.rounds) == (1, 6)
    plan = plan_timing(warmup_steps=3, step_s=1.0, budget=BUDGET)
    assert (plan.steps_per_round, plan.rounds) == (1, 5)


def test_a_step_too_slow_for_min_rounds_is_still_bounded_by_five_budgets():
    plan = plan_timing(warmup_steps=3, step_s=7.0, budget=BUDGET)
    assert plan.rounds == 2
    assert plan.warmup_rounds == 0
    assert plan.rounds * plan.steps_per_round * 7.0 <= 5 * BUDGET.measure_s


@pytest.mark.parametrize("profile", list(BUDGETS))
@pytest.mark.parametrize("step_s", [1e-6, 1e-4, 1e-2, 1.0])
def test_every_profile_bounds_the_timed_part(profile, step_s):
    budget = BUDGETS[profile]
    plan = plan_timing(3, step_s, budget)
    timed_s = (plan.rounds + plan.warmup_rounds) * plan.steps_per_round * step_s
    assert timed_s <= max(
        5 * budget.measure_s, budget.min_rounds * step_s * budget.max_steps_per_round
    )
    assert plan.rounds >= 2


def test_warm_up_runs_min_steps_and_until_the_budget_is_spent_with_a_fake_clock():
    ticks = itertools.count(0.0, 0.25)  # each clock read advances 0.25 s
    device = RecordingDevice()
    steps = []
    n, step_s = warm_up(lambda: steps.append(1), device, BUDGET, clock=lambda: next(ticks))
    assert n == len(steps) == device.log.count("sync")
    assert n >= BUDGET.min_warmup_steps
    assert step_s == 0.25


def test_blocks_synchronize_once_at_the_end_of_every_k_steps():
    device = RecordingDevice()
    blocks = SynchronizedBlocks(lambda: device.log.append("step"), device, steps_per_round=3)
    for _ in range(6):
        blocks()
    assert device.log == ["step", "step", "step", "sync", "sample"] * 2


def test_harness_overhead_is_measured_and_small():
    assert 0 < harness_overhead_s(steps_per_round=10) < 1e-4
