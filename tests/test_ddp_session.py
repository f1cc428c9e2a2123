"""Data-parallel sessions as people run them: plain pytest (a world of one worker) and
torchrun with two CPU workers on gloo, on a tiny model so that it takes seconds."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import ROOT, SMOKE, add_benchmarks

TINY = '''
"""A tiny model, data-parallel; one copy whose rank 1 diverges, one whose rank 1 is slow."""

import time

import pytest
import torch

from accelbench.backends.torch.workload import TorchWorkload
from accelbench.workloads.ddp import DataParallel

SLEEP_S = 0.03


class Tiny(TorchWorkload):
    name = "tiny"
    SIZES = {"smoke": 4, "standard": 4, "full": 4}

    def build_model(self):
        return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))

    def make_batch(self, generator):
        b = self.size
        images = torch.randn(b, 8, generator=generator)
        return (images,), torch.randint(0, 4, (b,), generator=generator)

    @property
    def items_per_step(self):
        return self.size

    def shapes(self):
        return {"batch": self.size}


class Planted(Tiny):
    """Rank 1 steps twice as far: its parameters leave rank 0's after one step."""

    name = "planted"

    def make_optimizer(self, params):
        return torch.optim.SGD(params, lr=0.01 * (1 + torch.distributed.get_rank()))


class DdpTiny(DataParallel):
    name = "ddp-tiny"
    base = Tiny


class DdpPlanted(DataParallel):
    name = "ddp-planted"
    base = Planted


class DdpSlowRank(DataParallel):
    """Rank 1 sleeps in every step; rank 0 does not."""

    name = "ddp-slow"
    base = Tiny

    def step(self):
        if torch.distributed.get_rank() == 1:
            time.sleep(SLEEP_S)
        return super().step()


@pytest.mark.workload.with_args(DdpTiny)
def test_ddp_tiny(measure):
    measure()


@pytest.mark.workload.with_args(DdpPlanted)
def test_ddp_planted(measure):
    measure()


@pytest.mark.workload.with_args(DdpSlowRank)
def test_ddp_slow(measure):
    measure()


@pytest.mark.workload.with_args(Tiny)
def test_tiny(measure):
    measure()
