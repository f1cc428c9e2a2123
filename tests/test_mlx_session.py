"""Whole sessions with MLX: timing ends in MLX's evaluation and synchronize, parity against
PyTorch's CPU holds (and a wrong answer fails), a broken MLX skips only MLX cases, and
``--frameworks mlx`` runs MLX alone.

The accelerator path is run on a fake Metal GPU whose work runs on MLX's CPU stream, so it
is checked on any machine. MLX's extension is imported once in this process (conftest),
before any in-process pytester run; the broken-MLX run is a subprocess of its own.
"""

from __future__ import annotations

import json
import os

import pytest

from accelbench.backends.mlx import devices as mlx_devices

from clocklog import timed_intervals
from conftest import ROOT, SMOKE, add_benchmarks


def saved_run(pytester) -> dict:
    return json.loads((pytester.path / "run.json").read_text())


@pytest.fixture
def logged_mlx(mlx, monkeypatch):
    """Every ``mx.async_eval`` (a step queuing its results) and ``mx.synchronize`` (the
    device waiting for them) is logged into ``clocklog.EVENTS``, then runs as it would."""
    import clocklog

    clocklog.EVENTS.clear()
    real_eval, real_sync = mlx.async_eval, mlx.synchronize

    def logged_eval(*arrays):
        clocklog.EVENTS.append("eval")
        return real_eval(*arrays)

    def logged_sync(*args):
        clocklog.EVENTS.append("sync")
        return real_sync(*args)

    monkeypatch.setattr(mlx, "async_eval", logged_eval)
    monkeypatch.setattr(mlx, "synchronize", logged_sync)
    return clocklog.EVENTS


@pytest.fixture
def fake_metal(mlx, monkeypatch):
    """MLX's "mps" device made usable anywhere: its work runs on MLX's CPU stream."""
    cls = mlx_devices.MlxMetalDevice
    monkeypatch.setattr(cls, "_platform_reason", lambda self: None)
    monkeypatch.setattr(cls, "gpu", False)
    monkeypatch.setattr(cls, "label", property(lambda self: "Fake M4 GPU (MLX Metal)"))
    mlx_devices.get_device.cache_clear()
    mlx_devices._dtype_probe.cache_clear()
    yield
    mlx_devices.get_device.cache_clear()
    mlx_devices._dtype_probe.cache_clear()


def test_every_mlx_case_is_checked_against_pytorch_and_every_timed_round_evaluates_and_syncs(
    suite, logged_mlx, fake_metal
):
    """On the CPU and on an accelerator: parity against the PyTorch CPU before timing, then
    each timed round is k steps, each queuing its evaluation, and one synchronize."""
    add_benchmarks(suite, "test_transformer_mlx.py")
    result = suite.runpytest(
        *SMOKE,
        "--devices",
        "cpu,mps",
        "--benchmark-timer",
        "clocklog.clock",
        "--benchmark-json",
        "run.json",
    )
    result.assert_outcomes(passed=4)
    saved = saved_run(suite)["benchmarks"]
    expected = []
    for bench in saved:
        info = bench["extra_info"]
        assert info["framework"] == "mlx" and info["dtype_ran"] == "fp32"
        assert info["parity_reference"] == "torch cpu fp32"
        assert info["parity_max_rel_error"] <= info["parity_tolerance"] == 1e-3
        assert info["memory"]["allocated_peak_bytes"] > 0
        assert info["flops_per_step"] > 0
        rounds = info["rounds"] + info["warmup_rounds"]
        expected += [("eval",) * info["steps_per_round"] + ("sync",)] * rounds
    assert {b["extra_info"]["device_label"] for b in saved} >= {"Fake M4 GPU (MLX Metal)"}
    intervals = timed_intervals(logged_mlx)
    assert sorted(map(tuple, intervals)) == sorted(expected)


