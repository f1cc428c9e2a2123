"""`python -m accelbench report`: saved runs -> Markdown tables, PNG plots, one HTML page.

The fixture run has round numbers, so every expected figure follows from the inputs: the
simple CNN trains in 8 ms on the CPU, 2 ms on MPS and 0.5 ms on CUDA, with 1e10 FLOPs a
step; the matmul ceilings are 2.5, 10 and 50 TFLOP/s.
"""

from __future__ import annotations

import base64
import dataclasses
import errno
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from fixtures.runs import LABELS, ceiling, record, saved_run, write

from accelbench.__main__ import main
from accelbench.report import plots
from accelbench.results.record import parse_entries
from accelbench.results.views import attention_series, case_rows

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CNN_FLOPS = 10**10
TRAIN_S = {"cpu": 8e-3, "mps": 2e-3, "cuda": 5e-4}
INFER_S = {"cpu": 3e-3, "mps": 1e-3, "cuda": 2.5e-4}
PEAK_TFLOPS = {"cpu": 2.5, "mps": 10.0, "cuda": 50.0}
PEAK_GB_S = {"cpu": 50.0, "mps": 100.0, "cuda": 4000.0}
LENGTHS = (128, 256, 512, 1024)


def attention_sweep(device: str, impl: str, scale: float) -> list[dict]:
    """Times exactly proportional to L**2: the fitted slope is 2."""
    return [
        record(
            "attention",
            device,
            "infer",
            scale * length**2,
            variant=f"{impl}-L={length}",
            items=8 * length,
            item_unit="tokens",
            test="test_attention",
        )
        for length in LENGTHS
    ]


def known_records() -> list[dict]:
    records = []
    for device in ("cpu", "mps", "cuda"):
        records.append(record("cnn", device, "train", TRAIN_S[device], flops=CNN_FLOPS))
        records.append(record("cnn", device, "infer", INFER_S[device]))
        records += ceiling(device, PEAK_TFLOPS[device], PEAK_GB_S[device])
    records += attention_sweep("cpu", "sdpa", 1e-8) + attention_sweep("cuda", "sdpa", 1e-10)
    return records


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """The report of the fixture run, written once for the tests that read it."""
    folder = tmp_path_factory.mktemp("report")
    run = write(folder / "run.json", saved_run(known_records()))
    assert main(["report", str(run), "--out", str(folder / "out")]) == 0
    return folder / "out"


