"""Saving runs and comparing them, through pytest-benchmark's own storage."""

import json
import time

import pytest

from accelbench.workloads.cnn import SimpleCNN

from conftest import SMOKE, add_benchmarks

RUN = ["benchmarks", *SMOKE, "--devices", "cpu", "-k", "infer"]


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


def test_autosave_twice_then_compare_and_gate_on_a_planted_slowdown(suite, monkeypatch):
    add_benchmarks(suite, "test_cnn_torch.py")
    suite.runpytest(*RUN, "--benchmark-autosave").assert_outcomes(passed=1)
    suite.runpytest(*RUN, "--benchmark-autosave").assert_outcomes(passed=1)
    assert len(saved_runs(suite)) == 2

    result = suite.runpytest(*RUN, "--benchmark-compare")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*test_cnn_torch[[]cpu-infer[]] (0002_*", "*test_cnn_torch[[]cpu-infer[]] (NOW)*"]
    )

    # A slowdown planted relative to what this machine measured, however busy it is: each
    # step now sleeps three times the baseline's median first.
    baseline_median = json.loads(saved_runs(suite)[-1].read_text())["benchmarks"][0]["stats"][
        "median"
    ]
    honest_step = SimpleCNN.step

    def slow_step(self):
        time.sleep(3 * baseline_median)
        return honest_step(self)

    monkeypatch.setattr(SimpleCNN, "step", slow_step)
    result = suite.runpytest(*RUN, "--benchmark-compare", "--benchmark-compare-fail=median:15%")
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
            "accelbench: performance regressed beyond --benchmark-compare-fail (see above)",
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
