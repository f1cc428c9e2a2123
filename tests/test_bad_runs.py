"""`report` and `compare` refuse a bad saved run in one line and exit code 2: wrong types,
numbers that are not finite or are absurd, huge integers, files that are not regular files or
are too large. Nothing is read past a bad value, so no traceback later and no verdict
computed from it (NaN quartiles once turned a 10x slowdown into "noise")."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.runs import record, saved_run, write

from accelbench.__main__ import main

from conftest import ROOT

FIXTURES = Path(__file__).parent / "fixtures"


def good_run() -> dict:
    return saved_run([record("cnn", "cpu", "train", 8e-3), record("cnn", "cpu", "infer", 3e-3)])


def with_first(change) -> str:
    data = copy.deepcopy(good_run())
    change(data["benchmarks"][0])
    return json.dumps(data)


def ten_times_slower_with_nan_quartiles() -> str:
    data = copy.deepcopy(good_run())
    for entry in data["benchmarks"]:
        stats = entry["stats"]
        for key in ("median", "min", "max", "mean", "iqr"):
            stats[key] *= 10
        stats["q1"] = stats["q3"] = float("nan")
    return json.dumps(data)


FIRST = "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-train]"
BAD_RUNS = {
    "median-a-string": (
        with_first(lambda b: b["stats"].update(median="0.008")),
        f"benchmark {FIRST}: stats.median is a string ('0.008'), not a number",
    ),
    "device-a-list": (
        with_first(lambda b: b["extra_info"].update(device=["cpu"])),
        f"benchmark {FIRST}: extra_info.device is a list, not a string",
    ),
    "5000-digit-integer": (
        with_first(lambda b: b["stats"].update(rounds=-1)).replace(
            '"rounds": -1', '"rounds": ' + "9" * 5000
        ),
        "holds an integer of 5000 digits (at most 40 expected): corrupt, not a saved run",
    ),
    "median-1e308": (
        with_first(lambda b: b["stats"].update(median=1e308, q3=1e308, max=1e308)),
        f"benchmark {FIRST}: stats.median is 1e+308 s, beyond 1e+06 s",
    ),
    "median-10**400": (
        with_first(lambda b: b["stats"].update(median=-0.5)).replace("-0.5", str(10**400)),
        "holds an integer of 401 digits (at most 40 expected)",
    ),
    "median-1e400": (
        with_first(lambda b: b["stats"].update(median=-0.5)).replace("-0.5", "1e400"),
        f"benchmark {FIRST}: stats.median is not finite (inf)",
    ),
    "nan-quartiles": (
        ten_times_slower_with_nan_quartiles(),
        f"benchmark {FIRST}: stats.q1 is not finite (nan) (and 1 more unusable)",
    ),
    "rounds-a-fraction": (
        with_first(lambda b: b["stats"].update(rounds=2.5)),
        f"benchmark {FIRST}: stats.rounds is float, not a whole number",
    ),
    "quartiles-out-of-order": (
        with_first(lambda b: b["stats"].update(q1=0.02, q3=0.001)),
        f"benchmark {FIRST}: stats quartiles out of order",
    ),
    "newer-format": (
        json.dumps({**good_run(), "accelbench": {"format": 3}}),
        "saved by a newer accelbench (results format 3); this version reads formats 1 to 2",
    ),
}


def one_line(capsys, command: str) -> str:
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"accelbench {command}: ")
    return err.strip()


@pytest.mark.parametrize("command", ["report", "compare"])
@pytest.mark.parametrize("case", list(BAD_RUNS))
def test_a_bad_saved_run_is_refused_in_one_line(tmp_path, capsys, command, case):
    content, message = BAD_RUNS[case]
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    good = write(tmp_path / "good.json", good_run())
    if command == "report":
        code = main(["report", str(bad), "--out", str(tmp_path / "out")])
    else:
        code = main(["compare", str(good), str(bad), "--fail-on", "regression"])
    assert code == 2
    line = one_line(capsys, command)
    assert f"{bad}: {message}" in line
    assert not (tmp_path / "out").exists()


def test_the_slowdown_with_nan_quartiles_is_a_regression_once_the_quartiles_are_sane(
    tmp_path, capsys
):
    """The control: the same 10x slowdown with real quartiles fails the gate."""
    slow = json.loads(ten_times_slower_with_nan_quartiles())
    for entry in slow["benchmarks"]:
        median = entry["stats"]["median"]
        entry["stats"].update(q1=median * 0.99, q3=median * 1.01)
    good, current = write(tmp_path / "good.json", good_run()), write(tmp_path / "slow.json", slow)
    gate = ["compare", str(good), str(current), "--fail-on", "regression", "--gate-smoke"]
    assert main(gate) == 1
    assert "2 compared: 2 regression" in capsys.readouterr().out


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """In a child process with a time and memory limit: a file read forever must fail the
    test, not hang or exhaust the machine running it."""

    def limit_memory() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))

    return subprocess.run(
        [sys.executable, "-m", "accelbench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit_memory if sys.platform == "linux" else None,
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
@pytest.mark.parametrize("command", ["report", "compare"])
def test_a_fifo_is_refused_without_reading_it(tmp_path, command):
    fifo = tmp_path / "run.json"
    os.mkfifo(fifo)
    good = write(tmp_path / "good.json", good_run())
    args = [str(fifo), "--out", str(tmp_path / "out")] if command == "report" else [good, fifo]
    done = run_cli(command, *map(str, args))
    assert done.returncode == 2
    assert done.stderr == (
        f"accelbench {command}: {fifo}: is a FIFO (named pipe), not a regular file: "
        "not a saved run\n"
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_device_is_refused_without_reading_it(tmp_path):
    good = write(tmp_path / "good.json", good_run())
    done = run_cli("compare", str(good), "/dev/zero")
    assert done.returncode == 2
    assert done.stderr == (
        "accelbench compare: /dev/zero: is a character device, not a regular file: "
        "not a saved run\n"
    )


def test_a_file_over_64_mib_is_refused(tmp_path, capsys):
    big = tmp_path / "big.json"
    with open(big, "w") as fh:  # JSON that would parse, if one read it all
        fh.write('{"benchmarks": [' + " " * (64 * 2**20) + "]}")
    good = write(tmp_path / "good.json", good_run())
    assert main(["compare", str(good), str(big)]) == 2
    assert one_line(capsys, "compare") == (
        f"accelbench compare: {big}: larger than 64 MiB, too large to be a saved run"
    )


# Runs saved before this version -----------------------------------------------------------


def test_a_run_saved_by_the_previous_version_still_loads_as_eager():
    """tests/fixtures/saved_e794f7d.json: a smoke run saved by the suite at commit e794f7d
    (no results format, no mode, machine facts all in machine_info), trimmed to one
    benchmark without its raw timings."""
    from accelbench.results.runs import load_run

    run = load_run(FIXTURES / "saved_e794f7d.json")
    assert run.format == 1 and not run.partial
    (record_,) = run.records
    assert record_.key is not None and record_.key.mode == "eager"
    assert record_.key.size == "smoke" and record_.device_label
    assert run.device_facts()["cpu"]["usable"] is True


def test_a_run_saved_by_the_previous_version_is_reported_and_compared(tmp_path, capsys):
    old = str(FIXTURES / "saved_e794f7d.json")
    assert main(["report", old, "--out", str(tmp_path / "out")]) == 0
    assert "mode eager" in (tmp_path / "out" / "report.md").read_text()
    assert main(["compare", old, old, "--fail-on", "regression", "--gate-smoke"]) == 0
    assert "1 compared: 1 unchanged" in capsys.readouterr().out
