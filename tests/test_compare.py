"""`python -m accelbench compare BASELINE CURRENT`: the change of each benchmark's median, and
a gate that trips on a real slowdown but not on noise."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
from fixtures.runs import record, saved_run, write

from accelbench.__main__ import main
from accelbench.results.compare import (
    IMPROVEMENT,
    NOISE,
    REGRESSION,
    UNCHANGED,
    Spread,
    change_pct,
    verdict,
)

from conftest import ROOT

STANDARD = "standard"  # smoke-size cases are not gated unless asked: see test_verdicts.py


def spread(median: float, iqr: float) -> Spread:
    return Spread(median=median, q1=median - iqr / 2, q3=median + iqr / 2)


# The verdict -------------------------------------------------------------------------------


def test_change_is_the_current_median_against_the_baseline_median_in_percent():
    assert change_pct(spread(2.0, 0.1), spread(3.0, 0.1)) == pytest.approx(50.0)
    assert change_pct(spread(2.0, 0.1), spread(1.0, 0.1)) == pytest.approx(-50.0)


def test_slower_beyond_the_threshold_with_separate_spreads_is_a_regression():
    assert verdict(spread(1.0, 0.02), spread(1.3, 0.02), threshold_pct=15) == REGRESSION


def test_slower_beyond_the_threshold_with_overlapping_spreads_is_noise():
    # baseline q3 = 1.4 lies above current q1 = 1.1: the runs cannot tell them apart
    assert verdict(spread(1.0, 0.8), spread(1.3, 0.4), threshold_pct=15) == NOISE


def test_faster_beyond_the_threshold_with_separate_spreads_is_an_improvement():
    assert verdict(spread(1.0, 0.02), spread(0.5, 0.02), threshold_pct=15) == IMPROVEMENT


def test_faster_beyond_the_threshold_with_overlapping_spreads_is_noise():
    assert verdict(spread(1.0, 0.9), spread(0.7, 0.2), threshold_pct=15) == NOISE


def test_a_change_within_the_threshold_is_unchanged_however_tight_the_spreads():
    assert verdict(spread(1.0, 0.0), spread(1.14, 0.0), threshold_pct=15) == UNCHANGED
    assert verdict(spread(1.0, 0.0), spread(0.86, 0.0), threshold_pct=15) == UNCHANGED


# Whole runs through the command ------------------------------------------------------------


def records(scale: dict[str, float] | None = None) -> list[dict]:
    """Four standard-size benchmarks with tight spreads (2% IQR); ``scale`` multiplies named
    ones' times."""
    scale = scale or {}
    base = [
        record("cnn", "cpu", "train", 8e-3, size=STANDARD),
        record("cnn", "cpu", "infer", 3e-3, size=STANDARD),
        record("cnn", "cuda", "train", 5e-4, size=STANDARD),
        record("cnn", "cuda", "infer", 2e-4, size=STANDARD),
    ]
    out = []
    for r in base:
        factor = scale.get(r["name"], 1.0)
        r = copy.deepcopy(r)
        for key in ("median", "q1", "q3", "min", "max", "mean", "iqr"):
            r["stats"][key] *= factor
        out.append(r)
    return out


@pytest.fixture
def baseline(tmp_path):
    return write(tmp_path / "baseline.json", saved_run(records()))


def test_the_gate_trips_on_a_planted_2x_slowdown(tmp_path, baseline, capsys):
    slow = "test_cnn_torch[cuda-train]"
    current = write(tmp_path / "current.json", saved_run(records({slow: 2.0})))

    code = main(["compare", str(baseline), str(current), "--fail-on", "regression"])

    out, err = capsys.readouterr()
    assert code == 1
    (row,) = [line for line in out.splitlines() if line.startswith(slow)]
    assert "+100.0%" in row and row.rstrip().endswith(REGRESSION)
    assert "4 compared: 1 regression, 3 unchanged" in out
    assert err.strip() == f"accelbench compare: 1 regression(s): {slow}"


def marked(entries: list[dict], flags: list[str]) -> list[dict]:
    """The entries as if measured under conditions that raised ``flags``."""
    for entry in entries:
        entry["extra_info"]["flags"] = flags
    return entries


