"""Verdicts that hold on a shared machine (issue 22): rounds that cannot carry a verdict are
marked and kept out of both gates, smoke-size cases are gated only when asked, the baseline
is a run that holds this run's cases, and evidence that cannot be trusted is refused.

Every timing here is planted (saved entries, or steps timed by a virtual clock), so no test
depends on how fast or how busy the machine is.
"""

from __future__ import annotations

import copy
import json
from itertools import count

import pytest
from fixtures.runs import record, saved_run, write

from accelbench.__main__ import main
from accelbench.benchmark_internals import machine_id
from accelbench.core import openmp
from accelbench.core.measure import warm_up
from accelbench.core.sizes import BUDGETS
from accelbench.core.stability import MIN_ROUNDS, judge, mark
from accelbench.results.record import Unusable, parse_entry
from accelbench.workloads.cnn import SimpleCNN

import virtualclock
from conftest import SMOKE, add_benchmarks

MS = 1e-3
RUN = ["benchmarks", *SMOKE, "--devices", "cpu", "--benchmark-timer", "virtualclock.clock"]
GATE = ["--benchmark-compare", "--benchmark-compare-fail=median:15%"]


# The rule: which rounds can carry a verdict ------------------------------------------------


def test_tight_rounds_are_stable():
    assert judge([1.00, 1.01, 0.99, 1.02, 1.00, 0.98, 1.03, 1.01, 1.00, 0.99]).stable


def test_one_or_two_wild_rounds_in_ten_leave_the_rounds_stable():
    """The median ignores them; a verdict can rest on it."""
    assert judge([0.5] * 9 + [8.7]).stable
    assert judge([0.5, 0.51, 0.49, 0.5, 0.52, 0.5, 0.48, 0.5, 9.0, 0.01]).stable


def test_a_second_cluster_the_interquartile_range_hides_makes_the_rounds_unstable():
    """8 rounds at 0.52 ms and 2 at 63 ms: q1..q3 lie inside the fast cluster, the median is
    a fast round, but the next run may hold half slow rounds and a median 100x higher."""
    rounds = [0.52 * MS] * 8 + [63 * MS] * 2
    judged = judge(rounds)
    assert not judged.stable
    assert judged.reason == "bimodal rounds: 8 of 10 near 520 us, 2 near 63 ms"


def test_a_mostly_slow_bimodal_case_is_unstable_too():
    judged = judge([63 * MS] * 7 + [0.52 * MS] * 3)
    assert judged.reason == "bimodal rounds: 3 of 10 near 520 us, 7 near 63 ms"


def test_rounds_smeared_over_more_than_1_5x_in_their_middle_are_unstable():
    rounds = [1.0, 1.1, 1.2, 1.35, 1.5, 1.65, 1.8, 1.95, 2.1, 2.2]  # no gap of 2x anywhere
    judged = judge(rounds)
    assert not judged.stable
    assert judged.reason.startswith("rounds spread 1.6x over their middle 60% (1.2 s to 1.95 s")


def test_a_verdict_needs_at_least_five_rounds():
    assert MIN_ROUNDS == 5
    assert judge([1.0, 1.0, 1.0, 1.0]).reason == "too few rounds for a verdict (4, at least 5)"
    assert judge([1.0] * 5).stable


def test_marking_saves_the_judgement_and_leaves_the_conditions_flags_alone():
    info = {"flags": ["busy"]}
    mark(info, [0.52 * MS] * 8 + [63 * MS] * 2)
    assert info["flags"] == ["busy"]
    assert info["stability"]["stable"] is False
    assert info["stability"]["reason"].startswith("bimodal rounds")
    stable = {"flags": []}
    mark(stable, [1.0] * 6)
    assert stable["stability"]["stable"] is True and stable["stability"]["reason"] == ""


# Saved records: the mark read back, nonsense refused --------------------------------------


def unstable_entry(median: float = 8 * MS, **kw) -> dict:
    entry = record("cnn", "cpu", "train", median, size="standard", **kw)
    mark(entry["extra_info"], [0.52 * MS] * 8 + [63 * MS] * 2)
    return entry


