"""`python -m accelbench export RUN --format ...`: a saved run for the tools people track
benchmarks with, every case named by its whole identity."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.runs import ceiling, record, saved_run, write

from accelbench.__main__ import main

from conftest import ROOT


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
    # throughput at the quartiles of the time per step: 64/8e-4 = 80k and 64/4e-4 = 160k
    assert first["range"] == "80000..160000"
    assert "machine: Test CPU, NVIDIA H200, Linux 6.0, torch 2.99.0" in first["extra"]
    assert "device: NVIDIA H200 (CUDA)" in first["extra"]
    assert set(first) == {"name", "unit", "value", "range", "extra"}


def test_bencher_metric_format_has_throughput_and_latency_per_item_with_bounds(run, capsys):
    bmf = json.loads(export(capsys, run, "bencher"))
    first = bmf["torch cnn train [cuda, fp32, smoke, eager]"]
    assert first["throughput-images-per-s"] == {
        "value": pytest.approx(128000),
        "lower_value": pytest.approx(80000),
        "upper_value": pytest.approx(160000),
    }
    assert first["latency-ns-per-image"] == {  # 5e-4 s per step of 64 images
        "value": pytest.approx(5e5 / 64),
        "lower_value": pytest.approx(4e5 / 64),
        "upper_value": pytest.approx(8e5 / 64),
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


# Trackers read it right ---------------------------------------------------------------------


def test_the_range_is_the_interquartile_range_never_a_plus_minus_wider_than_the_value(
    tmp_path, capsys
):
    """A noisy case: the fastest quartile at a tenth of the median. Half the throughput's
    range was ± 320000 on 64000 images/s; the range is now its two bounds."""
    noisy = record("cnn", "cuda", "train", 1e-3, items=64)
    noisy["stats"].update(q1=1e-4, q3=2e-3, min=1e-4, max=3e-3, iqr=1.9e-3)
    (entry,) = json.loads(
        export(capsys, write(tmp_path / "run.json", saved_run([noisy])), "github-action-benchmark")
    )
    assert entry["value"] == pytest.approx(64000)
    assert entry["range"] == "32000..640000"  # 64/2e-3 .. 64/1e-4
    assert "±" not in entry["range"]


def test_bencher_gets_one_measure_per_unit_each_named_by_its_unit(tmp_path, capsys):
    records = [
        record("cnn", "cuda", "train", 1e-3, items=64, item_unit="images"),
        record("llm", "cuda", "infer", 1e-2, items=128, item_unit="tokens", test="test_llm"),
        *ceiling("cuda", tflops=100, gb_per_s=1000),
    ]
    bmf = json.loads(export(capsys, write(tmp_path / "run.json", saved_run(records)), "bencher"))
    measures = {name: sorted(figures) for name, figures in bmf.items()}
    assert measures == {
        "torch cnn train [cuda, fp32, smoke, eager]": [
            "latency-ns-per-image",
            "throughput-images-per-s",
        ],
        "torch llm infer [cuda, fp32, smoke, eager]": [
            "latency-ns-per-token",
            "throughput-tokens-per-s",
        ],
        "torch ceiling matmul peak [cuda, fp32, smoke, eager]": [
            "flop-per-s",
            "latency-ns-per-matmul",
            "throughput-matmuls-per-s",
        ],
        "torch ceiling copy peak [cuda, fp32, smoke, eager]": [
            "latency-ns-per-byte",
            "throughput-bytes-per-s",
        ],
    }
    matmul = bmf["torch ceiling matmul peak [cuda, fp32, smoke, eager]"]
    assert matmul["flop-per-s"]["value"] == pytest.approx(100e12)
    copy = bmf["torch ceiling copy peak [cuda, fp32, smoke, eager]"]
    assert copy["throughput-bytes-per-s"]["value"] == pytest.approx(1000e9)


def provenance_run(tmp_path, name: str, commit: str, when: str):
    data = saved_run([record("cnn", "cuda", "train", 1e-3)], when=when)
    data["commit_info"] = {"id": commit, "dirty": commit.startswith("b"), "branch": "main"}
    return write(tmp_path / name, data)


def test_every_row_carries_its_commit_date_machine_and_run(tmp_path, capsys):
    """Two runs' CSV concatenated still say which row came from where."""
    first = provenance_run(tmp_path, "a.json", "a" * 40, "2026-01-02T03:04:05+00:00")
    second = provenance_run(tmp_path, "b.json", "b" * 40, "2026-02-03T04:05:06+00:00")
    rows = [
        row
        for path in (first, second)
        for row in csv.DictReader(io.StringIO(export(capsys, path, "csv")))
    ]
    assert [(r["commit"], r["date"]) for r in rows] == [
        ("a" * 40, "2026-01-02T03:04:05+00:00"),
        ("b" * 40 + "-dirty", "2026-02-03T04:05:06+00:00"),
    ]
    assert rows[0]["machine_id"] == rows[1]["machine_id"] != ""  # one machine
    assert rows[0]["run_id"] != rows[1]["run_id"]

    (entry,) = json.loads(export(capsys, first, "github-action-benchmark"))
    extra = entry["extra"].splitlines()
    assert f"commit: {'a' * 40}" in extra
    assert "date: 2026-01-02T03:04:05+00:00" in extra
    assert f"machine id: {rows[0]['machine_id']}" in extra
    assert f"run id: {rows[0]['run_id']}" in extra