'''

# Each rank logs the clock reads of pytest-benchmark's timer, the device's synchronize
# and the group's barriers, then writes them to events-rank<RANK>.json.
RANK_LOG = """
import json
import os
import time

import pytest

pytest_plugins = ["accelbench.plugin"]

EVENTS = []


def clock():
    EVENTS.append("clock")
    return time.perf_counter()


def pytest_configure(config):
    from accelbench.backends.torch import distributed
    from accelbench.backends.torch.devices import CpuDevice

    barrier = distributed.barrier

    def logged_barrier(group):
        barrier(group)
        EVENTS.append("barrier")

    distributed.barrier = logged_barrier
    CpuDevice.synchronize = lambda self, result=None: EVENTS.append("sync")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    EVENTS.append("case " + item.name)
    return (yield)


def pytest_unconfigure(config):
    with open(f"events-rank{os.environ.get('RANK', '0')}.json", "w") as f:
        json.dump(EVENTS, f)
"""


@pytest.fixture
def tiny_suite(suite):
    (suite.path / "benchmarks" / "test_tiny.py").write_text(TINY)
    return suite


def test_without_torchrun_each_case_is_a_group_of_one_worker(tiny_suite):
    result = tiny_suite.runpytest(
        *SMOKE,
        "--devices",
        "cpu,mps",
        "--frameworks",
        "torch",
        "-k",
        "ddp_tiny",
        "--benchmark-json",
        "run.json",
        "-rs",
    )
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*data-parallel scaling*",
            "torch ddp-tiny *train*fp32*cpu*gloo*1 *100%*1 worker*",
            "*mps: MPS has no collective backend in torch.distributed*",
        ]
    )
    saved = json.loads((tiny_suite.path / "run.json").read_text())
    (entry,) = saved["benchmarks"]
    info = entry["extra_info"]
    assert (info["workload"], info["variant"], info["workers"]) == ("ddp-tiny", "workers=1", 1)
    assert info["launcher"] == "none" and info["communication"]["backend"] == "gloo"
    assert info["parity_errors"] == {"rank 0 vs one process": 0.0}
    assert info["step_sync_median_s"] > 0 and info["step_no_sync_median_s"] > 0
    launched = saved["accelbench"]["environment"]["distributed"]  # a fact of the run
    assert (launched["world_size"], launched["launcher"]) == (1, "none")
    assert "distributed" not in saved["machine_info"]["accelbench"]  # not of the machine
    assert saved["accelbench"]["data_parallel"][0]["efficiency"] == 1.0


def test_a_data_parallel_cpu_case_records_energy_as_a_single_device_cpu_case_does(tiny_suite):
    result = tiny_suite.runpytest(
        *SMOKE,
        "--devices",
        "cpu",
        "--frameworks",
        "torch",
        "benchmarks/test_tiny.py::test_tiny",
        "benchmarks/test_tiny.py::test_ddp_tiny",
        "-k",
        "train",
        "--benchmark-json",
        "run.json",
    )
    result.assert_outcomes(passed=2)
    saved = json.loads((tiny_suite.path / "run.json").read_text())
    energy = {b["extra_info"]["workload"]: b["extra_info"]["energy"] for b in saved["benchmarks"]}
    assert energy["ddp-tiny"] == energy["tiny"]
    assert energy["tiny"]["measured"] is False
    assert energy["tiny"]["reason"].startswith("energy not measured")


def test_a_data_parallel_case_estimated_far_over_the_limit_takes_no_step(tiny_suite, monkeypatch):
    from accelbench.backends.torch.workload import TorchWorkload
    from accelbench.core.sizes import BUDGETS
    from accelbench.workloads.ddp import DataParallel

    steps = []
    honest_step = DataParallel._step

    def counted_step(self, sync):
        steps.append(self.spec.workload)
        return honest_step(self, sync)

    def planted(cls, spec, device):
        assert spec.workload == "tiny" and spec.variant == ""  # one worker's model alone
        return 900.0, "estimated: planted"

    monkeypatch.setitem(BUDGETS, "smoke", dataclasses.replace(BUDGETS["smoke"], max_step_s=5.0))
    monkeypatch.setattr(DataParallel, "_step", counted_step)
    monkeypatch.setattr(TorchWorkload, "estimated_step_s", classmethod(planted))  # Tiny's
    result = tiny_suite.runpytest(*SMOKE, "--devices", "cpu", "-k", "ddp_tiny", "-rs")
    result.assert_outcomes(skipped=1)
    assert steps == []
    result.stdout.fnmatch_lines(
        ["*too slow: ddp-tiny workers=1 train fp32 on * one step would take about 900 s*"]
    )


def test_a_data_parallel_case_whose_first_step_is_over_the_limit_takes_no_more(
    tiny_suite, monkeypatch
):
    from accelbench.core.sizes import BUDGETS
    from accelbench.workloads.ddp import DataParallel

    steps = []
    honest_step = DataParallel._step

    def slow_step(self, sync):
        steps.append(self.spec.workload)
        time.sleep(0.1)
        return honest_step(self, sync)

    monkeypatch.setitem(BUDGETS, "smoke", dataclasses.replace(BUDGETS["smoke"], max_step_s=0.05))
    monkeypatch.setattr(DataParallel, "_step", slow_step)
    result = tiny_suite.runpytest(*SMOKE, "--devices", "cpu", "-k", "ddp_tiny", "-rs")
    result.assert_outcomes(skipped=1)
    assert steps == ["ddp-tiny"]  # the parity step, timed; no reference step, no warm-up
    result.stdout.fnmatch_lines(
        ["*too slow: ddp-tiny workers=1 train fp32 on * one step took * s, over the limit*"]
    )


def test_a_single_device_run_does_not_start_torch_distributed(suite):
    import torch.distributed as dist

    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(*SMOKE, "--devices", "cpu", "-k", "infer", "--benchmark-json", "r")
    result.assert_outcomes(passed=1)
    assert not dist.is_initialized()
    saved = json.loads((suite.path / "r").read_text())
    assert "distributed" not in saved["accelbench"]["environment"]
    assert saved["accelbench"]["data_parallel"] == []


def test_data_parallel_cases_are_pytorch_only(tiny_suite):
    """Asked for other frameworks only, the data-parallel cases are not collected at all."""

    def collected(frameworks):
        result = tiny_suite.runpytest(
            "--collect-only", "-q", "--bench-size", "smoke", "--frameworks", frameworks
        )
        return [line for line in result.outlines if "::test_ddp_" in line]

    assert len(collected("torch")) == 9  # three workloads on cpu, mps and cuda
    assert collected("tf,mlx") == []


def test_a_data_parallel_workload_trains_a_pytorch_model():
    from accelbench.core.workload import Workload
    from accelbench.workloads.ddp import DataParallel

    class NotTorch(Workload):
        name, framework = "not-torch", "mlx"

    with pytest.raises(TypeError, match="DistributedDataParallel trains PyTorch models"):

        class DdpNotTorch(DataParallel):
            name = "ddp-not-torch"
            base = NotTorch


@pytest.fixture(scope="module")
def torchrun_session(tmp_path_factory):
    """One torchrun launch of two CPU workers over the tiny cases; its folder and output."""
    if shutil.which("torchrun") is None and not _module_runs("torch.distributed.run"):
        pytest.skip("torchrun is not installed")
    path = tmp_path_factory.mktemp("torchrun")
    (path / "benchmarks").mkdir()
    (path / "benchmarks" / "test_tiny.py").write_text(TINY)
    (path / "conftest.py").write_text(RANK_LOG)
    ini = (ROOT / "pytest.ini").read_text().replace("testpaths = tests", "testpaths = benchmarks")
    (path / "pytest.ini").write_text(ini)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        env.pop(name, None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "pytest",
        *SMOKE,
        "--devices",
        "cpu",
        "--frameworks",
        "torch",
        "-p",
        "no:cacheprovider",
        "--benchmark-timer",
        "conftest.clock",
        "--benchmark-json",
        "run.json",
        "--benchmark-autosave",
        "--benchmark-storage",
        "store",
        "-rfs",
    ]
    done = subprocess.run(
        command, cwd=path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    return path, done.returncode, done.stdout + done.stderr


def _module_runs(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _events(path, rank):
    return json.loads((path / f"events-rank{rank}.json").read_text())


def _cases(events):
    """Events per case: {"test_ddp_tiny[cpu-train-workers=2]": [...]}."""
    cases, current = {}, None
    for event in events:
        if event.startswith("case "):
            current = event[5:]
            cases[current] = []
        elif current:
            cases[current].append(event)
    return cases


def test_under_torchrun_every_timed_round_ends_in_sync_and_barrier_on_every_rank(
    torchrun_session,
):
    path, _, output = torchrun_session
    for rank in (0, 1):
        cases = _cases(_events(path, rank))
        events = cases["test_ddp_tiny[cpu-train-workers=2]"]
        clocks = [i for i, e in enumerate(events) if e == "clock"]
        assert len(clocks) >= 4 and len(clocks) % 2 == 0, output
        for start, end in zip(clocks[::2], clocks[1::2]):
            assert events[start + 1 : end][-2:] == ["sync", "barrier"], (rank, events)
    rounds = [_cases(_events(path, r))["test_ddp_tiny[cpu-train-workers=2]"] for r in (0, 1)]
    assert rounds[0].count("clock") == rounds[1].count("clock")  # the plan was agreed


def test_under_torchrun_the_step_time_is_the_slowest_ranks(torchrun_session):
    path, _, output = torchrun_session
    saved = json.loads((path / "run.json").read_text())
    slow = next(b for b in saved["benchmarks"] if b["name"] == "test_ddp_slow[cpu-train-workers=2]")
    # Rank 1 sleeps 30 ms a step, rank 0 never. A barrier releases the ranks a little apart,
    # so rank 1 may begin a round's first sleep before rank 0 reads its clock: a round lasts
    # nearly, not always fully, 30 ms a step (28.8 ms seen on a loaded 2-core machine).
    assert slow["stats"]["median"] >= 0.8 * 0.03, output


def test_under_torchrun_a_divergent_rank_fails_the_case_on_every_rank(torchrun_session):
    _, returncode, output = torchrun_session
    assert returncode != 0
    failed = "FAILED benchmarks/test_tiny.py::test_ddp_planted[cpu-train-workers=2]"
    assert output.count(failed) == 2  # on both ranks
    assert "rank 1's parameter update differs from rank 0's" in output


def test_under_torchrun_the_other_worker_counts_as_the_cases_own_cpu_not_another_process(
    torchrun_session,
):
    path, _, output = torchrun_session
    saved = json.loads((path / "run.json").read_text())
    case = next(b for b in saved["benchmarks"] if b["name"] == "test_ddp_tiny[cpu-train-workers=2]")
    conditions = case["extra_info"]["conditions"]
    for window in ("cpu", "cpu_timed"):
        # Present only where the other worker was found on this machine; its value may be 0.0
        # (a tiny step's timed rounds can use less CPU than one clock tick).
        assert conditions[window]["sibling_workers_cores"] >= 0.0, output
    assert case["extra_info"]["flags"] == conditions["flags"]


def test_under_torchrun_a_cpu_case_records_energy_as_not_measured_like_any_cpu_case(
    torchrun_session,
):
    from accelbench.core.energy import not_measured_reason

    path, _, output = torchrun_session
    saved = json.loads((path / "run.json").read_text())
    case = next(b for b in saved["benchmarks"] if b["name"] == "test_ddp_tiny[cpu-train-workers=2]")
    assert case["extra_info"]["energy"] == {
        "measured": False,
        "reason": not_measured_reason("cpu", None),
    }, output


def test_under_torchrun_rank_0_saves_the_run_and_rank_1_writes_nothing(torchrun_session):
    path, _, output = torchrun_session
    saved = json.loads((path / "run.json").read_text())
    assert saved["accelbench"]["environment"]["distributed"]["rank"] == 0, output
    assert saved["accelbench"]["environment"]["distributed"]["world_size"] == 2
    assert len(list((path / "store").rglob("*.json"))) == 1
    names = {b["name"] for b in saved["benchmarks"]}
    assert {"test_ddp_tiny[cpu-train-workers=1]", "test_ddp_tiny[cpu-train-workers=2]"} <= names
    two = next(b for b in saved["benchmarks"] if b["name"].endswith("tiny[cpu-train-workers=2]"))
    info = two["extra_info"]
    assert (info["workers"], info["world_size"], info["launcher"]) == (2, 2, "torchrun")
    assert info["parity_errors"]["rank 1 vs rank 0"] == 0.0
    assert len(info["items_per_worker"]) == 2
    assert info["communication"]["env"]["OMP_NUM_THREADS"] == "1"
    assert output.count("accelbench summary") == 1  # rank 0 prints it, once


def test_under_torchrun_rank_1_idles_through_one_worker_cases_and_single_device_ones(
    torchrun_session,
):
    _, _, output = torchrun_session
    assert "rank 1 idles while the 1-worker case runs on ranks 0-0" in output
    assert "single-device case not run by a launch of 2 ranks" in output


def test_the_data_parallel_plugin_is_quiet_about_a_bad_launch_environment(suite, monkeypatch):
    from accelbench.core import launch

    monkeypatch.setenv("RANK", "0")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    launch.current.cache_clear()
    try:
        result = suite.runpytest(*SMOKE)
    finally:
        monkeypatch.delenv("RANK")
        launch.current.cache_clear()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: WORLD_SIZE is not set but RANK is*"])
