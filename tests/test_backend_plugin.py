"""A framework plugs in with one backend package and one registry line, nothing else.

The fake framework lives in tests/plugin_backend/ (a backend package ``fakefw``, one
workload module, one thin benchmark file); the session's conftest adds the one
``register(...)`` line that would otherwise sit in accelbench/backends/__init__.py.
"""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import ROOT, SMOKE, add_benchmarks

REGISTRY_LINE = (
    "from accelbench import backends\n"
    'backends.register(backends.Backend("fakefw", "FakeFW", "fakefw", ("cpu", "npu")))\n'
)


@pytest.fixture
def fake_framework(suite, monkeypatch):
    from accelbench import backends

    here = ROOT / "tests" / "plugin_backend"
    shutil.copytree(here / "fakefw", suite.path / "fakefw")
    shutil.copy(here / "bench_cnn_fakefw.py", suite.path / "benchmarks" / "test_cnn_fakefw.py")
    suite.makeconftest(REGISTRY_LINE + 'pytest_plugins = ["accelbench.plugin"]\n')
    monkeypatch.syspath_prepend(str(suite.path))
    monkeypatch.setattr(backends, "REGISTRY", dict(backends.REGISTRY))
    add_benchmarks(suite, "test_cnn_torch.py")
    return suite


def test_a_registered_framework_and_its_device_join_parametrization_and_summary(fake_framework):
    result = fake_framework.runpytest(
        *SMOKE,
        "--frameworks",
        "torch,fakefw",
        "--devices",
        "cpu,npu",
        "--benchmark-json",
        "run.json",
        "-rs",
        "-v",
    )
    # fakefw: cpu and npu x train and infer; torch: cpu runs, npu is not one of its devices.
    result.assert_outcomes(passed=6, skipped=2)
    result.stdout.fnmatch_lines(["*test_cnn_fakefw?npu-train?*PASSED*"])
    result.stdout.fnmatch_lines(["*PyTorch has no device 'npu'*"])
    saved = json.loads((fake_framework.path / "run.json").read_text())
    fake_rows = [r for r in saved["accelbench"]["speedups"] if r["framework"] == "fakefw"]
    assert {(r["phase"], r["device"]) for r in fake_rows} == {("train", "npu"), ("infer", "npu")}
    assert all(r["speedup"] > 0 for r in fake_rows)
    npu = [b for b in saved["benchmarks"] if b["extra_info"]["device"] == "npu"]
    assert {b["extra_info"]["device_label"] for b in npu} == {"Fake NPU (fakefw)"}
    assert all(b["extra_info"]["parity_max_rel_error"] == 0.0 for b in npu)
    assert saved["accelbench"]["environment"]["fakefw"] == {"fakefw": "0.1"}
    compared = {(r["device"], *r["frameworks"]) for r in saved["accelbench"]["frameworks"]}
    assert compared == {("cpu", "torch", "fakefw"), ("npu", "torch", "fakefw")}


def test_an_unknown_framework_is_still_a_usage_error(fake_framework):
    result = fake_framework.runpytest(*SMOKE, "--frameworks", "fakefw,jax")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--frameworks: unknown value 'jax'; choose from torch, tf, mlx, fakefw"]
    )
