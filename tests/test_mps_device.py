"""The MPS path, proven on a machine without MPS by a monkeypatched backend.

A real Mac is needed for real MPS numbers; what can be checked anywhere is the logic:
that the device is probed and skipped with a reason, and that every timed round ends in
``torch.mps.synchronize()`` before the clock is read.
"""

import json

import pytest
import torch

from accelbench.backends.torch.devices import MpsDevice, get_device

from clocklog import timed_intervals
from conftest import SMOKE, add_benchmarks


def test_every_timed_mps_round_ends_in_synchronize_before_the_clock_is_read(suite, fake_mps):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(
        *SMOKE,
        "--devices",
        "mps",
        "--benchmark-timer",
        "clocklog.clock",
        "--benchmark-json",
        "run.json",
    )
    result.assert_outcomes(passed=2)
    intervals = timed_intervals(fake_mps)
    saved = json.loads((suite.path / "run.json").read_text())["benchmarks"]
    expected_rounds = sum(b["stats"]["rounds"] + b["extra_info"]["warmup_rounds"] for b in saved)
    assert len(intervals) == expected_rounds
    assert all(interval == ["sync"] for interval in intervals), intervals


def test_mps_case_records_device_event_time_and_sampled_memory(suite, fake_mps):
    add_benchmarks(suite, "test_cnn_torch.py")
    suite.runpytest(
        *SMOKE,
        "--devices",
        "mps",
        "--benchmark-json",
        "run.json",
    ).assert_outcomes(passed=2)
    for bench in json.loads((suite.path / "run.json").read_text())["benchmarks"]:
        info = bench["extra_info"]
        assert info["device_label"] == "Fake M4 GPU (MPS)"
        assert info["device_time_median_s"] > 0
        assert info["memory"] == {
            "allocated_peak_sampled_bytes": 1000,
            "driver_allocated_peak_sampled_bytes": 2000,
        }
        assert info["parity_max_rel_error"] <= info["parity_tolerance"]


def test_a_wrong_mps_result_fails_the_benchmark_naming_the_output(suite, fake_mps, monkeypatch):
    from accelbench.workloads.cnn import SimpleCNN

    honest_forward = SimpleCNN.forward

    def planted(self):
        output = honest_forward(self)
        return output * 1.05 if isinstance(self.device, MpsDevice) else output

    monkeypatch.setattr(SimpleCNN, "forward", planted)
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(*SMOKE, "--devices", "cpu,mps")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*ParityError: Fake M4 GPU (MPS): output 'output' differs from the CPU by relative "
            "error 0.05 (tolerance 0.001)*"
        ]
    )


def test_benchmark_disable_turns_the_suite_into_a_quick_parity_check(suite, fake_mps, monkeypatch):
    add_benchmarks(suite, "test_cnn_torch.py")
    args = ["--bench-size", "smoke", "--devices", "cpu,mps", "--benchmark-disable"]
    result = suite.runpytest(*args)
    result.assert_outcomes(passed=4)
    assert "sync" in fake_mps  # the MPS step ran and was waited for
    assert "Rounds" not in result.stdout.str()  # but nothing was timed

    from accelbench.workloads.cnn import SimpleCNN

    honest_forward = SimpleCNN.forward
    monkeypatch.setattr(
        SimpleCNN,
        "forward",
        lambda self: honest_forward(self) * (1.05 if isinstance(self.device, MpsDevice) else 1),
    )
    suite.runpytest(*args).assert_outcomes(passed=2, failed=2)


def test_mps_skip_reason_says_why_when_torch_has_no_mps(monkeypatch, fresh_devices):
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: False)
    assert "MPS not available: torch" in get_device("mps").unusable_reason
    assert "built without MPS" in get_device("mps").unusable_reason


def test_mps_skip_reason_names_the_macos_version_when_mps_is_unavailable(
    monkeypatch, fresh_devices
):
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr("sys.platform", "darwin")
    monkeypatch.setattr("platform.mac_ver", lambda: ("13.6", ("", "", ""), "arm64"))
    reason = get_device("mps").unusable_reason
    assert reason.startswith("MPS not available: macOS 13.6")


def test_an_mps_that_reports_available_but_fails_to_allocate_is_skipped(monkeypatch, fresh_devices):
    """is_available() is True, the first allocation fails (as on macos-14 hosted runners)."""
    monkeypatch.delenv("RUNNER_ENVIRONMENT", raising=False)
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)

    def refuse(*args, **kwargs):
        raise RuntimeError("MPS backend out of memory (MPS allocated: 0 B, max allowed: 0 B)")

    monkeypatch.setattr(torch, "ones", refuse)
    reason = get_device("mps").unusable_reason
    assert reason == (
        "mps probe failed: RuntimeError: MPS backend out of memory "
        "(MPS allocated: 0 B, max allowed: 0 B)"
    )


@pytest.mark.parametrize(("mac", "expected"), [("13.6", "needs macOS 14+"), ("14.5", None)])
def test_bf16_on_mps_needs_macos_14(monkeypatch, mac, expected):
    monkeypatch.setattr("sys.platform", "darwin")
    monkeypatch.setattr("platform.mac_ver", lambda: (mac, ("", "", ""), "arm64"))
    reason = MpsDevice().dtype_unsupported_reason("bf16")
    assert (reason is None) if expected is None else (expected in reason)


def test_mps_is_not_used_on_a_github_hosted_runner(monkeypatch, fresh_devices):
    """Hosted macOS runners report MPS available; their GPU is no benchmark target."""
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setenv("RUNNER_ENVIRONMENT", "github-hosted")
    assert get_device("mps").unusable_reason.startswith(
        "MPS not usable on a GitHub-hosted macOS runner"
    )
