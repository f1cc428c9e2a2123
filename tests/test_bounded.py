"""Every case is bounded in wall time: a step over the size profile's limit skips the case
with the estimate, after one step, and a longer length of the same sweep is not started."""

import dataclasses
import itertools
import time

import pytest

from accelbench.core import runner
from accelbench.core.measure import MIN_STEPS_PER_CASE, StepTooSlow, time_first_step, warm_up
from accelbench.core.sizes import BUDGETS, TimingBudget
from accelbench.core.spec import CaseSpec
from accelbench.workloads.attention import Attention
from accelbench.workloads.cnn import SimpleCNN

from conftest import SMOKE, add_benchmarks

BUDGET = TimingBudget(
    warmup_s=0.5,
    min_warmup_steps=3,
    measure_s=1.5,
    min_rounds=5,
    max_rounds=100,
    block_target_s=0.02,
    max_step_s=10.0,
)


class NoDevice:
    def synchronize(self):
        pass


LIMITS = [BUDGETS[p].max_step_s for p in ("smoke", "standard", "full")]  # before any fixture


def test_every_profile_has_a_step_limit_that_grows_with_its_size():
    assert sorted(LIMITS) == LIMITS
    assert all(0 < limit < 3600 for limit in LIMITS)


def test_a_first_step_over_the_limit_raises_with_the_estimate():
    ticks = iter([0.0, 27.0])  # one ResNet18 fp16 training step on a CPU without fp16 kernels
    with pytest.raises(StepTooSlow) as caught:
        time_first_step(lambda: None, NoDevice(), BUDGET, clock=lambda: next(ticks))
    assert caught.value.step_s == 27.0
    assert caught.value.case_estimate_s == MIN_STEPS_PER_CASE * 27.0
    assert str(caught.value) == (
        "one step took 27 s, over the limit of 10 s per step; the case would take about 135 s "
        "(at least 5 steps: warm-up, FLOP count, two timed rounds)"
    )


def test_a_first_step_within_the_limit_is_timed_and_counts_as_warm_up():
    ticks = iter([0.0, 9.0])
    assert time_first_step(lambda: None, NoDevice(), BUDGET, clock=lambda: next(ticks)) == 9.0


def test_slow_steps_warm_up_for_two_steps_not_the_minimum():
    ticks = itertools.count(0.0, 2.0)  # every clock read moves 2 s: steps of 2 s or more
    steps = []
    n, _ = warm_up(lambda: steps.append(1), NoDevice(), BUDGET, clock=lambda: next(ticks), done=[4])
    assert n == 2 and len(steps) == 1  # the first step (done) and one more


def test_fast_steps_still_warm_up_for_the_minimum_and_the_budget():
    ticks = itertools.count(0.0, 0.01)
    n, _ = warm_up(lambda: None, NoDevice(), BUDGET, clock=lambda: next(ticks), done=[0.01])
    assert n > BUDGET.min_warmup_steps  # ran on until the warm-up budget was spent


@pytest.fixture
def smoke_limit(monkeypatch):
    """A smoke step limit of 50 ms; the planted steps below sleep longer than that."""
    monkeypatch.setitem(BUDGETS, "smoke", dataclasses.replace(BUDGETS["smoke"], max_step_s=0.05))


def test_a_case_too_slow_for_its_profile_is_skipped_with_the_estimate(
    suite, monkeypatch, smoke_limit
):
    honest_step = SimpleCNN.step
    calls = []

    def slow_step(self):
        calls.append(1)
        time.sleep(0.1)
        return honest_step(self)

    monkeypatch.setattr(SimpleCNN, "step", slow_step)
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(*SMOKE, "--devices", "cpu", "-k", "infer", "-rs")
    result.assert_outcomes(skipped=1)
    assert len(calls) == 1  # one step, not a whole case
    result.stdout.fnmatch_lines(
        [
            "*too slow: cnn infer fp32 on * at size smoke: one step took * s, over the limit "
            "of 0.05 s per step; the case would take about * s*",
        ]
    )


def test_a_longer_length_of_a_slow_sweep_is_not_even_started(suite, monkeypatch, smoke_limit):
    honest_step = Attention.step
    started = []

    def slow_step(self):
        started.append(self.spec.variant)
        time.sleep(0.1)
        return honest_step(self)

    monkeypatch.setattr(Attention, "step", slow_step)
    add_benchmarks(suite, "test_attention.py")
    result = suite.runpytest(*SMOKE, "--devices", "cpu", "-k", "infer and naive", "-rs")
    result.assert_outcomes(skipped=2)
    assert started == ["naive-L=64"]
    result.stdout.fnmatch_lines(
        [
            "*too slow: attention naive-L=64 infer fp32*",
            "*too slow, not started: naive-L=64 infer fp32 on * already took * s per step, over "
            "the smoke limit of 0.05 s; naive-L=128 is at least as slow*",
        ]
    )


def test_an_accelerator_case_is_not_started_when_its_cpu_reference_is_too_slow(monkeypatch):
    slow_cpu = CaseSpec("torch", "attention", "cpu", "train", "fp32", "full", "naive-L=8192")
    monkeypatch.setattr(runner, "_too_slow", {slow_cpu: 90.0})
    on_gpu = dataclasses.replace(slow_cpu, device="cuda", dtype="bf16", variant="naive-L=16384")
    reference = on_gpu.on("cpu", "fp32")  # its parity reference (Workload.parity_reference)
    reason = runner.known_too_slow(on_gpu, "NVIDIA H200 (CUDA)", reference)
    assert reason.startswith(
        "too slow, not started: the CPU reference for parity: naive-L=8192 train fp32 on the "
        "CPU already took 90 s per step"
    )
    sdpa = dataclasses.replace(on_gpu, variant="sdpa-L=16384")
    assert runner.known_too_slow(sdpa, "x", sdpa.on("cpu", "fp32")) is None
    shorter = dataclasses.replace(on_gpu, variant="naive-L=4096")
    assert runner.known_too_slow(shorter, "x", shorter.on("cpu", "fp32")) is None
    assert runner.known_too_slow(on_gpu, "x") is None  # no reference: nothing to inherit