def test_a_regression_on_a_run_marked_busy_is_unreliable_and_does_not_fail(
    tmp_path, baseline, capsys
):
    slow = "test_cnn_torch[cuda-train]"
    current = write(tmp_path / "current.json", saved_run(marked(records({slow: 2.0}), ["busy"])))

    code = main(["compare", str(baseline), str(current), "--fail-on", "regression"])

    out, err = capsys.readouterr()
    assert code == 0
    (row,) = [line for line in out.splitlines() if line.startswith(slow)]
    assert row.rstrip().endswith(
        "unreliable (the machine was busy in the current run; a regression otherwise)"
    )
    assert "4 compared: 1 unreliable, 3 unchanged" in out
    assert "unreliable: a regression or improvement measured while the machine was busy" in out
    assert err.startswith("accelbench compare: 1 change(s) unreliable, not counted as regressions")


def test_a_busy_baseline_makes_an_improvement_unreliable_too(tmp_path, capsys):
    fast = "test_cnn_torch[cpu-train]"
    base = write(tmp_path / "base.json", saved_run(marked(records(), ["busy", "battery"])))
    current = write(tmp_path / "current.json", saved_run(records({fast: 0.5})))
    assert main(["compare", str(base), str(current)]) == 0
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if line.startswith(fast)]
    assert "unreliable (the machine was busy, on battery in the baseline run" in row


def test_a_run_compared_with_itself_passes_the_gate(baseline, capsys):
    code = main(["compare", str(baseline), str(baseline), "--fail-on", "regression"])

    out, err = capsys.readouterr()
    assert code == 0
    assert "4 compared: 4 unchanged" in out
    assert all("+0.0%" in line for line in out.splitlines() if line.startswith("test_"))
    assert err == ""


def test_without_fail_on_a_regression_is_reported_and_the_exit_code_stays_0(
    tmp_path, baseline, capsys
):
    current = write(tmp_path / "current.json", saved_run(records({"test_cnn_torch[cpu-infer]": 2})))
    assert main(["compare", str(baseline), str(current)]) == 0
    assert "1 regression" in capsys.readouterr().out


def test_a_wide_spread_turns_a_large_slowdown_into_noise_which_does_not_fail(tmp_path, capsys):
    noisy_base = records()
    noisy_base[0]["stats"].update(q1=4e-3, q3=16e-3)  # IQR 150% of the median
    base = write(tmp_path / "base.json", saved_run(noisy_base))
    current = write(
        tmp_path / "current.json", saved_run(records({"test_cnn_torch[cpu-train]": 1.5}))
    )

    code = main(["compare", str(base), str(current), "--fail-on", "regression"])

    out = capsys.readouterr().out
    assert code == 0
    (row,) = [line for line in out.splitlines() if line.startswith("test_cnn_torch[cpu-train]")]
    assert "+50.0%" in row and row.rstrip().endswith(NOISE)


def test_the_threshold_option_moves_the_line(tmp_path, baseline, capsys):
    current = write(tmp_path / "current.json", saved_run(records({"test_cnn_torch[cpu-infer]": 2})))
    code = main(
        ["compare", str(baseline), str(current), "--threshold", "150%", "--fail-on=regression"]
    )
    assert code == 0
    assert "4 compared: 4 unchanged" in capsys.readouterr().out


def test_an_improvement_is_reported_and_does_not_fail(tmp_path, baseline, capsys):
    current = write(tmp_path / "c.json", saved_run(records({"test_cnn_torch[cuda-infer]": 0.5})))
    assert main(["compare", str(baseline), str(current), "--fail-on", "regression"]) == 0
    assert "1 improvement, 3 unchanged" in capsys.readouterr().out


def test_the_same_test_at_another_size_is_not_comparable_and_does_not_fail(
    tmp_path, baseline, capsys
):
    other = records({"test_cnn_torch[cpu-train]": 10})
    other[0]["extra_info"]["size"] = "full"
    current = write(tmp_path / "current.json", saved_run(other))

    assert main(["compare", str(baseline), str(current), "--fail-on", "regression"]) == 0
    out = capsys.readouterr().out
    assert "not comparable (size standard -> full)" in out


