"""Nothing lost or half-written: output paths checked before the first benchmark, every file
written whole or not at all, an interrupted run saved marked partial."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from accelbench.__main__ import main
from accelbench.benchmark_internals import machine_id as get_machine_id
from accelbench.workloads.cnn import SimpleCNN

from conftest import SMOKE, add_benchmarks

USAGE_ERROR, INTERRUPTED, SAVE_FAILED = 4, 2, 3
ONE_CASE = ["benchmarks", *SMOKE, "--devices", "cpu", "-k", "infer"]
TWO_CASES = ["benchmarks", *SMOKE, "--devices", "cpu"]
EARLIER = b'{"an": "earlier run, which must survive"}\n'


@pytest.fixture
def cnn(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    return suite


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.lines if line.strip()]


def read_only(monkeypatch, folder: Path) -> None:
    """``folder`` refuses writes, for root too (root ignores a 0o555 mode): os.access says
    so, as it does for a read-only mount."""
    folder.chmod(0o555)
    real = os.access

    def access(path, mode, *args, **kwargs):
        if Path(path).resolve() == folder.resolve() and mode & os.W_OK:
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


# Output paths are checked before any benchmark runs ----------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--benchmark-json", "missing/run.json"],
            "ERROR: --benchmark-json missing/run.json: folder missing does not exist",
        ),
        (
            ["--benchmark-json", "afolder"],
            "ERROR: --benchmark-json afolder: afolder is a folder, not a file",
        ),
        (
            ["--benchmark-autosave", "--benchmark-storage", "afile"],
            "ERROR: --benchmark-storage afile: is a file, not a folder",
        ),
        (
            ["--benchmark-compare-fail=median:15%"],
            "ERROR: --benchmark-compare-fail needs --benchmark-compare (the saved run to compare "
            "with); type: pytest benchmarks --benchmark-only --benchmark-compare "
            "--benchmark-compare-fail=median:15%",
        ),
    ],
    ids=["json-missing-folder", "json-onto-a-folder", "storage-is-a-file", "fail-without-compare"],
)
def test_a_bad_output_option_is_one_usage_error_before_anything_runs(cnn, args, message):
    (cnn.path / "afolder").mkdir()
    (cnn.path / "afile").write_text("")
    result = cnn.runpytest(*ONE_CASE, *args)
    assert result.ret == USAGE_ERROR
    assert error_lines(result) == [message]
    assert "passed" not in result.stdout.str()


def test_a_read_only_storage_is_a_usage_error_before_anything_runs(cnn, monkeypatch):
    storage = cnn.path / "storage"
    storage.mkdir()
    read_only(monkeypatch, storage)
    result = cnn.runpytest(*ONE_CASE, "--benchmark-autosave", "--benchmark-storage", "storage")
    assert result.ret == USAGE_ERROR
    assert error_lines(result) == [
        "ERROR: --benchmark-storage storage: folder storage is read-only"
    ]


# Written whole or not at all ----------------------------------------------------------------


def no_space(monkeypatch) -> None:
    """The disk fills up while the run's file is written: its data never reaches the disk."""

    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)


def test_the_earlier_files_stay_whole_during_the_run_and_when_the_disk_is_full(cnn, monkeypatch):
    """Not emptied when the options are read, not truncated when the disk fills up at the
    end, and no empty autosaved run left behind: each file is complete or absent."""
    earlier = cnn.path / "run.json"
    earlier.write_bytes(EARLIER)
    seen_during_the_run = []
    honest_step = SimpleCNN.step

    def step(self):
        seen_during_the_run.append(earlier.read_bytes())
        return honest_step(self)

    monkeypatch.setattr(SimpleCNN, "step", step)
    no_space(monkeypatch)
    result = cnn.runpytest(*ONE_CASE, "--benchmark-json", "run.json", "--benchmark-autosave")

    assert set(seen_during_the_run) == {EARLIER}
    assert result.ret == SAVE_FAILED
    result.stdout.fnmatch_lines(
        [
            "accelbench: could not write run.json: No space left on device; "
            "the earlier file is unchanged",
            "accelbench: could not write *0001_*.json: No space left on device; "
            "nothing was written",
        ]
    )
    assert earlier.read_bytes() == EARLIER
    storage = cnn.path / ".benchmarks"
    assert list(storage.rglob("*")) == [storage / get_machine_id()]
    assert list(cnn.path.rglob(".accelbench-tmp-*")) == []


# Interrupted runs ---------------------------------------------------------------------------


def test_ctrl_c_saves_the_run_marked_partial_and_it_is_never_a_baseline(cnn, monkeypatch, capsys):
    honest_step = SimpleCNN.step

    def step(self):
        if self.spec.phase == "infer":  # the second of the two cases
            raise KeyboardInterrupt
        return honest_step(self)

    monkeypatch.setattr(SimpleCNN, "step", step)
    result = cnn.runpytest(
        *TWO_CASES, "--benchmark-json", "run.json", "--benchmark-autosave", no_reraise_ctrlc=True
    )
    assert result.ret == INTERRUPTED
    result.stdout.fnmatch_lines(
        ["partial run: interrupted after 1 of 2 cases; saved marked partial: run.json, *0001_*"]
    )
    saved = json.loads((cnn.path / "run.json").read_text())
    assert len(saved["benchmarks"]) == 1
    assert saved["accelbench"]["partial"] is True
    assert saved["accelbench"]["partial_reason"] == "interrupted after 1 of 2 cases"
    (autosaved,) = (cnn.path / ".benchmarks").rglob("0001_*.json")
    assert json.loads(autosaved.read_text())["accelbench"]["partial"] is True

    monkeypatch.setattr(SimpleCNN, "step", honest_step)
    again = cnn.runpytest(*ONE_CASE, "--benchmark-compare")
    assert again.ret == USAGE_ERROR
    (line,) = error_lines(again)
    assert "no complete saved run to compare with for this machine" in line
    assert ", 1 partial or unreadable)" in line

    capsys.readouterr()
    assert main(["report", str(cnn.path / "run.json"), "--out", str(cnn.path / "out")]) == 0
    markdown = (cnn.path / "out" / "report.md").read_text()
    assert "**Partial run** (interrupted after 1 of 2 cases)" in markdown
    assert main(["compare", str(cnn.path / "run.json"), str(cnn.path / "run.json")]) == 0
    assert "note: the current run is partial (interrupted after 1 of 2 cases)" in (
        capsys.readouterr().out
    )
