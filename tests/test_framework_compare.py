"""TensorFlow beside PyTorch in the summary: rows computed from saved-JSON records."""

from __future__ import annotations

import pytest
from fixtures import runs

from accelbench import summary
from accelbench.framework_compare import framework_rows, render_frameworks


def record(framework, device, phase, median_s, workload="cnn", dtype="fp32", batch=64):
    return runs.record(
        workload,
        device,
        phase,
        median_s,
        framework=framework,
        dtype=dtype,
        size="standard",
        items=batch,
        label=f"{device} ({framework})",
    )


RECORDS = [
    record("torch", "cpu", "train", 0.040),
    record("torch", "mps", "train", 0.004),
    record("tf", "cpu", "train", 0.020),
    record("tf", "mps", "train", 0.010),
    record("torch", "cpu", "infer", 0.010),
    record("tf", "cpu", "infer", 0.005),
    # Measured in PyTorch only: no comparison.
    record("torch", "cpu", "train", 0.5, workload="resnet18"),
    record("torch", "mps", "train", 0.1, workload="resnet18"),
    # Not a measurement of this suite.
    {"stats": {"median": 1.0}, "extra_info": {}},
]


def rows_by(rows):
    return {(r["workload"], r["phase"], r["device"]): r for r in rows}


def test_one_row_per_device_and_phase_of_workloads_measured_in_both_frameworks():
    rows = rows_by(framework_rows(RECORDS))
    assert list(rows) == [
        ("cnn", "infer", "cpu"),
        ("cnn", "train", "cpu"),
        ("cnn", "train", "mps"),
    ]


def test_each_framework_against_its_own_cpu_and_torch_against_tf_on_the_same_device():
    rows = rows_by(framework_rows(RECORDS))
    mps = rows["cnn", "train", "mps"]
    assert mps["tf_median_s"] == 0.010 and mps["torch_median_s"] == 0.004
    assert mps["tf_throughput_per_s"] == pytest.approx(6400)
    assert mps["tf_speedup_over_cpu"] == pytest.approx(2.0)
    assert mps["torch_speedup_over_cpu"] == pytest.approx(10.0)
    assert mps["torch_vs_tf"] == pytest.approx(2.5)
    cpu = rows["cnn", "train", "cpu"]
    assert cpu["tf_speedup_over_cpu"] is None and cpu["torch_speedup_over_cpu"] is None
    assert cpu["torch_vs_tf"] == pytest.approx(0.5)


def test_a_framework_missing_on_a_device_leaves_its_figures_empty():
    rows = rows_by(framework_rows([*RECORDS, record("torch", "cuda", "train", 0.001)]))
    cuda = rows["cnn", "train", "cuda"]
    assert cuda["tf_median_s"] is None and cuda["tf_speedup_over_cpu"] is None
    assert cuda["torch_speedup_over_cpu"] == pytest.approx(40.0)
    assert cuda["torch_vs_tf"] is None
    assert "-" in render_frameworks([cuda]).splitlines()[-1].split()


def test_cases_differing_in_dtype_are_not_compared():
    rows = framework_rows(
        [record("torch", "cpu", "train", 0.04), record("tf", "cpu", "train", 0.02, dtype="bf16")]
    )
    assert rows == []


def test_rendered_table_and_its_place_in_the_end_of_run_summary():
    text = render_frameworks(framework_rows(RECORDS))
    lines = text.splitlines()
    assert lines[0].startswith("TensorFlow vs PyTorch")
    assert lines[1].split()[:4] == ["case", "phase", "dtype", "device"]
    mps_line = next(line for line in lines if " mps " in line)
    assert mps_line.split()[-1] == "2.50x"
    assert "2.00x" in mps_line and "10.00x" in mps_line
    assert render_frameworks([]) == ""
    computed = summary.compute_all(RECORDS)
    assert computed["frameworks"] == framework_rows(RECORDS)
    assert text in summary.render_all(computed)