def test_a_saved_unstable_mark_is_read_back_with_its_reason():
    r = parse_entry(unstable_entry())
    assert r.unstable and r.stability_reason.startswith("bimodal rounds: 8 of 10")
    assert "unstable" in r.flags and not r.condition_flags


@pytest.mark.parametrize(
    ("stability", "flags"),
    [
        ({"stable": True, "reason": "bimodal"}, []),
        ({"stable": False, "reason": ""}, ["unstable"]),
        (None, ["unstable"]),
        ({"stable": "no", "reason": ""}, []),
    ],
)
def test_a_stability_mark_that_contradicts_itself_is_unusable(stability, flags):
    entry = record("cnn", "cpu", "train", 8 * MS)
    entry["extra_info"].update(stability=stability, flags=flags)
    with pytest.raises(Unusable, match=r"extra_info\.(stability|flags)"):
        parse_entry(entry)


@pytest.mark.parametrize("median", [5e-324, 1e-300, 1e-13])
def test_a_median_below_a_picosecond_is_not_a_measurement(median):
    entry = record("cnn", "cpu", "train", 8 * MS)
    entry["stats"].update(median=median, q1=median, q3=median)
    with pytest.raises(Unusable, match=r"stats.median is .* below 1e-12 s per step"):
        parse_entry(entry)


# python -m accelbench compare -------------------------------------------------------------


def four(size: str = "standard") -> list[dict]:
    return [
        record("cnn", "cpu", "train", 8 * MS, size=size),
        record("cnn", "cpu", "infer", 3 * MS, size=size),
        record("attention", "cpu", "train", 0.5 * MS, variant="naive-L=64", size=size),
        record("attention", "cpu", "infer", 0.1 * MS, variant="naive-L=64", size=size),
    ]


def scaled(entries: list[dict], name: str, factor: float) -> list[dict]:
    out = copy.deepcopy(entries)
    for e in out:
        if e["name"] == name:
            for key in ("median", "q1", "q3", "min", "max", "mean", "iqr"):
                e["stats"][key] *= factor
    return out


ATTENTION = "test_attention_torch[cpu-train-naive-L=64]"


def test_an_unstable_case_is_never_a_regression_whatever_its_change(tmp_path, capsys):
    """The issue's case: the median of bimodal rounds flipped from the fast cluster to the
    slow one (+10,000%), quartiles tight in both runs."""
    base = write(tmp_path / "base.json", saved_run(four()))
    flipped = scaled(four(), ATTENTION, 100.0)
    mark(flipped[2]["extra_info"], [63 * MS] * 7 + [0.52 * MS] * 3)
    current = write(tmp_path / "current.json", saved_run(flipped))

    code = main(["compare", str(base), str(current), "--fail-on", "regression"])

    out, err = capsys.readouterr()
    assert code == 0
    (row,) = [line for line in out.splitlines() if line.startswith(ATTENTION)]
    assert "+9900.0%" in row
    assert row.rstrip().endswith(
        "unstable (bimodal rounds: 3 of 10 near 520 us, 7 near 63 ms in the current run)"
    )
    assert "4 compared: 1 unstable, 3 unchanged" in out
    assert err.strip() == (
        f"accelbench compare: 1 unstable, never a verdict: {ATTENTION} "
        "(bimodal rounds: 3 of 10 near 520 us, 7 near 63 ms in the current run)"
    )


def test_an_unstable_baseline_keeps_a_case_out_of_the_verdicts_too(tmp_path, capsys):
    entries = four()
    mark(entries[0]["extra_info"], [1.0, 1.0, 1.0])
    base = write(tmp_path / "base.json", saved_run(entries))
    current = write(tmp_path / "c.json", saved_run(scaled(four(), "test_cnn_torch[cpu-train]", 3)))
    assert main(["compare", str(base), str(current), "--fail-on", "regression"]) == 0
    assert "unstable (too few rounds for a verdict (3, at least 5) in the baseline run)" in (
        capsys.readouterr().out
    )


