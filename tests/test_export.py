"""`python -m accelbench export RUN --format ...`: a saved run for the tools people track
benchmarks with, every case named by its whole identity."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fixtures.runs import record, saved_run, write

from accelbench.__main__ import main


@pytest.fixture
def run(tmp_path):
    """One test at two sizes and two dtypes: four benchmarks that must not collide."""
    records = [
        record("cnn", "cuda", "train", 5e-4, size=size, dtype=dtype, items=64, test="test_cnn")
        for size in ("smoke", "standard")
        for dtype in ("fp32", "bf16")
    ]
    records[0]["stats"].update(q1=4e-4, q3=8e-4)
    return write(tmp_path / "run.json", saved_run(records, gpu="NVIDIA H200"))


def export(capsys, run, fmt: str) -> str:
    assert main(["export", str(run), "--format", fmt]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def test_github_action_benchmark_gets_median_throughput_bigger_is_better(run, capsys):
    entries = json.loads(export(capsys, run, "github-action-benchmark"))
    assert [e["name"] for e in entries] == [
        "torch cnn train [cuda, fp32, smoke, eager]",
        "torch cnn train [cuda, bf16, smoke, eager]",
        "torch cnn train [cuda, fp32, standard, eager]",
        "torch cnn train [cuda, bf16, standard, eager]",
    ]
    first = entries[0]
    assert first["unit"] == "images/s"
    assert first["value"] == pytest.approx(64 / 5e-4)
    # throughput at the quartiles: 64/8e-4 = 80k and 64/4e-4 = 160k; half the range 40k
    assert first["range"] == "± 40000"
    assert "machine: Test CPU, NVIDIA H200, Linux 6.0, torch 2.99.0" in first["extra"]
    assert "device: NVIDIA H200 (CUDA)" in first["extra"]
    assert set(first) == {"name", "unit", "value", "range", "extra"}


def test_bencher_metric_format_has_throughput_and_latency_with_bounds(run, capsys):
    bmf = json.loads(export(capsys, run, "bencher"))
    first = bmf["torch cnn train [cuda, fp32, smoke, eager]"]
    assert first["throughput"] == {
        "value": pytest.approx(128000),
        "lower_value": pytest.approx(80000),
        "upper_value": pytest.approx(160000),
    }
    assert first["latency"] == {
        "value": pytest.approx(5e5),
        "lower_value": pytest.approx(4e5),
        "upper_value": pytest.approx(8e5),
    }
    assert len(bmf) == 4


def test_csv_has_one_row_per_benchmark_with_its_identity_and_figures(run, capsys):
    rows = list(csv.DictReader(io.StringIO(export(capsys, run, "csv"))))
    assert len(rows) == 4
    first = rows[0]
    assert {k: first[k] for k in ("framework", "workload", "phase", "device", "dtype")} == {
        "framework": "torch",
        "workload": "cnn",
        "phase": "train",
        "device": "cuda",
        "dtype": "fp32",
    }
    assert (first["size"], first["mode"], first["run_status"]) == ("smoke", "eager", "complete")
    assert float(first["median_s"]) == pytest.approx(5e-4)
    assert float(first["throughput_per_s"]) == pytest.approx(128000)
    assert first["throughput_unit"] == "images/s"
    assert first["machine"] == "Test CPU, NVIDIA H200, Linux 6.0, torch 2.99.0"


def test_out_writes_the_file_whole_and_a_bad_out_is_one_line(run, tmp_path, capsys):
    out = tmp_path / "data.json"
    assert main(["export", str(run), "--format", "bencher", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out} (bencher, 4 benchmarks)\n"
    assert len(json.loads(out.read_text())) == 4
    assert main(["export", str(run), "--format", "csv", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"accelbench export: --out {tmp_path}: {tmp_path} is a folder, not a file\n"
    )


def test_a_partial_run_is_exported_marked_as_such(run, capsys):
    data = json.loads(run.read_text())
    data["accelbench"].update(partial=True, partial_reason="interrupted after 4 of 9 cases")
    run.write_text(json.dumps(data))
    assert main(["export", str(run), "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    assert err == (
        f"accelbench export: note: {run} is a partial run (interrupted after 4 of 9 cases)\n"
    )
    assert next(csv.DictReader(io.StringIO(out)))["run_status"] == (
        "partial run (interrupted after 4 of 9 cases)"
    )


def test_an_unknown_format_is_a_usage_error(run, capsys):
    assert main(["export", str(run), "--format", "xml"]) == 2
    assert "argument --format: invalid choice: 'xml'" in capsys.readouterr().err
