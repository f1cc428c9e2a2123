"""Whole sessions with TensorFlow, each in its own Python process, as a user runs them.

Each run is a subprocess: a session that imports TensorFlow (or a planted stand-in) must
not share this process, whose sys.modules pytester would restore afterwards.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from conftest import ROOT, SMOKE, add_benchmarks

SMOKE_CPU = (*SMOKE, "--devices", "cpu")


@pytest.fixture
def tf_suite(suite, monkeypatch):
    """The scratch project, with the repository importable from its subprocess runs."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    add_benchmarks(suite, "test_cnn_torch.py", "test_cnn_tf.py")
    return suite


def saved_run(pytester) -> dict:
    return json.loads((pytester.path / "run.json").read_text())


def test_a_broken_tensorflow_skips_tf_cases_with_its_error_and_torch_still_runs(
    tf_suite, monkeypatch
):
    plant = tf_suite.path / "plant" / "tensorflow"
    plant.mkdir(parents=True)
    (plant / "__init__.py").write_text(
        'raise ImportError("planted tensorflow: Symbol not found: _TF_NewStatus")\n'
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(plant.parent), str(ROOT)]))
    result = tf_suite.runpytest_subprocess(*SMOKE_CPU, "-rs", "--benchmark-json", "run.json")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(
        ["SKIPPED*TensorFlow unusable: ImportError: planted tensorflow: Symbol not found*"]
    )
    saved = saved_run(tf_suite)
    assert {b["extra_info"]["framework"] for b in saved["benchmarks"]} == {"torch"}
    # TensorFlow's facts depend on --frameworks: the run's own block holds them.
    assert "tensorflow" not in saved["machine_info"]["accelbench"]
    tf_facts = saved["accelbench"]["environment"]["tensorflow"]
    assert "planted tensorflow" in tf_facts["import_error"]


def test_a_torch_only_run_never_imports_tensorflow(tf_suite):
    (tf_suite.path / "benchmarks" / "conftest.py").write_text(
        "import json, sys\n\n\n"
        "def pytest_unconfigure(config):\n"
        "    loaded = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "    with open('loaded.json', 'w') as f:\n"
        "        json.dump(loaded, f)\n"
    )
    result = tf_suite.runpytest_subprocess(
        *SMOKE_CPU, "-k", "infer", "--frameworks", "torch", "--benchmark-json", "run.json"
    )
    result.assert_outcomes(passed=1, deselected=3)
    assert json.loads((tf_suite.path / "loaded.json").read_text()) == []
    saved = saved_run(tf_suite)
    assert saved["machine_info"]["accelbench"].get("tensorflow") is None
    assert saved["accelbench"]["environment"].get("tensorflow") is None


def test_tf_smoke_run_on_the_cpu_beside_torch(tf, tf_suite):
    result = tf_suite.runpytest_subprocess(
        *SMOKE_CPU, "-s", "--benchmark-json", "run.json", "--bench-tables"
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*accelbench summary*",
            "*PyTorch vs TensorFlow*",
            "cnn*infer*fp32*cpu*images/s*images/s*",
            "cnn*train*fp32*cpu*images/s*images/s*",
        ]
    )
    # -s leaves stderr uncaptured: TensorFlow's C++ INFO lines must not reach it.
    info_lines = [line for line in result.stderr.lines if re.match(r"I\d{4} ", line)]
    assert info_lines == []
    assert not [line for line in result.stderr.lines if "absl::InitializeLog" in line]

    saved = saved_run(tf_suite)
    by_case = {
        (b["extra_info"]["framework"], b["extra_info"]["phase"]): b for b in saved["benchmarks"]
    }
    for phase in ("train", "infer"):
        tf, torch = by_case["tf", phase]["extra_info"], by_case["torch", phase]["extra_info"]
        assert tf["throughput_per_s"] > 0
        assert tf["flops_per_step"] == torch["flops_per_step"] > 0
        assert tf["items_per_step"] == torch["items_per_step"]
        assert tf["dtype_ran"] == "fp32"
        assert "TensorFlow" in tf["device_label"]
    rows = saved["accelbench"]["frameworks"]
    assert {(r["phase"], r["device"]) for r in rows} == {("train", "cpu"), ("infer", "cpu")}
    assert all(r["tf_throughput_per_s"] > 0 and r["torch_vs_tf"] > 0 for r in rows)
    tf_facts = saved["accelbench"]["environment"]["tensorflow"]
    assert tf_facts["import_error"] is None
    assert tf_facts["devices"]["cpu"]["usable"] is True