def table_rows(markdown: str, heading: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table after ``heading``, as dicts by column name."""
    lines = markdown.split(f"\n{heading}\n", 1)[1].splitlines()
    table = []
    for line in lines:
        if line.startswith("|"):
            table.append([c.strip() for c in line.strip()[1:-1].split(" | ")])
        elif table:
            break
    header, _align, *body = table
    return [dict(zip(header, row)) for row in body]


def one(rows: list[dict[str, str]], **match: str) -> dict[str, str]:
    (row,) = [r for r in rows if all(r[k] == v for k, v in match.items())]
    return row


# The tables --------------------------------------------------------------------------------


def test_speedup_is_the_cpu_median_over_the_device_median(report):
    rows = table_rows((report / "report.md").read_text(), "### torch cnn")
    # 8 ms / 0.5 ms and 3 ms / 0.25 ms on CUDA; 8 ms / 2 ms and 3 ms / 1 ms on MPS
    assert one(rows, phase="train", device=LABELS["cuda"])["speedup over CPU"] == "16.00x"
    assert one(rows, phase="infer", device=LABELS["cuda"])["speedup over CPU"] == "12.00x"
    assert one(rows, phase="train", device=LABELS["mps"])["speedup over CPU"] == "4.00x"
    assert one(rows, phase="infer", device=LABELS["mps"])["speedup over CPU"] == "3.00x"
    # the CPU is the reference: no speedup of its own, not 1.00x
    assert one(rows, phase="train", device=LABELS["cpu"])["speedup over CPU"] == "—"


def test_each_row_shows_median_iqr_throughput_and_tflops(report):
    rows = table_rows((report / "report.md").read_text(), "### torch cnn")
    cuda = one(rows, phase="train", device=LABELS["cuda"])
    assert cuda["median"] == "500 us"
    assert cuda["IQR"] == "10 us (2%)"  # the fixture's IQR is 2% of the median
    assert cuda["throughput"] == "128k images/s"  # 64 images / 0.5 ms
    assert cuda["TFLOP/s"] == "20"  # 1e10 FLOPs / 0.5 ms
    assert one(rows, phase="train", device=LABELS["cpu"])["TFLOP/s"] == "1.25"


def test_share_of_ceiling_is_tflops_over_the_same_devices_matmul_ceiling(report):
    rows = table_rows((report / "report.md").read_text(), "### torch cnn")
    assert one(rows, phase="train", device=LABELS["cuda"])["of ceiling"] == "40%"  # 20 / 50
    assert one(rows, phase="train", device=LABELS["mps"])["of ceiling"] == "50%"  # 5 / 10
    assert one(rows, phase="train", device=LABELS["cpu"])["of ceiling"] == "50%"  # 1.25 / 2.5
    assert one(rows, phase="infer", device=LABELS["cpu"])["of ceiling"] == "-"  # no FLOPs known


def test_ceilings_table_gives_tflops_and_copy_bandwidth_per_device(report):
    rows = table_rows((report / "report.md").read_text(), "### Ceilings")
    cuda = one(rows, device=LABELS["cuda"])
    assert cuda["matmul"] == "4096^3"
    assert cuda["matmul TFLOP/s"] == "50"
    assert cuda["copy GB/s"] == "4000"
    assert cuda["copy (read+write)"] == "512 MiB"
    # matmul: 10 / 2.5 and 50 / 2.5; copy: 100 / 50 and 4000 / 50
    speedups = [(r["matmul vs CPU"], r["copy vs CPU"]) for r in rows]
    assert speedups == [("—", "—"), ("4.00x", "2.00x"), ("20.00x", "80.00x")]


def test_case_rows_reuse_the_summarys_speedups():
    rows = case_rows(parse_entries(known_records())[0])
    (cuda,) = [
        r for r in rows if (r.key.workload, r.key.phase, r.device) == ("cnn", "train", "cuda")
    ]
    assert cuda.speedup == pytest.approx(TRAIN_S["cpu"] / TRAIN_S["cuda"])
    assert cuda.matmul_share.value == pytest.approx(CNN_FLOPS / TRAIN_S["cuda"] / 1e12 / 50)


def test_case_rows_are_frozen():
    row = case_rows(parse_entries(known_records())[0])[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.speedup = 2.0  # type: ignore[misc]


def test_a_noisy_benchmark_is_flagged(tmp_path):
    noisy = record("cnn", "cpu", "train", 8e-3, iqr=2.4e-3)  # IQR 30% of the median
    run = write(tmp_path / "run.json", saved_run([noisy]))
    assert main(["report", str(run), "--out", str(tmp_path / "out")]) == 0
    row = one(table_rows((tmp_path / "out" / "report.md").read_text(), "### torch cnn"))
    assert row["IQR"] == "2.4 ms (30%) *noisy*"


# Attention sweeps --------------------------------------------------------------------------


def test_attention_time_against_length_has_its_fitted_slope(report):
    series = attention_series(parse_entries(known_records())[0])
    assert [s.label for s in series] == [f"sdpa on {LABELS['cpu']}", f"sdpa on {LABELS['cuda']}"]
    assert [s.lengths for s in series] == [list(LENGTHS)] * 2
    assert all(s.slope == pytest.approx(2.0) for s in series)
    markdown = (report / "report.md").read_text()
    assert f"| sdpa on {LABELS['cuda']} | 128, 256, 512, 1024 | 2.00 |" in markdown


def test_bar_charts_keep_a_sweep_at_its_longest_length(report):
    markdown = (report / "report.md").read_text()
    assert "Bar charts show each sequence-length sweep at its longest length only." in markdown


# Plots and the HTML page -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["speedup.png", "throughput.png", "attention.png"])
def test_the_plots_are_png_files(report, name):
    assert (report / name).read_bytes()[:8] == PNG_MAGIC
    assert re.search(rf"^!\[[^]]+\]\({name}\)$", (report / "report.md").read_text(), re.M)


def test_the_html_page_embeds_every_plot(report):
    page = (report / "report.html").read_text()
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == 3
    assert all(base64.b64decode(data)[:8] == PNG_MAGIC for data in embedded)
    assert 'src="speedup.png"' not in page
    assert "<td>" in page and "16.00x" in page


def test_without_an_accelerator_there_is_no_speedup_plot(tmp_path, capsys):
    run = write(tmp_path / "run.json", saved_run([record("cnn", "cpu", "train", 8e-3)]))
    assert main(["report", str(run), "--out", str(tmp_path / "out")]) == 0
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "Only the CPU ran" in markdown
    assert "No ceiling in this run" in markdown
    assert not (tmp_path / "out" / "speedup.png").exists()
    assert (tmp_path / "out" / "throughput.png").read_bytes()[:8] == PNG_MAGIC
    assert "wrote" in capsys.readouterr().out


def test_a_summary_section_this_version_does_not_know_is_shown_as_saved(tmp_path):
    data = saved_run([record("cnn", "cpu", "train", 8e-3)])
    data["accelbench"]["future_view"] = [{"case": "cnn", "figure": 1.5}]
    run = write(tmp_path / "run.json", data)
    assert main(["report", str(run), "--out", str(tmp_path / "out")]) == 0
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "`future_view` (as saved in the run):" in markdown
    assert "| cnn | 1.5 |" in markdown


# Across machines ---------------------------------------------------------------------------


def machine_runs(folder: Path) -> tuple[Path, Path]:
    mac = [record("cnn", d, "train", TRAIN_S[d]) for d in ("cpu", "mps")]
    box = [
        record("cnn", "cpu", "train", 4e-3, label="AMD EPYC 9654 (CPU, 96 threads)"),
        record("cnn", "cuda", "train", TRAIN_S["cuda"]),
    ]
    (folder / "runs").mkdir()
    return (
        write(folder / "runs" / "mac.json", saved_run(mac, cpu="Apple M4", when="2026-01-01")),
        write(
            folder / "runs" / "h200.json",
            saved_run(box, cpu="AMD EPYC", gpu="NVIDIA H200", when="2026-01-02"),
        ),
    )


def test_runs_from_several_machines_share_one_table_with_a_column_per_chip(tmp_path):
    mac, box = machine_runs(tmp_path)
    assert main(["report", str(mac), str(box), "--out", str(tmp_path / "out")]) == 0
    markdown = (tmp_path / "out" / "report.md").read_text()
    (row,) = table_rows(markdown, "## Across machines")
    assert row["case"] == "torch cnn train (fp32, smoke)"
    assert row["unit"] == "images/s"
    # 64 images per step: 8 ms, 2 ms, 4 ms, 0.5 ms
    assert row[LABELS["cpu"]] == "8000"
    assert row[LABELS["mps"]] == "32k"
    assert row["AMD EPYC 9654 (CPU, 96 threads)"] == "16k"
    assert row[LABELS["cuda"]] == "128k"
    assert (tmp_path / "out" / "machines.png").read_bytes()[:8] == PNG_MAGIC
    for n in (1, 2):
        assert (tmp_path / "out" / f"run{n}-throughput.png").read_bytes()[:8] == PNG_MAGIC


def test_a_folder_of_runs_is_searched_recursively_and_ordered_by_date(tmp_path):
    machine_runs(tmp_path)
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert markdown.index("## Run 1: Apple M4") < markdown.index("## Run 2: AMD EPYC, NVIDIA H200")


def test_the_same_chip_in_two_runs_gets_two_columns(tmp_path):
    first = write(tmp_path / "a.json", saved_run([record("cnn", "cpu", "train", 8e-3)]))
    second = write(tmp_path / "b.json", saved_run([record("cnn", "cpu", "train", 4e-3)]))
    assert main(["report", str(first), str(second), "--out", str(tmp_path / "out")]) == 0
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert f"| {LABELS['cpu']} [run 1] | {LABELS['cpu']} [run 2] |" in markdown


def test_runs_with_nothing_in_common_give_a_partial_report_that_says_so(tmp_path):
    first = write(tmp_path / "a.json", saved_run([record("cnn", "cpu", "train", 8e-3)]))
    other = record("resnet18", "cpu", "train", 0.3, label="Other CPU")
    second = write(tmp_path / "b.json", saved_run([other]))
    assert main(["report", str(first), str(second), "--out", str(tmp_path / "out")]) == 0
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "The runs have no case in common" in markdown
    assert not (tmp_path / "out" / "machines.png").exists()


# Which run, and bad input ------------------------------------------------------------------


def test_without_a_run_the_newest_under_the_storage_is_reported(tmp_path, monkeypatch):
    machine = tmp_path / ".benchmarks" / "Linux-CPython-3.11-64bit"
    machine.mkdir(parents=True)
    old = saved_run([record("cnn", "cpu", "train", 8e-3)], when="2026-01-01T00:00:00+00:00")
    new = saved_run([record("cnn", "cpu", "train", 4e-3)], when="2026-02-01T00:00:00+00:00")
    write(machine / "0001_old.json", old)
    write(machine / "0002_new.json", new)
    monkeypatch.chdir(tmp_path)
    assert main(["report"]) == 0
    markdown = (tmp_path / "reports" / "report.md").read_text()
    assert "0002_new.json" in markdown and "0001_old.json" not in markdown


def test_a_run_without_the_suites_extra_info_is_refused_in_one_line(tmp_path, capsys):
    plain = record("cnn", "cpu", "train", 8e-3)
    plain["extra_info"] = {}
    run = write(tmp_path / "plain.json", {"benchmarks": [plain]})
    assert main(["report", str(run), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "none of its 1 benchmarks carries accelbench's extra_info" in err


def test_a_run_partly_without_extra_info_gives_a_report_that_names_what_is_missing(tmp_path):
    plain = record("cnn", "cpu", "infer", 3e-3, test="test_plain")
    plain["extra_info"] = {}
    run = write(tmp_path / "run.json", saved_run([record("cnn", "cpu", "train", 8e-3), plain]))
    assert main(["report", str(run), "--out", str(tmp_path / "out")]) == 0
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "1 benchmarks without accelbench's extra_info" in markdown
    assert "test_plain[cpu-infer]" in markdown


def test_a_folder_with_a_file_that_is_not_a_run_reports_the_rest_and_names_it(tmp_path, capsys):
    machine_runs(tmp_path)
    (tmp_path / "runs" / "notes.json").write_text('{"benchmarks": ')
    assert main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "out")]) == 0
    assert "skipped" in capsys.readouterr().err
    assert "notes.json: not valid JSON" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "missing.json: no such file or folder"),
        (b"", "empty file, not a saved run"),
        (b'{"benchmarks": [{"fullname": "x", "st', "not valid JSON (truncated or corrupt?)"),
        (PNG_MAGIC + b"\x00\x00\x00\x0dIHDR", "binary file, not a saved run"),
        (json.dumps({"hello": 1}).encode(), "not a pytest-benchmark saved run"),
    ],
    ids=["missing", "empty", "truncated", "binary", "not-a-run"],
)
def test_bad_input_gets_one_line_and_exit_code_2(tmp_path, capsys, content, message):
    path = tmp_path / "missing.json"
    if content is not None:
        path.write_bytes(content)
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("accelbench report: ") and message in err
    assert not (tmp_path / "out").exists()


def test_no_run_and_no_storage_says_how_to_save_one(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["report"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "pytest benchmarks --benchmark-only --benchmark-autosave" in err


def test_an_out_path_that_is_a_file_is_refused_in_one_line(tmp_path, capsys):
    run = write(tmp_path / "run.json", saved_run([record("cnn", "cpu", "train", 8e-3)]))
    (tmp_path / "taken").write_text("")
    assert main(["report", str(run), "--out", str(tmp_path / "taken")]) == 2
    assert "cannot create the report folder" in capsys.readouterr().err


def test_an_unknown_option_is_a_usage_error(capsys):
    assert main(["report", "--colour", "red"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "unrecognized arguments: --colour" in err


# Where the report goes ---------------------------------------------------------------------


def one_run(tmp_path: Path) -> Path:
    return write(tmp_path / "run.json", saved_run([record("cnn", "cpu", "train", 8e-3)]))


def test_a_read_only_out_folder_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    real = os.access  # root ignores the mode: os.access says read-only, as for a read-only mount
    monkeypatch.setattr(
        os, "access", lambda p, m, *a, **k: False if Path(p) == out else real(p, m, *a, **k)
    )
    assert main(["report", str(one_run(tmp_path)), "--out", str(out)]) == 2
    out_text, err = capsys.readouterr()
    assert out_text == ""
    assert err == f"accelbench report: {out}: the report folder is read-only\n"


def test_report_md_being_a_folder_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "out" / "report.md").mkdir(parents=True)
    assert main(["report", str(one_run(tmp_path)), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"accelbench report: {tmp_path / 'out' / 'report.md'}: is a folder, not a report "
        "file; choose another --out\n"
    )


def test_a_folder_holding_other_files_is_not_replaced(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    assert main(["report", str(one_run(tmp_path)), "--out", str(tmp_path / "out")]) == 2
    assert "holds files that are not a report's (notes.txt)" in capsys.readouterr().err
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


def test_a_new_report_replaces_the_earlier_one_whole(tmp_path, report):
    """The fixture report has an attention sweep; a run without one leaves no attention plot."""
    earlier = tmp_path / "out"
    shutil.copytree(report, earlier)
    assert (earlier / "attention.png").exists()
    assert main(["report", str(one_run(tmp_path)), "--out", str(earlier)]) == 0
    assert sorted(p.name for p in earlier.iterdir()) == [
        "report.html",
        "report.md",
        "throughput.png",
    ]
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".accelbench-tmp-")] == []


def test_a_report_that_fails_midway_leaves_the_earlier_one_as_it_was(tmp_path, report, monkeypatch):
    earlier = tmp_path / "out"
    shutil.copytree(report, earlier)
    before = {p.name: p.read_bytes() for p in earlier.iterdir()}

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(plots, "throughput_plot", disk_full)
    assert main(["report", str(one_run(tmp_path)), "--out", str(earlier)]) == 2
    assert {p.name: p.read_bytes() for p in earlier.iterdir()} == before
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".accelbench-tmp-")] == []