def test_a_planted_3x_slowdown_of_a_stable_case_still_fails_the_gate(tmp_path, capsys):
    base = write(tmp_path / "base.json", saved_run(four()))
    current = write(tmp_path / "c.json", saved_run(scaled(four(), ATTENTION, 3.0)))
    assert main(["compare", str(base), str(current), "--fail-on", "regression"]) == 1
    out, err = capsys.readouterr()
    assert "4 compared: 1 regression, 3 unchanged" in out
    assert err.strip() == f"accelbench compare: 1 regression(s): {ATTENTION}"


def blocks(entries: list[dict], name: str, steps_per_round: int) -> list[dict]:
    for e in entries:
        if e["name"] == name:
            e["extra_info"]["steps_per_round"] = steps_per_round
    return entries


def test_rounds_of_very_different_lengths_are_not_comparable_never_a_regression(tmp_path, capsys):
    """Seen on a busy 2-core machine: rounds of 6 steps (steady state, 0.139 ms a step) in
    one run, of 1 step (latency, 0.221 ms) in the next, rounds tight in both."""
    base = write(tmp_path / "base.json", saved_run(blocks(four(), ATTENTION, 6)))
    slower = blocks(scaled(four(), ATTENTION, 1.6), ATTENTION, 1)
    current = write(tmp_path / "c.json", saved_run(slower))

    assert main(["compare", str(base), str(current), "--fail-on", "regression"]) == 0
    (row,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith(ATTENTION)]
    assert row.rstrip().endswith(
        "not comparable (timed in rounds of 6 steps in the baseline run and 1 in the current "
        "run: steady state against latency)"
    )


def test_rounds_of_similar_lengths_still_carry_a_verdict(tmp_path, capsys):
    base = write(tmp_path / "base.json", saved_run(blocks(four(), ATTENTION, 20)))
    slower = blocks(scaled(four(), ATTENTION, 3.0), ATTENTION, 10)
    current = write(tmp_path / "c.json", saved_run(slower))
    assert main(["compare", str(base), str(current), "--fail-on", "regression"]) == 1
    assert "1 regression" in capsys.readouterr().out


def test_the_rounds_are_sized_from_a_warm_step_not_the_cold_first_one():
    """A smoke profile asks for one warm-up step, which the first (cold) step already is:
    one more runs, and its time sizes the rounds."""
    ticks = count(0.0, 0.1 * MS)  # every clock read moves 0.1 ms: warm steps of 0.1 ms
    smoke = BUDGETS["smoke"]
    assert smoke.min_warmup_steps == 1 and smoke.warmup_s == 0
    steps, step_s = warm_up(
        lambda: None, NoDevice(), smoke, clock=lambda: next(ticks), done=[3 * MS]
    )
    assert (steps, step_s) == (2, pytest.approx(0.1 * MS))


class NoDevice:
    def synchronize(self, result=None) -> None: ...


def test_smoke_size_cases_are_not_gated_unless_asked(tmp_path, capsys):
    base = write(tmp_path / "base.json", saved_run(four("smoke")))
    current = write(tmp_path / "c.json", saved_run(scaled(four("smoke"), ATTENTION, 3.0)))

    assert main(["compare", str(base), str(current), "--fail-on", "regression"]) == 0
    out = capsys.readouterr().out
    assert "4 compared: 4 not gated" in out
    assert "not gated (smoke size, never gated unless asked (--gate-smoke))" in out

    gated = ["compare", str(base), str(current), "--fail-on", "regression", "--gate-smoke"]
    assert main(gated) == 1
    assert "4 compared: 1 regression, 3 unchanged" in capsys.readouterr().out


def test_a_run_holding_a_benchmark_twice_is_refused_in_one_line(tmp_path, capsys):
    """One copy 3x slower: which one would the verdict be of? (It was `4 compared: 4
    unchanged`, the slow copy silently dropped.)"""
    base = write(tmp_path / "base.json", saved_run(four()))
    twice = four() + scaled(four(), ATTENTION, 3.0)[2:3]
    current = write(tmp_path / "twice.json", saved_run(twice))

    code = main(["compare", str(base), str(current), "--fail-on", "regression"])

    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"accelbench compare: {current}: holds benchmarks/test_attention_torch.py::{ATTENTION} "
        "more than once; not a usable saved run (one entry per benchmark)"
    ]


