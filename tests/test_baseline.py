"""`pytest benchmarks --benchmark-compare`, like with like: the baseline of this run's
configuration, only cases of the same identity compared, machine_info free of options."""

from __future__ import annotations

import json

import pytest
from fixtures.runs import record, saved_run, write

from accelbench import backends
from accelbench.benchmark_internals import machine_id as get_machine_id
from accelbench.core import machine as environment

from conftest import SMOKE, add_benchmarks

ONE_CASE = ["benchmarks", *SMOKE, "--devices", "cpu", "-k", "infer"]
TWO_CASES = ["benchmarks", *SMOKE, "--devices", "cpu"]
FAIL_AT_15 = "--benchmark-compare-fail=median:15%"


def plant(folder, name: str, **identity: str) -> None:
    """A saved run of the smoke CNN's test, 1 us a step (far faster than any real one), with
    its identity changed by ``identity``."""
    folder.mkdir(parents=True, exist_ok=True)
    entry = record("cnn", "cpu", "infer", 1e-6, test="test_cnn_torch", **identity)
    write(folder / name, saved_run([entry]))


@pytest.fixture
def storage(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    return suite.path / ".benchmarks" / get_machine_id()


def test_cases_of_another_identity_are_not_comparable_never_a_regression(suite, storage):
    """A baseline 1 us a step at another size (train) and another dtype (infer): pytest-
    benchmark alone calls both a regression of many thousand percent and exits 1."""
    storage.mkdir(parents=True)
    entries = [
        record("cnn", "cpu", "train", 1e-6, test="test_cnn_torch", size="standard"),
        record("cnn", "cpu", "infer", 1e-6, test="test_cnn_torch", size="smoke", dtype="bf16"),
    ]
    write(storage / "0001_base.json", saved_run(entries))
    result = suite.runpytest(*TWO_CASES, "--benchmark-compare", FAIL_AT_15)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "not comparable with the baseline: 2 of its cases differ in identity, left out of "
            "the comparison and of --benchmark-compare-fail:",
            "  dtype bf16 -> fp32: test_cnn_torch[[]cpu-infer[]]",
            "  size standard -> smoke: test_cnn_torch[[]cpu-train[]]",
        ]
    )
    assert "Performance has regressed" not in result.stderr.str()


def test_the_baseline_is_the_newest_complete_run_of_this_runs_size_and_dtype(suite, storage):
    plant(storage, "0001_smoke.json", size="smoke")
    plant(storage, "0002_standard.json", size="standard")
    plant(storage, "0003_smoke_bf16.json", size="smoke", dtype="bf16")
    partial = json.loads((storage / "0001_smoke.json").read_text())
    partial["accelbench"].update(partial=True, partial_reason="interrupted after 1 of 2 cases")
    write(storage / "0004_partial.json", partial)

    result = suite.runpytest(*ONE_CASE, "--benchmark-compare")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "compared with */0001_smoke.json (the newest complete run at smoke, fp32 that holds "
            "all 1 of this run's cases)",
            "  skipped 0004_partial.json: partial run (interrupted after 1 of 2 cases), "
            "never a baseline",
        ]
    )
    assert "not comparable" not in result.stdout.str()

    named = suite.runpytest(*ONE_CASE, "--benchmark-compare=0004")
    assert named.ret == 0
    named.stdout.fnmatch_lines(
        [
            "compared with */0004_partial.json (named by --benchmark-compare; "
            "a partial run (interrupted after 1 of 2 cases))"
        ]
    )


def test_option_facts_stay_out_of_machine_info_so_an_option_change_compares_quietly(
    suite, storage, tmp_path_factory, monkeypatch
):
    """pytest-benchmark prints both machine_info dicts whole when they differ, and crashes
    (INTERNALERROR) doing so when the storage is outside the current folder. The options'
    facts are saved in the run's own block instead."""
    outside = tmp_path_factory.mktemp("storage-elsewhere")
    first = suite.runpytest(
        *ONE_CASE, "--benchmark-autosave", "--benchmark-storage", outside, "--frameworks", "torch"
    )
    assert first.ret == 0
    (autosaved,) = outside.rglob("0001_*.json")
    saved = json.loads(autosaved.read_text())
    assert "PYTORCH_ENABLE_MPS_FALLBACK" not in json.dumps(saved["machine_info"])
    assert "hz_actual" not in saved["machine_info"]["cpu"]
    block = saved["accelbench"]
    assert block["format"] == 2 and block["partial"] is False
    assert block["config"] == {
        "size": "smoke",
        "dtype": "fp32",
        "devices": ["cpu"],
        "frameworks": ["torch"],
    }
    assert "PYTORCH_ENABLE_MPS_FALLBACK" in block["environment"]["torch"]
    assert block["speedups"][0]["cpu_median_s"] == saved["benchmarks"][0]["stats"]["median"]

    monkeypatch.setenv("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    result = suite.runpytest(*ONE_CASE, "--benchmark-compare", "--benchmark-storage", outside)
    assert result.ret == 0
    output = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in output
    assert "machine_info is different" not in output
    assert "machine differs" not in output
    result.stdout.fnmatch_lines(["compared with *0001_*.json (the newest complete run at smoke*"])


def test_machine_info_holds_what_identifies_the_machine_and_the_run_block_the_rest(monkeypatch):
    monkeypatch.setenv("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    machine = environment.machine_facts(backends)
    run = environment.run_facts(backends, ("torch",))
    assert set(machine["torch"]) & set(environment.RUN_SETTINGS) == set()
    assert machine["system"]["cpu"] and machine["torch"]["torch"]
    assert run["torch"]["PYTORCH_ENABLE_MPS_FALLBACK"] == "1"
    assert run["frameworks"] == ["torch"] and "tensorflow" not in run
