"""What the suite takes from pytest-benchmark's internals (accelbench/benchmark_internals.py),
against the installed version: CI runs this file with the newest pytest-benchmark the
requirements allow, the locked one, and the oldest (5.1, where --benchmark-json is an open
file; from 5.3 it is a path)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from accelbench import benchmark_internals as internals
from accelbench.results.saving import JsonTarget

from conftest import SMOKE, add_benchmarks


@pytest.mark.parametrize(
    "value", ["run.json", Path("run.json"), JsonTarget("run.json")], ids=["str", "path", "target"]
)
def test_the_json_path_is_read_from_any_form_the_option_takes(value):
    assert internals.json_option_path(value) == Path("run.json")


def test_the_json_path_of_an_open_file_is_its_name(tmp_path):
    with open(tmp_path / "run.json", "wb") as handle:
        assert internals.json_option_path(handle) == tmp_path / "run.json"


@pytest.mark.parametrize("value", [None, False])
def test_no_json_option_is_no_path(value):
    assert internals.json_option_path(value) is None


def test_releasing_the_json_option_closes_a_file_argparse_opened(tmp_path):
    handle = open(tmp_path / "run.json", "wb")  # noqa: SIM115
    session = SimpleNamespace(json=handle)
    internals.release_json(session)
    assert handle.closed and session.json is None


def test_releasing_a_path_leaves_nothing_to_write():
    session = SimpleNamespace(json=Path("run.json"))
    internals.release_json(session)
    assert session.json is None


def test_the_autosave_name_is_pytest_benchmarks_own():
    """(5.1 spells it ``uncommited``.)"""
    assert re.fullmatch(r"[0-9a-z]+_\d{8}_\d{6}(_uncommit+ed-changes)?", internals.autosave_name())


def test_the_machine_folder_names_system_implementation_and_python():
    assert re.fullmatch(r"\w+-\w+-\d+\.\d+-\d+bit", internals.machine_id())


def test_an_earlier_json_file_survives_a_run_that_ends_before_it_writes(suite):
    """Up to pytest-benchmark 5.2 argparse empties the file when the command line is read;
    the suite defers that, so a run stopped by a usage error leaves the earlier file."""
    add_benchmarks(suite, "test_cnn_torch.py")
    (suite.path / "run.json").write_text("earlier")
    result = suite.runpytest("benchmarks", *SMOKE, "--benchmark-json", "run.json", "--dtype", "x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (suite.path / "run.json").read_text() == "earlier"


def test_a_json_run_writes_the_file_and_names_it(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(
        "benchmarks", *SMOKE, "--devices", "cpu", "-k", "infer", "--benchmark-json", "run.json"
    )
    result.assert_outcomes(passed=1)
    result.stderr.fnmatch_lines(["*Wrote benchmark data in: run.json*"])
    assert '"benchmarks"' in (suite.path / "run.json").read_text()