@pytest.mark.parametrize("command", ["compare", "export"])
def test_a_subnormal_median_is_refused_in_one_line_never_exported_as_infinity(
    tmp_path, capsys, command
):
    entries = four()
    entries[0]["stats"].update(median=5e-324, q1=5e-324, q3=5e-324, min=5e-324)
    bad_run = saved_run(four())
    bad_run["benchmarks"] = entries
    bad = write(tmp_path / "bad.json", bad_run)
    args = [str(bad), str(bad)] if command == "compare" else [str(bad), "--format", "csv"]

    code = main([command, *args])

    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1
    assert "stats.median is 4.94066e-324 s, below 1e-12 s per step: not a measurement" in err


# pytest --benchmark-compare: whole sessions timed by a virtual clock ----------------------


def planted_rounds(monkeypatch, pattern) -> None:
    """Every CNN step moves the virtual clock by ``pattern(i)`` seconds, i counting calls."""
    honest = SimpleCNN.step
    calls = count()

    def step(self):
        virtualclock.advance(pattern(next(calls)))
        return honest(self)

    monkeypatch.setattr(SimpleCNN, "step", step)


def steady(seconds: float):
    return lambda i: seconds


def mostly_slow(i: int) -> float:
    """Four fast steps (1 ms), then eight 100x slower, over and over: rounds in two clusters,
    the slow one the larger, so the median is a slow round."""
    return 1 * MS if (i // 4) % 3 == 0 else 100 * MS


@pytest.fixture
def storage(suite, ten_rounds):
    add_benchmarks(suite, "test_cnn_torch.py")
    return suite.path / ".benchmarks" / machine_id()


def test_a_case_with_bimodal_rounds_is_saved_unstable_and_kept_out_of_the_gate(
    suite, storage, monkeypatch
):
    planted_rounds(monkeypatch, steady(1 * MS))
    suite.runpytest(*RUN, "-k", "infer", "--benchmark-autosave").assert_outcomes(passed=1)

    planted_rounds(monkeypatch, mostly_slow)
    result = suite.runpytest(*RUN, "-k", "infer", *GATE, "--gate-smoke", "--benchmark-json=b.json")

    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "not gate material: 1 case(s) left out of the comparison and of "
            "--benchmark-compare-fail:",
            "  unstable: bimodal rounds: * of 10 near * ms, * near 10? ms in the current run: "
            "test_cnn_torch[[]cpu-infer[]]",
        ]
    )
    assert "Performance has regressed" not in result.stderr.str()
    (saved,) = json.loads((suite.path / "b.json").read_text())["benchmarks"]
    assert saved["stats"]["median"] > 10 * MS  # a slow round: +10,000% on the baseline
    assert saved["extra_info"]["stability"]["stable"] is False
    assert saved["extra_info"]["stability"]["reason"].startswith("bimodal rounds:")


def test_a_planted_3x_slowdown_fails_the_gate_when_smoke_is_gated(suite, storage, monkeypatch):
    planted_rounds(monkeypatch, steady(1 * MS))
    suite.runpytest(*RUN, "-k", "infer", "--benchmark-autosave").assert_outcomes(passed=1)
    planted_rounds(monkeypatch, steady(3 * MS))

    gated = suite.runpytest(*RUN, "-k", "infer", *GATE, "--gate-smoke")
    assert gated.ret == 1
    gated.stderr.fnmatch_lines(["Performance has regressed:", "*test_cnn_torch[[]cpu-infer[]]*"])

    ungated = suite.runpytest(*RUN, "-k", "infer", *GATE)
    assert ungated.ret == 0
    ungated.stdout.fnmatch_lines(
        ["  smoke size, never gated unless asked (--gate-smoke): test_cnn_torch[[]cpu-infer[]]"]
    )


