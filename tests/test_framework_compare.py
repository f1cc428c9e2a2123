"""Frameworks side by side in the summary: every framework on a device beside every other,
each against its own CPU; rows computed from saved-JSON records."""

from __future__ import annotations

import pytest
from fixtures import runs

from accelbench.results import text, views
from accelbench.results.frameworks import FRAMEWORKS
from accelbench.results.record import parse_entries


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


def framework_rows(entries):
    return FRAMEWORKS.saved(FRAMEWORKS.rows(parse_entries(entries)[0]))


def render_frameworks(saved_rows):
    """The section's table, from its rows as saved."""
    return FRAMEWORKS.text(FRAMEWORKS.load(saved_rows))


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
    {"fullname": "test_plain", "stats": {"median": 1.0}, "extra_info": {}},
]


def rows_by(rows):
    return {(r["workload"], r["phase"], r["device"]): r for r in rows}


def test_one_row_per_device_and_phase_of_workloads_measured_in_several_frameworks():
    rows = rows_by(framework_rows(RECORDS))
    assert list(rows) == [
        ("cnn", "infer", "cpu"),
        ("cnn", "train", "cpu"),
        ("cnn", "train", "mps"),
    ]
    assert all(r["frameworks"] == ["torch", "tf"] for r in rows.values())


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


def test_three_frameworks_each_beside_every_other():
    """Not a hard-wired torch/tf pair: a third framework gets its own columns and a ratio
    against each of the others."""
    three = [*RECORDS, record("mlx", "cpu", "train", 0.080), record("mlx", "mps", "train", 0.002)]
    rows = rows_by(framework_rows(three))
    mps = rows["cnn", "train", "mps"]
    assert mps["frameworks"] == ["torch", "tf", "mlx"]
    assert mps["mlx_speedup_over_cpu"] == pytest.approx(40.0)
    assert mps["torch_vs_mlx"] == pytest.approx(0.5)  # mlx 2 ms, torch 4 ms
    assert mps["tf_vs_mlx"] == pytest.approx(0.2)
    assert mps["torch_vs_tf"] == pytest.approx(2.5)
    table = render_frameworks(list(rows.values()))
    header = table.splitlines()[1].split()
    assert header[-3:] == ["torch/tf", "torch/mlx", "tf/mlx"]
    assert table.splitlines()[0].startswith("PyTorch vs TensorFlow vs MLX")


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
    table = render_frameworks(framework_rows(RECORDS))
    lines = table.splitlines()
    assert lines[0].startswith("PyTorch vs TensorFlow")
    assert lines[1].split()[:4] == ["case", "phase", "dtype", "device"]
    mps_line = next(line for line in lines if " mps " in line)
    assert mps_line.split()[-1] == "2.50x"
    assert "2.00x" in mps_line and "10.00x" in mps_line
    assert render_frameworks([]) == ""
    computed = views.compute_all(parse_entries(RECORDS)[0])
    assert computed["frameworks"] == framework_rows(RECORDS)
    assert table in text.render_all(computed)