@pytest.mark.parametrize(
    ("field", "value", "note"),
    [("dtype", "bf16", "dtype fp32 -> bf16"), ("mode", "compile", "mode eager -> compile")],
)
def test_the_same_test_in_another_dtype_or_mode_is_not_comparable(
    tmp_path, baseline, capsys, field, value, note
):
    """The baseline saved no mode (runs before modes existed): it reads as eager."""
    other = records({"test_cnn_torch[cpu-train]": 10})
    other[0]["extra_info"][field] = value
    current = write(tmp_path / "current.json", saved_run(other))
    assert main(["compare", str(baseline), str(current), "--fail-on", "regression"]) == 0
    assert f"not comparable ({note})" in capsys.readouterr().out


def test_benchmarks_in_one_run_only_are_listed(tmp_path, baseline, capsys):
    fewer = records()[:3]
    current = write(tmp_path / "current.json", saved_run(fewer))
    assert main(["compare", str(baseline), str(current)]) == 0
    out = capsys.readouterr().out
    assert "only in baseline (1): benchmarks/test_cnn_torch.py::test_cnn_torch[cuda-infer]" in out


def test_plain_pytest_benchmark_runs_compare_too(tmp_path, capsys):
    """compare needs only fullname and stats, so any pytest-benchmark run works."""
    plain = records()
    for r in plain:
        r["extra_info"] = {}
    base = write(tmp_path / "base.json", {"benchmarks": plain})
    slow = copy.deepcopy(plain)
    slow[1]["stats"].update(median=6e-3, q1=5.9e-3, q3=6.1e-3)
    current = write(tmp_path / "current.json", {"benchmarks": slow})
    assert main(["compare", str(base), str(current), "--fail-on", "regression"]) == 1
    assert "1 regression" in capsys.readouterr().out


def test_the_exit_code_reaches_the_shell(tmp_path, baseline):
    current = write(tmp_path / "current.json", saved_run(records({"test_cnn_torch[cpu-train]": 2})))
    command = [sys.executable, "-m", "accelbench", "compare", str(baseline), str(current)]
    gated = subprocess.run([*command, "--fail-on", "regression"], cwd=ROOT, capture_output=True)
    assert gated.returncode == 1, gated.stderr
    assert subprocess.run(command, cwd=ROOT, capture_output=True).returncode == 0


# Bad input: one line on stderr, exit code 2 -----------------------------------------------


def bad_files(tmp_path):
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "truncated.json").write_text(json.dumps(saved_run(records()))[:200])
    (tmp_path / "binary.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "list.json").write_text("[1, 2, 3]")
    (tmp_path / "no_benchmarks.json").write_text(json.dumps({"benchmarks": []}))
    write(tmp_path / "other.json", saved_run([record("resnet18", "cpu", "train", 0.3)]))


@pytest.mark.parametrize(
    ("current", "message"),
    [
        ("missing.json", "missing.json: no such file or folder"),
        ("empty.json", "empty.json: empty file, not a saved run"),
        ("truncated.json", "truncated.json: not valid JSON (truncated or corrupt?)"),
        ("binary.json", "binary.json: binary file, not a saved run"),
        ("list.json", "list.json: JSON, but not a pytest-benchmark saved run"),
        ("no_benchmarks.json", "no_benchmarks.json: the saved run holds no benchmarks"),
        ("other.json", "have no benchmark in common"),
    ],
)
def test_bad_input_gets_one_line_and_exit_code_2(tmp_path, baseline, capsys, current, message):
    bad_files(tmp_path)

    code = main(["compare", str(baseline), str(tmp_path / current)])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("accelbench compare: ") and message in err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--threshold", "abc"], "argument --threshold: 'abc' is not a percentage"),
        (["--threshold=-5%"], "the threshold must be a percentage of 0 or more"),
        (["--fail-on", "sometimes"], "argument --fail-on: invalid choice: 'sometimes'"),
        (["--colour"], "unrecognized arguments: --colour"),
    ],
)
def test_an_unknown_option_value_is_a_usage_error(baseline, capsys, option, message):
    code = main(["compare", str(baseline), str(baseline), *option])

    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert message in err