def test_the_baseline_is_the_newest_run_holding_this_runs_cases_not_a_newer_unrelated_one(
    suite, storage, monkeypatch
):
    """A newer ceiling-only run of the same size and dtype holds none of the CNN's cases:
    compared with it, a 3x slowdown passed with exit 0 and no word."""
    planted_rounds(monkeypatch, steady(1 * MS))
    suite.runpytest(*RUN, "-k", "infer", "--benchmark-autosave").assert_outcomes(passed=1)
    (cnn_run,) = storage.glob("0001_*.json")
    write(storage / "0002_ceiling.json", saved_run(ceiling_only()))
    planted_rounds(monkeypatch, steady(3 * MS))

    result = suite.runpytest(*RUN, "-k", "infer", *GATE, "--gate-smoke")

    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            f"compared with */{cnn_run.name} (the newest complete run at smoke, fp32 that "
            "holds all 1 of this run's cases)"
        ]
    )
    result.stderr.fnmatch_lines(["*test_cnn_torch[[]cpu-infer[]]*PercentageRegressionCheck*"])


def ceiling_only() -> list[dict]:
    entry = record("ceiling", "cpu", "peak", 1 * MS, variant="matmul", test="test_ceiling")
    return [entry]


def test_a_case_the_baseline_lacks_is_named(suite, storage, monkeypatch):
    planted_rounds(monkeypatch, steady(1 * MS))
    suite.runpytest(*RUN, "-k", "infer", "--benchmark-autosave").assert_outcomes(passed=1)

    result = suite.runpytest(*RUN, *GATE, "--gate-smoke")

    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "compared with *0001_*.json (no complete saved run holds all 2 of this run's "
            "cases at smoke, fp32: the one holding most (1))",
            "no counterpart in the baseline (1), not compared: test_cnn_torch[[]cpu-train[]]",
        ]
    )


def test_a_named_baseline_holding_a_case_twice_is_a_usage_error(suite, storage):
    storage.mkdir(parents=True)
    entry = record("cnn", "cpu", "infer", 1 * MS, test="test_cnn_torch")
    write(storage / "0001_twice.json", saved_run([entry, entry]))

    result = suite.runpytest(*RUN, "-k", "infer", "--benchmark-compare=0001")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --benchmark-compare=0001: */0001_twice.json: holds "
            "benchmarks/test_cnn_torch.py::test_cnn_torch[[]cpu-infer[]] more than once; "
            "not a usable baseline"
        ]
    )
    assert "Traceback" not in result.stderr.str()


# The CPU's OpenMP threads -----------------------------------------------------------------


def test_passive_waiting_is_asked_for_before_torch_loads_unless_the_user_chose(monkeypatch):
    monkeypatch.setattr(openmp, "_CHOSEN", {})
    environ: dict[str, str] = {}
    assert openmp.prefer_passive_wait(environ, modules={}) == "PASSIVE (set by accelbench)"
    assert environ == {"OMP_WAIT_POLICY": "PASSIVE"}

    monkeypatch.setattr(openmp, "_CHOSEN", {})
    mine = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert openmp.prefer_passive_wait(mine, modules={}) == "ACTIVE (set by the user)"
    assert mine == {"OMP_WAIT_POLICY": "ACTIVE"}

    monkeypatch.setattr(openmp, "_CHOSEN", {})
    late: dict[str, str] = {}
    loaded = openmp.prefer_passive_wait(late, modules={"torch": object()})
    assert loaded == "default (torch was loaded before accelbench)" and late == {}
    assert openmp.facts() == {"omp_wait_policy": loaded}


def test_each_case_saves_the_wait_policy_and_its_stability(suite, storage, monkeypatch):
    planted_rounds(monkeypatch, steady(1 * MS))
    suite.runpytest(*RUN, "-k", "infer", "--benchmark-json=r.json").assert_outcomes(passed=1)
    (saved,) = json.loads((suite.path / "r.json").read_text())["benchmarks"]
    info = saved["extra_info"]
    assert info["omp_wait_policy"] == openmp.facts()["omp_wait_policy"]
    assert info["stability"] == {
        "stable": True,
        "reason": "",
        "rounds": saved["stats"]["rounds"],
        "central_spread": 1.0,
    }
