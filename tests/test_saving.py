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
from accelbench.core.measure import SynchronizedBlocks
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


# Odd output paths ---------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda path: os.mkfifo(path),
            "ERROR: --benchmark-json out.json: out.json is a FIFO (named pipe), not a regular file",
        ),
        (
            lambda path: path.symlink_to(os.devnull),
            "ERROR: --benchmark-json out.json: out.json is a character device, not a regular file",
        ),
    ],
    ids=["fifo", "link-to-a-character-device"],
)
def test_benchmark_json_onto_what_is_not_a_regular_file_is_refused_and_left_alone(
    cnn, make, message
):
    target = cnn.path / "out.json"
    make(target)
    kind = os.lstat(target).st_mode
    result = cnn.runpytest(*ONE_CASE, "--benchmark-json", "out.json")
    assert result.ret == USAGE_ERROR
    assert error_lines(result) == [message]
    assert os.lstat(target).st_mode == kind


@pytest.mark.skipif(not Path("/proc/self/fd/1").exists(), reason="no /proc/self/fd")
def test_benchmark_json_onto_a_link_to_standard_output_is_refused_and_left_alone(cnn):
    """/dev/stdout is such a link; one of the test's own stands in for it, so that a
    failure replaces nothing outside the test's folder."""
    link = cnn.path / "stdout.json"
    link.symlink_to("/proc/self/fd/1")
    result = cnn.runpytest(*ONE_CASE, "--benchmark-json", "stdout.json")
    assert result.ret == USAGE_ERROR
    (line,) = error_lines(result)
    assert line.startswith("ERROR: --benchmark-json stdout.json: stdout.json is ")
    assert link.is_symlink()


def test_an_overlong_benchmark_json_name_is_one_usage_error(cnn):
    name = "a" * 300 + ".json"
    result = cnn.runpytest(*ONE_CASE, "--benchmark-json", name)
    assert result.ret == USAGE_ERROR
    assert error_lines(result) == [
        f"ERROR: --benchmark-json {name}: file name too long (305 characters; "
        "this file system allows 255)"
    ]


# Ctrl-C at any point ------------------------------------------------------------------------


def interrupt_in_rounds(monkeypatch, phase: str) -> None:
    """Ctrl-C at the first step of ``phase``'s cases that runs inside the timed rounds."""
    in_rounds = []
    honest_call, honest_step = SynchronizedBlocks.__call__, SimpleCNN.step

    def call(self):
        in_rounds.append(self)
        try:
            honest_call(self)
        finally:
            in_rounds.pop()

    def step(self):
        if in_rounds and self.spec.phase == phase:
            raise KeyboardInterrupt
        return honest_step(self)

    monkeypatch.setattr(SynchronizedBlocks, "__call__", call)
    monkeypatch.setattr(SimpleCNN, "step", step)


def test_ctrl_c_inside_the_timed_rounds_saves_the_cases_before_it_marked_partial(cnn, monkeypatch):
    """The interrupted case has statistics but no timings: it is left out of the saved run,
    where pytest-benchmark took min() of its empty timings (ValueError)."""
    interrupt_in_rounds(monkeypatch, phase="infer")  # the second of the two cases
    result = cnn.runpytest(*TWO_CASES, "--benchmark-json", "run.json", no_reraise_ctrlc=True)
    assert result.ret == INTERRUPTED
    output = result.stdout.str() + result.stderr.str()
    assert "Error" not in output
    result.stdout.fnmatch_lines(
        ["partial run: interrupted after 1 of 2 cases; saved marked partial: run.json*"]
    )
    saved = json.loads((cnn.path / "run.json").read_text())
    assert [b["params"]["phase"] for b in saved["benchmarks"]] == ["train"]
    assert saved["accelbench"]["partial"] is True


# pytest-benchmark's own warning, "Not saving anything, no benchmarks have been run!", is
# what a user reads then: true, and not an error.
@pytest.mark.filterwarnings("ignore::pytest_benchmark.logger.PytestBenchmarkWarning")
def test_ctrl_c_inside_the_timed_rounds_of_the_only_case_writes_nothing(cnn, monkeypatch):
    interrupt_in_rounds(monkeypatch, phase="infer")
    earlier = cnn.path / "run.json"
    earlier.write_bytes(EARLIER)
    result = cnn.runpytest(*ONE_CASE, "--benchmark-json", "run.json", no_reraise_ctrlc=True)
    assert result.ret == INTERRUPTED
    assert "Error" not in result.stdout.str() + result.stderr.str()
    assert earlier.read_bytes() == EARLIER


def test_ctrl_c_while_saving_is_one_line_and_the_earlier_file_stays_whole(cnn, monkeypatch):
    earlier = cnn.path / "run.json"
    earlier.write_bytes(EARLIER)

    def fsync(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", fsync)
    result = cnn.runpytest(*ONE_CASE, "--benchmark-json", "run.json", no_reraise_ctrlc=True)
    assert result.ret == INTERRUPTED
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "KeyboardInterrupt" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(
        [
            "accelbench: interrupted while saving: what was not yet saved is not written, "
            "and the files it would have replaced are unchanged"
        ]
    )
    assert earlier.read_bytes() == EARLIER
    assert list(cnn.path.rglob(".accelbench-tmp-*")) == []
