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


def registry_line(name: str, title: str) -> str:
    return (
        "from accelbench import backends\n"
        f'backends.register(backends.Backend("{name}", "{title}", "{name}", ("cpu", "npu")))\n'
    )


def plug_in(suite, monkeypatch, name: str, title: str):
    """The framework package ``name`` and its benchmark file in the session's folder, and
    its registry line in the session's conftest."""
    from accelbench import backends

    here = ROOT / "tests" / "plugin_backend"
    shutil.copytree(here / name, suite.path / name)
    shutil.copy(here / f"bench_cnn_{name}.py", suite.path / "benchmarks" / f"test_cnn_{name}.py")
    suite.makeconftest(registry_line(name, title) + 'pytest_plugins = ["accelbench.plugin"]\n')
    monkeypatch.syspath_prepend(str(suite.path))
    monkeypatch.setattr(backends, "REGISTRY", dict(backends.REGISTRY))
    return suite


@pytest.fixture
def fake_framework(suite, monkeypatch):
    plug_in(suite, monkeypatch, "fakefw", "FakeFW")
    add_benchmarks(suite, "test_cnn_torch.py")
    return suite


@pytest.fixture
def lazy_framework(suite, monkeypatch):
    # lazyfw's workload reuses fakefw's, so the package travels along (unregistered).
    shutil.copytree(ROOT / "tests" / "plugin_backend" / "fakefw", suite.path / "fakefw")
    return plug_in(suite, monkeypatch, "lazyfw", "LazyFW")


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


def test_a_framework_that_can_only_wait_on_a_steps_result_is_timed_with_the_steps_work(
    lazy_framework,
):
    """lazyfw's devices have no device-wide barrier: a step's work runs only when the
    device waits on what the step returned, each piece taking at least ``WORK_S``. Every
    timed step, the first step and the parity check include that work only because the
    loop hands each round's last result to ``synchronize``."""
    from lazyfw import WORK_S

    result = lazy_framework.runpytest(
        *SMOKE, "--frameworks", "lazyfw", "--devices", "cpu,npu", "--benchmark-json", "run.json"
    )
    result.assert_outcomes(passed=4)
    saved = json.loads((lazy_framework.path / "run.json").read_text())
    assert len(saved["benchmarks"]) == 4
    for entry in saved["benchmarks"]:
        assert entry["stats"]["min"] >= WORK_S, entry["name"]
        assert entry["extra_info"]["first_step_s"] >= WORK_S
    npu = [b for b in saved["benchmarks"] if b["extra_info"]["device"] == "npu"]
    assert [b["extra_info"]["parity_max_rel_error"] for b in npu] == [0.0, 0.0]
