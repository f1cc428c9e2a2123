"""A new user's first run: the default (quick) profile, its plan, its time budget, a short
summary with the headline last, the run saved by itself, and the benchmarks run from an
installed package with the same case names as in a clone."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accelbench import suite_run
from accelbench.core import run_budget
from accelbench.core.run_budget import RunBudget, parse_duration
from accelbench.core.sizes import DEFAULT_PROFILE, QUICK

from conftest import ROOT, add_benchmarks

CNN_INFER = ["benchmarks", "--benchmark-only", "--devices", "cpu", "--frameworks", "torch"]
CNN_INFER += ["-k", "infer"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_default_profile_is_quick():
    assert DEFAULT_PROFILE == QUICK


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300.0), ("90s", 90.0), ("90", 90.0), ("1.5h", 5400.0), ("2 min", 120.0)],
)
def test_a_budget_reads_as_a_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["none", "off", "0", "NONE"])
def test_a_budget_of_none_is_no_limit(text):
    assert math.isinf(parse_duration(text))


@pytest.mark.parametrize("text", ["five", "-5m", "5x", "²", "\u0665m", "9" * 20, "1e3"])
def test_a_bad_budget_is_refused_with_its_reason(text):
    with pytest.raises(ValueError, match=r"duration|at most"):
        parse_duration(text)


def test_a_case_starts_only_when_it_is_expected_to_fit():
    clock = FakeClock()
    budget = RunBudget(60.0, clock=clock, started_at=clock())
    assert budget.refusal("torch", "cpu") is None  # expected: FIRST_CASE_S
    clock.now += 40
    budget.record("torch", "cpu", 15.0)
    assert budget.refusal("torch", "cpu") is None  # 40 + 15 <= 60
    clock.now += 10
    assert (
        budget.refusal("torch", "cpu") == "not run within --budget 1 min (--budget none lifts it)"
    )


def test_a_case_is_expected_to_take_what_its_framework_and_device_took():
    budget = RunBudget(60.0, clock=FakeClock())
    assert budget.expected_s("mlx", "cpu") == run_budget.FIRST_CASE_S
    budget.record("torch", "cpu", 2.0)
    budget.record("torch", "cpu", 4.0)
    budget.record("mlx", "cpu", 30.0)
    assert budget.expected_s("torch", "cpu") == 3.0
    assert budget.expected_s("tf", "cpu") == 4.0  # the median of every case so far


def test_a_case_is_expected_to_take_what_it_took_in_a_saved_run():
    budget = RunBudget(60.0, clock=FakeClock(), known={"b/test_x.py::test_x[cpu]": 42.0})
    budget.record("torch", "cpu", 2.0)
    assert budget.expected_s("torch", "cpu", "b/test_x.py::test_x[cpu]") == 42.0
    assert budget.expected_s("torch", "cpu", "b/test_x.py::test_y[cpu]") == 2.0


def test_the_next_run_says_about_how_long_from_the_saved_case_times(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    suite.runpytest(*CNN_INFER, "--bench-size", "smoke").assert_outcomes(passed=1)
    (saved,) = (suite.path / ".benchmarks").glob("*/0001_*.json")
    (entry,) = json.loads(saved.read_text())["benchmarks"]
    assert entry["extra_info"]["case_wall_s"] > 0
    result = suite.runpytest(*CNN_INFER, "--bench-size", "smoke", "--budget", "10m")
    result.stdout.fnmatch_lines(
        [
            "accelbench plan: --bench-size smoke: 1 case to measure (torch on cpu), within "
            "--budget 10 min; about * for the 1 case a saved run timed"
        ]
    )


def test_the_plan_names_what_runs_what_cannot_and_what_the_profile_leaves_out(suite):
    add_benchmarks(suite, "test_cnn_torch.py", "test_attention.py")
    result = suite.runpytest(
        "benchmarks", "--devices", "cpu,mps", "--frameworks", "torch", "--benchmark-disable"
    )
    result.assert_outcomes(passed=2, skipped=2, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "accelbench plan: --bench-size quick: 2 cases to measure (torch on cpu), within "
            "--budget 5 min",
            "  skipped at once, cannot run here (2 cases):",
            "    mps: MPS not available (2 cases)",
            "  not in --bench-size quick: attention (--bench-size standard measures every*",
        ]
    )


def test_a_budget_too_small_for_any_case_runs_none_and_folds_them_into_one_line(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(*CNN_INFER[:-2], "--budget", "1s", "--no-autosave")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        [
            "not measured (2 cases; every reason in full: -v):",
            "  cpu: not run within --budget 1 s (2 cases: torch cnn train, torch cnn infer)",
        ]
    )


def test_the_summary_is_short_and_ends_on_the_headline(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(*CNN_INFER, "--devices", "cpu,mps", "--no-autosave")
    result.assert_outcomes(passed=1, skipped=1)
    out = result.stdout.str()
    assert "Name (time in" not in out  # pytest-benchmark's tables: -v or --bench-tables
    summary = out[out.index("accelbench summary") :].splitlines()
    said = [line for line in summary[1:] if line.strip() and not line.startswith("=")]
    assert (
        said[-1]
        == "headline: no accelerator was usable, so no speedup (the plan at the top says why)"
    )
    assert said[-2] == "  cannot run here: mps (1 case; the plan at the top says why)"
    assert len(out.splitlines()) < 40


def test_prose_is_wrapped_to_the_terminal(suite, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(*CNN_INFER, "--devices", "cpu,mps", "--no-autosave")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "accelbench plan: --bench-size quick: 1 case to measure",
            "    (torch on cpu), within --budget 5 min",
            "headline: no accelerator was usable, so no speedup (the",
            "      plan at the top says why)",
        ]
    )


@pytest.mark.parametrize("flag", ["--bench-tables", "-v"])
def test_the_tables_of_pytest_benchmark_come_with_a_flag(suite, flag):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(*CNN_INFER, "--no-autosave", flag)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*Name (time in*"])


def test_a_run_saves_itself_and_the_next_one_compares_with_it(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    first = suite.runpytest(*CNN_INFER, "--bench-size", "smoke")
    first.assert_outcomes(passed=1)
    saved = sorted((suite.path / ".benchmarks").glob("*/0001_*.json"))
    assert len(saved) == 1
    first.stdout.fnmatch_lines([f"saved: *{saved[0].name}"])
    second = suite.runpytest(*CNN_INFER, "--bench-size", "smoke", "--benchmark-compare")
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines([f"compared with *{saved[0].name}*"])
    assert len(list((suite.path / ".benchmarks").glob("*/000*.json"))) == 2


def test_no_autosave_saves_nothing(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    suite.runpytest(*CNN_INFER, "--bench-size", "smoke", "--no-autosave").assert_outcomes(passed=1)
    assert not list(suite.path.glob(".benchmarks/**/*.json"))


def test_benchmark_json_is_written_whatever_pytest_benchmark_parses_it_into(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(
        *CNN_INFER, "--bench-size", "smoke", "--no-autosave", "--benchmark-json", "run.json"
    )
    result.assert_outcomes(passed=1)
    saved = json.loads((suite.path / "run.json").read_text())
    assert [b["name"] for b in saved["benchmarks"]] == ["test_cnn_torch[cpu-infer]"]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--budget", "soon"], "--budget: 'soon' is not a duration (e.g. 5m, 90s, 1h, or none)"),
        (["--sweep", "batch"], "--sweep batch runs at --bench-size smoke, standard or full, *"),
    ],
)
def test_bad_options_of_the_first_run_are_one_line(suite, option, message):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest("benchmarks", "--benchmark-only", *option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_accelbench_run_names_cases_as_a_clone_does(tmp_path):
    """From another folder, with no configuration of its own: the cases keep the clone's
    names (so saved runs of both compare), and the run is saved in that folder."""
    args = ["--bench-size", "smoke", "--devices", "cpu", "--frameworks", "torch"]
    args += ["-k", "cnn and infer", "--benchmark-json", "run.json"]
    done = subprocess.run(
        [sys.executable, "-m", "accelbench", "run", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    saved = json.loads((tmp_path / "run.json").read_text())
    names = [b["fullname"] for b in saved["benchmarks"]]
    assert names == ["benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-infer]"]
    assert list((tmp_path / ".benchmarks").glob("*/0001_*.json"))


def test_accelbench_run_finds_the_benchmarks_of_a_clone_or_of_the_package():
    folder = suite_run.benchmarks_folder()
    assert (folder / "test_resnet18.py").is_file()
    args = suite_run.pytest_args(["-x"])
    assert args[args.index("--rootdir") + 1] == str(folder.parent)
    assert args[-2:] == ["--benchmark-only", "-x"]


def test_the_package_ships_every_module_and_the_benchmarks():
    """pyproject.toml lists the packages by hand (the benchmarks folder is mapped into
    the package): a new subpackage must be listed, or an installed copy lacks it."""
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in Path(ROOT / "accelbench").rglob("__init__.py")
    }
    assert found | {"accelbench.benchmarks"} == listed
    assert config["tool"]["setuptools"]["package-dir"] == {"accelbench.benchmarks": "benchmarks"}
