"""Every case is bounded in wall time: a step over the size profile's limit skips the case
with the estimate, after one step; a step estimated far over it is not even tried; and a
longer length of the same sweep is not started."""

import dataclasses
import itertools
import math
import time

import pytest

from accelbench import backends
from accelbench.backends.torch import slow_dtypes
from accelbench.backends.torch.devices import get_device
from accelbench.core import runner
from accelbench.core.measure import (
    ESTIMATE_MARGIN,
    MIN_STEPS_PER_CASE,
    StepTooSlow,
    check_estimate,
    fastest_s,
    time_first_step,
    warm_up,
)
from accelbench.core.sizes import BUDGETS, TimingBudget
from accelbench.core.spec import CaseSpec
from accelbench.workloads.attention import Attention
from accelbench.workloads.ceiling import MATMUL, PROBE_ROWS, Ceiling
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


@pytest.fixture(autouse=True)
def fresh_twin_steps():
    """Twin steps are measured once per process; each test measures its own."""
    slow_dtypes.twin_cpu_s.cache_clear()
    yield
    slow_dtypes.twin_cpu_s.cache_clear()


class NoDevice:
    def synchronize(self, result=None):
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


def test_a_step_estimated_many_times_over_the_limit_is_not_tried():
    check_estimate(lambda: None, BUDGET)
    at_margin = (ESTIMATE_MARGIN * BUDGET.max_step_s, "estimated: at the margin")
    check_estimate(lambda: at_margin, BUDGET)
    with pytest.raises(StepTooSlow) as caught:
        check_estimate(lambda: (600.0, "estimated: 8 rows took 1.16 s here"), BUDGET)
    assert str(caught.value).startswith(
        "one step would take about 600 s (estimated: 8 rows took 1.16 s here), "
        "over the limit of 10 s per step; the case would take about 3000 s"
    )
    unlimited = dataclasses.replace(BUDGET, max_step_s=math.inf)
    check_estimate(lambda: pytest.fail("estimated without a limit"), unlimited)


def test_a_probe_keeps_its_fastest_call_after_the_first():
    ticks = iter([0.0, 0.1, 0.1, 0.6, 0.6, 0.8, 0.8, 1.2])  # calls of 0.1, 0.5, 0.2, 0.4 s
    calls = []
    assert fastest_s(lambda: calls.append(1), clock=lambda: next(ticks)) == pytest.approx(0.2)
    assert len(calls) == 4  # at most four
    ticks = iter([0.0, 0.9, 0.9, 1.2])  # two calls already spend a second
    assert fastest_s(lambda: None, clock=lambda: next(ticks)) == pytest.approx(0.3)


def test_the_matmul_ceiling_estimates_its_step_from_a_few_rows():
    spec = CaseSpec("torch", "ceiling", "cpu", "peak", "fp32", "standard", MATMUL)
    seconds, how = Ceiling.estimated_step_s(spec, get_device("cpu"))
    n = Ceiling.SIZES["standard"].matmul_n
    probe_s = float(how.split(" took ")[1].split(" s")[0])
    assert seconds == pytest.approx(probe_s * n / PROBE_ROWS, rel=0.01)
    assert how.startswith(f"estimated: {PROBE_ROWS} rows of the fp32 matmul took ")
    assert Ceiling.estimated_step_s(dataclasses.replace(spec, size="smoke"), get_device("cpu"))
    copy = dataclasses.replace(spec, variant="copy")
    assert Ceiling.estimated_step_s(copy, get_device("cpu")) is None


@pytest.fixture
def smoke_limit(monkeypatch):
    """A smoke step limit of 50 ms; the planted steps below sleep longer than that."""
    monkeypatch.setitem(BUDGETS, "smoke", dataclasses.replace(BUDGETS["smoke"], max_step_s=0.05))


def plant_slow_steps(monkeypatch, workload_cls):
    """Every step of ``workload_cls`` sleeps 0.1 s (over ``smoke_limit``'s 50 ms); returns
    the variants of the steps started, in order."""
    honest_step = workload_cls.step
    started = []

    def slow_step(self):
        started.append(self.spec.variant)
        time.sleep(0.1)
        return honest_step(self)

    monkeypatch.setattr(workload_cls, "step", slow_step)
    return started


def test_a_case_too_slow_for_its_profile_is_skipped_with_the_estimate(
    suite, monkeypatch, smoke_limit
):
    started = plant_slow_steps(monkeypatch, SimpleCNN)
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(*SMOKE, "--devices", "cpu", "-k", "infer", "-rs")
    result.assert_outcomes(skipped=1)
    assert len(started) == 1  # one step, not a whole case
    result.stdout.fnmatch_lines(
        [
            "*too slow: cnn infer fp32 on * at size smoke: one step took * s, over the limit "
            "of 0.05 s per step; the case would take about * s*",
        ]
    )