# Hostile names and odd outputs --------------------------------------------------------------


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_a_name_that_would_start_a_spreadsheet_formula_is_exported_as_text(tmp_path, capsys, start):
    hostile = f'{start}HYPERLINK("http://evil.example","click")'
    entry = record("cnn", "cuda", "train", 1e-3, label=hostile)
    entry["fullname"] = hostile
    path = write(tmp_path / "run.json", saved_run([entry], cpu=hostile))
    (row,) = csv.DictReader(io.StringIO(export(capsys, path, "csv")))
    assert row["device_label"] == "'" + hostile
    assert row["fullname"] == "'" + hostile
    assert row["machine"].startswith("'" + hostile)
    assert row["median_s"] == "0.001"  # figures stay numbers


def test_every_csv_cell_is_quoted(run, capsys):
    for line in export(capsys, run, "csv").splitlines():
        assert line.startswith('"') and line.endswith('"')


def refused(capsys, run, out) -> str:
    assert main(["export", str(run), "--format", "csv", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    return line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_out_onto_a_fifo_or_a_link_to_a_device_is_refused_and_left_alone(run, tmp_path, capsys):
    fifo, link = tmp_path / "fifo", tmp_path / "null"
    os.mkfifo(fifo)
    link.symlink_to(os.devnull)
    assert refused(capsys, run, fifo) == (
        f"accelbench export: --out {fifo}: {fifo} is a FIFO (named pipe), not a regular file"
    )
    assert refused(capsys, run, link) == (
        f"accelbench export: --out {link}: {link} is a character device, not a regular file"
    )
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert link.is_symlink()


@pytest.mark.skipif(not Path("/proc/self/fd/1").exists(), reason="no /proc/self/fd")
def test_out_onto_a_link_to_standard_output_is_refused_and_left_alone(run, tmp_path, capsys):
    """/dev/stdout is such a link; a link of the test's own stands in for it, so that a
    failure replaces nothing outside tmp_path."""
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    line = refused(capsys, run, link)
    assert line.startswith(f"accelbench export: --out {link}: {link} is ")
    assert line.endswith(
        ("this program's standard output, not a file of its own", "not a regular file")
    )
    assert link.is_symlink()


def test_out_through_a_link_to_a_regular_file_writes_the_file_and_keeps_the_link(
    run, tmp_path, capsys
):
    target, link = tmp_path / "data.csv", tmp_path / "latest.csv"
    target.write_text("earlier\n")
    link.symlink_to(target)
    assert main(["export", str(run), "--format", "csv", "--out", str(link)]) == 0
    assert link.is_symlink()
    assert target.read_text().startswith('"name"')


def test_an_overlong_file_name_is_one_line(run, tmp_path, capsys):
    out = tmp_path / ("a" * 300 + ".csv")
    assert refused(capsys, run, out) == (
        f"accelbench export: --out {out}: file name too long (304 characters; "
        "this file system allows 255)"
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_export_onto_a_full_disk_is_one_line(run):
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "accelbench", "export", str(run), "--format", "csv"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
    assert done.returncode == 2
    assert (
        done.stderr
        == "accelbench export: cannot write to standard output: No space left on device\n"
    )


class FullDisk(io.StringIO):
    """Standard output onto a full disk: what is written stays in a buffer until a flush."""

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_sysinfo_onto_a_full_disk_is_one_line(monkeypatch, capsys):
    from accelbench.core import machine

    monkeypatch.setattr(machine, "collect", lambda registry: {"cpu": "Test CPU"})
    monkeypatch.setattr(sys, "stdout", FullDisk())
    assert main(["sysinfo", "--json"]) == 2
    assert capsys.readouterr().err == (
        "accelbench sysinfo: cannot write to standard output: No space left on device\n"
    )
