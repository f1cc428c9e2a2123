"""Saving runs and comparing them, through pytest-benchmark's own storage."""

import json

import pytest

from accelbench.workloads.cnn import SimpleCNN

import virtualclock
from conftest import SMOKE, add_benchmarks

RUN = ["benchmarks", *SMOKE, "--devices", "cpu", "-k", "infer"]


def planted_steps(monkeypatch, seconds: float) -> list[float]:
    """Every CNN step moves the virtual clock by ``step_s[0]`` (returned, to change later):
    timed with ``--benchmark-timer virtualclock.clock``, a step lasts exactly that."""
    honest_step = SimpleCNN.step
    step_s = [seconds]

    def planted_step(self):
        virtualclock.advance(step_s[0])
        return honest_step(self)

    monkeypatch.setattr(SimpleCNN, "step", planted_step)
    return step_s


def saved_runs(suite):
    return sorted((suite.path / ".benchmarks").glob("*/*.json"))


def test_saved_json_carries_extra_info_machine_info_and_the_speedup_summary(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    suite.runpytest(*RUN, "--benchmark-json", "run.json").assert_outcomes(passed=1)
    saved = json.loads((suite.path / "run.json").read_text())
    (bench,) = saved["benchmarks"]
    assert bench["params"] == {"device": "cpu", "phase": "infer"}
    info = bench["extra_info"]
    assert {k: info[k] for k in ("framework", "workload", "device", "phase", "dtype", "size")} == {
        "framework": "torch",
        "workload": "cnn",
        "device": "cpu",
        "phase": "infer",
        "dtype": "fp32",
        "size": "smoke",
    }
    assert info["dtype_ran"] == "fp32"
    assert info["shapes"] == {"batch": 16, "input": [16, 3, 32, 32], "memory_format": "nchw"}
    assert (info["mode"], info["memory_format"]) == ("eager", "")
    assert info["throughput_per_s"] == pytest.approx(16 / bench["stats"]["median"])
    assert info["tflops_per_s"] == pytest.approx(
        info["flops_per_step"] / bench["stats"]["median"] / 1e12
    )
    assert info["flops_per_step"] > 0
    assert info["rounds"] == bench["stats"]["rounds"]
    assert bench["stats"]["iterations"] == info["steps_per_round"]
    assert info["memory"]["rss_peak_sampled_bytes"] > 0
    assert info["threads"] >= 1
    assert "UNSERIALIZABLE" not in json.dumps(saved)
    env = saved["machine_info"]["accelbench"]
    assert env["torch"]["devices"]["cpu"]["usable"] is True
    assert env["system"]["cpu"]
    (row,) = saved["accelbench"]["speedups"]
    assert row["cpu_median_s"] == bench["stats"]["median"]
    assert saved["accelbench"]["format"] == 2 and saved["accelbench"]["partial"] is False
    assert list(suite.path.rglob(".accelbench-tmp-*")) == []  # written whole, then renamed


def test_autosave_twice_then_compare_and_gate_on_a_planted_slowdown(suite, monkeypatch, ten_rounds):
    """Timed with a fake clock that only a step moves: the baseline's step lasts 1 ms, the
    slowed one twice that, however busy the machine is."""
    step_s = planted_steps(monkeypatch, 0.001)
    run = [*RUN, "--benchmark-timer", "virtualclock.clock"]
    add_benchmarks(suite, "test_cnn_torch.py")
    suite.runpytest(*run, "--benchmark-autosave").assert_outcomes(passed=1)
    suite.runpytest(*run, "--benchmark-autosave").assert_outcomes(passed=1)
    assert len(saved_runs(suite)) == 2
    baseline = json.loads(saved_runs(suite)[-1].read_text())["benchmarks"][0]["stats"]
    assert baseline["median"] == pytest.approx(0.001)

    result = suite.runpytest(*run, "--benchmark-compare", "--bench-tables")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*test_cnn_torch[[]cpu-infer[]] (0002_*", "*test_cnn_torch[[]cpu-infer[]] (NOW)*"]
    )

    step_s[0] = 2 * baseline["median"]
    gate = ["--benchmark-compare", "--benchmark-compare-fail=median:15%", "--gate-smoke"]
    result = suite.runpytest(*run, *gate)
    assert result.ret == 1
    result.stderr.fnmatch_lines(
        [
            "Performance has regressed:",
            "*test_cnn_torch[[]cpu-infer[]]*Field 'median' has failed PercentageRegressionCheck*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*accelbench summary*",
            "accelbench: performance regressed beyond --benchmark-compare-fail (see above)*",
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_the_gate_leaves_a_case_measured_on_a_busy_machine_out_as_unreliable(
    suite, monkeypatch, ten_rounds, fake_load
):
    """As ``python -m accelbench compare`` does: the change may be the machine, not the
    code (issue 22: two runs of one commit on a busy machine must not fail the gate)."""
    step_s = planted_steps(monkeypatch, 0.001)
    run = [*RUN, "--benchmark-timer", "virtualclock.clock"]
    add_benchmarks(suite, "test_cnn_torch.py")
    fake_load(others_cores=0.0)
    suite.runpytest(*run, "--benchmark-autosave").assert_outcomes(passed=1)

    fake_load(others_cores=1.8)
    step_s[0] = 0.002
    gate = ["--benchmark-compare", "--benchmark-compare-fail=median:15%", "--gate-smoke"]
    result = suite.runpytest(*run, *gate)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "not gate material: 1 case(s) left out of the comparison and of "
            "--benchmark-compare-fail:",
            "  unreliable: the machine was busy in the current run: test_cnn_torch[[]cpu-infer[]]",
            "WARNING: the machine was busy during 1 of 1 cases*",
        ]
    )
    assert "Performance has regressed" not in result.stderr.str()