def test_a_case_estimated_far_over_the_limit_runs_no_step_at_all(suite, monkeypatch):
    honest_step = SimpleCNN.step
    calls = []

    def counted_step(self):
        calls.append(self.spec.phase)
        return honest_step(self)

    def planted(cls, spec, device):
        return (900.0, "estimated: planted") if spec.phase == "train" else None

    monkeypatch.setitem(BUDGETS, "smoke", dataclasses.replace(BUDGETS["smoke"], max_step_s=5.0))
    monkeypatch.setattr(SimpleCNN, "step", counted_step)
    monkeypatch.setattr(SimpleCNN, "estimated_step_s", classmethod(planted))
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(*SMOKE, "--devices", "cpu", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    assert "train" not in calls
    result.stdout.fnmatch_lines(
        ["*too slow: cnn train fp32 on * one step would take about 900 s (estimated: planted)*"]
    )


def test_an_emulated_dtype_is_estimated_from_the_fp32_twin_before_any_step(suite, monkeypatch):
    honest_forward = SimpleCNN.forward
    ran = []

    def counted_forward(self):  # in every step and parity check
        ran.append((self.spec.dtype, self.spec.memory_format))
        return honest_forward(self)

    monkeypatch.setitem(BUDGETS, "smoke", dataclasses.replace(BUDGETS["smoke"], max_step_s=5.0))
    monkeypatch.setattr(SimpleCNN, "forward", counted_forward)
    monkeypatch.setattr(slow_dtypes, "cpu_slowdown", lambda dtype: 1e6)  # planted emulation
    add_benchmarks(suite, "test_cnn_torch.py")
    layouts = ("--memory-format", "nchw,channels_last")  # channels_last: checked for parity
    args = (*SMOKE, "--devices", "cpu", "--dtype", "fp16", *layouts, "-k", "infer", "-rs")
    result = suite.runpytest(*args)
    result.assert_outcomes(skipped=2)
    assert {dtype for dtype, _ in ran} == {"fp32"}  # only the fp32 twins ran: no parity check
    assert {layout for _, layout in ran} == {"", "channels_last"}  # each in its own layout
    result.stdout.fnmatch_lines(
        [
            "*too slow: cnn infer fp16 on * one step would take about * s (estimated: one fp32 "
            "step took * s of CPU time on one thread and fp16 layers run 1000000x slower than "
            "fp32 on this CPU, shared by * threads)*"
        ]
    )


def test_only_an_emulated_dtype_on_the_cpu_under_autocast_is_estimated(monkeypatch):
    cpu = get_device("cpu")
    slowdown = {"fp16": 40.0, "bf16": 0.5}
    monkeypatch.setattr(slow_dtypes, "cpu_slowdown", slowdown.__getitem__)
    spec = CaseSpec("torch", "cnn", "cpu", "infer", "fp16", "smoke", mode="compile")
    import torch

    twins, threads = [], {"now": 4}  # PyTorch's threads, as on a 4-core machine

    def twin_step(self):
        twins.append((self.spec, threads["now"]))

    monkeypatch.setattr(SimpleCNN, "step", twin_step)
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads["now"])
    monkeypatch.setattr(torch, "set_num_threads", lambda n: threads.update(now=n))
    monkeypatch.setattr(slow_dtypes, "fastest_s", lambda call, clock: call() or 2.0)
    seconds, how = SimpleCNN.estimated_step_s(spec, cpu)
    assert seconds == 2.0 * 40 / 4  # the work of one thread, shared by four
    assert how == (
        "estimated: one fp32 step took 2 s of CPU time on one thread and fp16 layers run 40x "
        "slower than fp32 on this CPU, shared by 4 threads"
    )
    assert twins == [(dataclasses.replace(spec, dtype="fp32", mode="eager"), 1)]  # one thread
    assert threads["now"] == 4  # given back
    stepped = len(twins)
    eager = dataclasses.replace(spec, mode="eager")
    assert SimpleCNN.estimated_step_s(eager, cpu)[0] == seconds  # the same twin, measured once
    assert len(twins) == stepped
    for other in (
        dataclasses.replace(spec, dtype="bf16"),  # native here: not estimated
        dataclasses.replace(spec, dtype="fp32"),
        dataclasses.replace(spec, device="cuda"),
    ):
        assert SimpleCNN.estimated_step_s(other, cpu) is None
    # Attention casts q, k and v itself (no autocast): the probe's ratio says nothing of it.
    attention = CaseSpec("torch", "attention", "cpu", "infer", "fp16", "smoke", "sdpa-L=64")
    assert Attention.estimated_step_s(attention, cpu) is None


def test_the_cpu_slowdown_probe_runs_on_one_thread_and_gives_the_threads_back():
    import torch

    threads = torch.get_num_threads()
    slow_dtypes.cpu_slowdown.cache_clear()
    try:
        assert slow_dtypes.cpu_slowdown("bf16") > 0
    finally:
        slow_dtypes.cpu_slowdown.cache_clear()
    assert torch.get_num_threads() == threads