def test_a_wrong_mlx_result_fails_the_benchmark_naming_the_output(suite, monkeypatch):
    from accelbench.workloads.cnn_mlx import MlxSimpleCNN

    honest_forward = MlxSimpleCNN.forward
    monkeypatch.setattr(MlxSimpleCNN, "forward", lambda self: honest_forward(self) * 1.05)
    add_benchmarks(suite, "test_cnn_mlx.py")
    result = suite.runpytest(*SMOKE, "--devices", "cpu", "-k", "infer")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(
        ["*ParityError: * (CPU, MLX): output 'output' differs from the CPU by relative error 0.05*"]
    )


def test_frameworks_mlx_alone_runs_only_the_mlx_cases(suite, mlx):
    add_benchmarks(suite, "test_transformer.py", "test_transformer_mlx.py")
    result = suite.runpytest(
        *SMOKE,
        "--devices",
        "cpu",
        "--frameworks",
        "mlx",
        "-k",
        "infer",
        "--benchmark-json",
        "run.json",
    )
    result.assert_outcomes(passed=1, deselected=3)
    result.stdout.fnmatch_lines(["*accelbench summary*", "mlx transformer*infer*fp32*tokens/s*"])
    saved = saved_run(suite)
    assert {b["extra_info"]["framework"] for b in saved["benchmarks"]} == {"mlx"}
    assert saved["accelbench"]["environment"]["mlx"]["import_error"] is None
    assert saved["machine_info"]["accelbench"].get("tensorflow") is None


def test_a_broken_mlx_skips_mlx_cases_with_its_error_and_torch_still_runs(suite, monkeypatch):
    plant = suite.path / "plant" / "mlx"
    plant.mkdir(parents=True)
    (plant / "__init__.py").write_text(
        'raise ImportError("planted mlx: libmlx.so: cannot open shared object file")\n'
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(plant.parent), str(ROOT)]))
    add_benchmarks(suite, "test_cnn_torch.py", "test_cnn_mlx.py")
    result = suite.runpytest_subprocess(
        *SMOKE,
        "--devices",
        "cpu",
        "--frameworks",
        "torch,mlx",
        "-k",
        "infer",
        "-rs",
        "--benchmark-json",
        "run.json",
    )
    result.assert_outcomes(passed=1, skipped=1, deselected=2)
    result.stdout.fnmatch_lines(
        ["SKIPPED*MLX unusable: ImportError: planted mlx: libmlx.so: cannot open shared*"]
    )
    saved = saved_run(suite)
    assert {b["extra_info"]["framework"] for b in saved["benchmarks"]} == {"torch"}
    assert "planted mlx" in saved["accelbench"]["environment"]["mlx"]["import_error"]


def test_a_language_model_round_is_its_tokens_each_evaluated_then_one_synchronize(
    suite, logged_mlx, fake_metal
):
    """tg on the CPU and on an accelerator: parity against the PyTorch CPU first, then every
    timed round generates the round's tokens, each step queuing the evaluation of its token
    and the cache it wrote, and ends in one synchronize."""
    from accelbench.workloads.llm import LanguageModel

    size = LanguageModel.SIZES["smoke"]
    add_benchmarks(suite, "test_llm_mlx.py")
    result = suite.runpytest(
        *SMOKE,
        "--devices",
        "cpu,mps",
        "-k",
        f"tg and {size.contexts[0]}",
        "--benchmark-timer",
        "clocklog.clock",
        "--benchmark-json",
        "run.json",
    )
    cases = 2 * len(LanguageModel.variants("smoke")) * 2  # devices x variants x phases
    result.assert_outcomes(passed=2, deselected=cases - 2)
    saved = saved_run(suite)["benchmarks"]
    expected = []
    for bench in saved:
        info = bench["extra_info"]
        assert info["parity_reference"] == "torch cpu fp32"
        assert info["parity_tokens"]["agreed"] == size.parity_tokens + 1
        assert info["steps_per_round"] == size.generate
        rounds = info["rounds"] + info["warmup_rounds"]
        expected += [("eval",) * size.generate + ("sync",)] * rounds
    assert {b["extra_info"]["device_label"] for b in saved} >= {"Fake M4 GPU (MLX Metal)"}
    assert sorted(map(tuple, timed_intervals(logged_mlx))) == sorted(expected)