def test_an_mlx_cpu_case_is_estimated_from_its_pytorch_twin_where_mlx_is_far_slower(
    mlx, monkeypatch
):
    from accelbench.backends.mlx import slow_layers
    from accelbench.backends.mlx.devices import get_device as mlx_device
    from accelbench.workloads.cnn_mlx import MlxSimpleCNN

    twins = []
    monkeypatch.setattr(SimpleCNN, "step", lambda self: twins.append(self.spec))
    spec = CaseSpec("mlx", "cnn", "cpu", "train", "fp16", "smoke")
    monkeypatch.setattr(slow_layers, "cpu_slowdown", lambda dtype: 40.0)  # the Linux wheel's
    seconds, how = MlxSimpleCNN.estimated_step_s(spec, mlx_device("cpu"))
    assert seconds > 0 and how.startswith("estimated: one PyTorch fp32 step took ")
    assert how.endswith(
        "of CPU time on one thread and MLX's fp16 layers run 40x slower than PyTorch fp32 on "
        "this CPU"
    )
    assert set(twins) == {CaseSpec("torch", "cnn", "cpu", "train", "fp32", "smoke")}
    on_gpu = dataclasses.replace(spec, device="mps")
    assert MlxSimpleCNN.estimated_step_s(on_gpu, mlx_device("cpu")) is None
    monkeypatch.setattr(slow_layers, "cpu_slowdown", lambda dtype: 1.0)  # a Mac's Accelerate
    assert MlxSimpleCNN.estimated_step_s(spec, mlx_device("cpu")) is None
    # Attention's batched matmuls are not the probe's layers: bounded by the step limit.
    from accelbench.workloads.attention_mlx import MlxAttention

    monkeypatch.setattr(slow_layers, "cpu_slowdown", lambda dtype: 40.0)
    attention = CaseSpec("mlx", "attention", "cpu", "infer", "fp16", "smoke", "sdpa-L=64")
    assert MlxAttention.estimated_step_s(attention, mlx_device("cpu")) is None


def test_the_mlx_probe_compares_the_same_layers_in_cpu_time(mlx):
    from accelbench.backends.mlx import slow_layers

    slow_layers.cpu_slowdown.cache_clear()
    try:
        assert slow_layers.cpu_slowdown("fp16") > 0
    finally:
        slow_layers.cpu_slowdown.cache_clear()


def test_on_the_cpu_a_parity_step_over_the_limit_is_the_first_step_over_it(
    suite, monkeypatch, smoke_limit
):
    honest_parity, honest_step = SimpleCNN.parity_outputs, SimpleCNN.step
    steps = []

    def slow_parity(self):
        time.sleep(0.1)
        return honest_parity(self)

    def counted_step(self):
        steps.append(self.spec)
        return honest_step(self)

    monkeypatch.setattr(SimpleCNN, "parity_outputs", slow_parity)
    monkeypatch.setattr(SimpleCNN, "step", counted_step)
    add_benchmarks(suite, "test_cnn_torch.py")
    layout = ("--memory-format", "channels_last")  # checked against NCHW on the CPU
    result = suite.runpytest(*SMOKE, "--devices", "cpu", *layout, "-k", "infer", "-rs")
    result.assert_outcomes(skipped=1)
    assert steps == []  # no step after the parity step
    result.stdout.fnmatch_lines(
        ["*too slow: cnn infer fp32 on * one step took * s, over the limit of 0.05 s per step*"]
    )


def test_a_longer_length_of_a_slow_sweep_is_not_even_started(suite, monkeypatch, smoke_limit):
    started = plant_slow_steps(monkeypatch, Attention)
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
    session = runner.Runner(backends)
    session.too_slow[slow_cpu] = 90.0
    on_gpu = dataclasses.replace(slow_cpu, device="cuda", dtype="bf16", variant="naive-L=16384")
    reference = on_gpu.on("cpu", "fp32")  # its parity reference (Workload.parity_reference)
    reason = session.known_too_slow(on_gpu, "NVIDIA H200 (CUDA)", reference)
    assert reason.startswith(
        "too slow, not started: the CPU reference for parity: naive-L=8192 train fp32 on the "
        "CPU already took 90 s per step"
    )
    sdpa = dataclasses.replace(on_gpu, variant="sdpa-L=16384")
    assert session.known_too_slow(sdpa, "x", sdpa.on("cpu", "fp32")) is None
    shorter = dataclasses.replace(on_gpu, variant="naive-L=4096")
    assert session.known_too_slow(shorter, "x", shorter.on("cpu", "fp32")) is None
    assert session.known_too_slow(on_gpu, "x") is None  # no reference: nothing to inherit


def test_a_longer_length_after_an_estimated_one_says_it_was_estimated(monkeypatch):
    slow = CaseSpec("mlx", "attention", "cpu", "infer", "fp16", "standard", "naive-L=2048")
    session = runner.Runner(backends)
    session.too_slow[slow] = 84.0
    session.estimated.add(slow)
    monkeypatch.setitem(BUDGETS, "standard", BUDGET)
    longer = dataclasses.replace(slow, variant="naive-L=4096")
    assert session.known_too_slow(longer, "AMD EPYC (CPU, MLX)").startswith(
        "too slow, not started: naive-L=2048 infer fp16 on AMD EPYC (CPU, MLX) was estimated "
        "at 84 s per step, over the standard limit of 10 s"
    )
