"""Saved runs: pytest-benchmark's JSON files, found, loaded and checked into ``Record`` values.

A run is one file pytest-benchmark wrote: ``--benchmark-autosave`` stores them as
``.benchmarks/<machine-id>/NNNN_*.json``, ``--benchmark-json PATH`` anywhere. Anything that
is not such a file, or holds an entry that does not read as a result, raises ``RunError``
whose message is one line for the user: nothing is read past a bad value.

The run's own ``accelbench`` block (``results.run_block``) says which results format wrote
it (``format``; absent in runs saved before formats were numbered, which read as format 1)
and whether the run was interrupted (``partial``); it is read once, into ``Run.block``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from accelbench.core.saved_form import Unusable
from accelbench.results.record import Record, parse_entries
from accelbench.results.run_block import RESULTS_FORMAT, RunBlock

DEFAULT_STORAGE = ".benchmarks"
SAVE_HINT = "save one with: pytest benchmarks --benchmark-only --benchmark-autosave"
MAX_FILE_BYTES = 64 * 2**20  # a standard run is about 100 KiB; far larger is not a run
MAX_INT_DIGITS = 40  # no count the suite saves needs more; a 5,000-digit one is corrupt
__all__ = [  # RESULTS_FORMAT: re-exported for the writer
    "DEFAULT_STORAGE",
    "RESULTS_FORMAT",
    "Run",
    "RunError",
    "find_runs",
    "load_run",
    "newest_run",
]
PARTIAL_NOTE = "partial run"


class RunError(Exception):
    """A file or folder that is not a usable saved run; the message is one line."""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Run:
    """One saved run: its file, its records and what it says of itself (``block``)."""

    path: Path
    data: dict[str, Any]
    records: tuple[Record, ...]
    block: RunBlock = field(default_factory=RunBlock)

    @property
    def format(self) -> int:
        return self.block.format

    @property
    def partial_reason(self) -> str | None:
        return self.block.partial_reason

    @property
    def partial(self) -> bool:
        """The run did not finish (Ctrl-C, a crash, a stop on failure): some cases are missing."""
        return self.block.partial

    @property
    def measured(self) -> list[Record]:
        """The records this suite measured (with an identity)."""
        return [r for r in self.records if r.measured]

    @property
    def plain(self) -> list[str]:
        """Names of entries without this suite's extra_info (plain pytest-benchmark ones)."""
        return [r.name for r in self.records if not r.measured]

    @property
    def machine_info(self) -> dict[str, Any]:
        return _dict(self.data.get("machine_info"))

    @property
    def datetime(self) -> str:
        value = self.data.get("datetime")
        return value if isinstance(value, str) else ""

    @property
    def saved(self) -> str:
        """When the run was saved, for a person: "2026-01-02 03:04 UTC"."""
        return self.when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    @property
    def when(self) -> datetime:
        """When the run was saved (its ``datetime`` field, else the file's modification time)."""
        try:
            moment = datetime.fromisoformat(self.datetime)
        except ValueError:
            return datetime.fromtimestamp(self.path.stat().st_mtime, timezone.utc)
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)

    @property
    def status(self) -> str:
        """ "" for a complete run; "partial run (interrupted: ...)" otherwise."""
        return f"{PARTIAL_NOTE} ({self.partial_reason})" if self.partial else ""

    @property
    def machine(self) -> str:
        """The machine in a few words: chip, GPU, OS, torch (what is known of them)."""
        info = self.machine_info
        suite = _dict(info.get("accelbench"))
        system, torch = _dict(suite.get("system")), _dict(suite.get("torch"))
        chip = system.get("cpu") or _dict(info.get("cpu")).get("brand_raw") or info.get("node")
        parts = [str(chip or "unknown machine")]
        if system.get("apple_gpu_cores"):
            parts[0] += f" ({system['apple_gpu_cores']}-core GPU)"
        if torch.get("cuda_device"):
            parts.append(str(torch["cuda_device"]))
        os_name = system.get("os") or info.get("system")
        if os_name:
            parts.append(
                f"{os_name} {system.get('os_version') or info.get('release') or ''}".strip()
            )
        if torch.get("torch"):
            parts.append(f"torch {torch['torch']}")
        return ", ".join(parts)

    def device_facts(self) -> Mapping[str, Mapping[str, Any]]:
        """Per device name: ``usable``, ``label`` and ``reason`` as probed for the run (runs
        saved before the run's block held them: as the machine facts did)."""
        if self.block.device_facts:
            return self.block.device_facts
        machine = _dict(self.machine_info.get("accelbench"))
        devices = _dict(_dict(machine.get("torch")).get("devices"))
        return {name: _dict(facts) for name, facts in devices.items()}

    def device_label(self, device: str) -> str:
        """What a person calls ``device`` on this run's machine."""
        for r in self.measured:
            if r.device == device and r.device_label:
                return r.device_label
        return str(self.device_facts().get(device, {}).get("label") or device)


# Loading ----------------------------------------------------------------------------------


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise _HugeInteger(len(digits.lstrip("-")))
    return int(digits)


class _HugeInteger(ValueError):
    def __init__(self, digits: int) -> None:
        super().__init__(digits)
        self.digits = digits


_FILE_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _read(path: Path) -> bytes:
    """The file's bytes, after checking from its metadata alone that it is a regular file of
    a sane size: a FIFO or /dev/zero would otherwise be read forever."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise RunError(f"{path}: no such file or folder") from None
    except OSError as exc:
        raise RunError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise RunError(f"{path}: is a folder, expected a saved run (a .json file)")
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _FILE_KINDS if test(info.st_mode)), "not a file")
        raise RunError(f"{path}: is {kind}, not a regular file: not a saved run")
    too_big = f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB, too large to be a saved run"
    if info.st_size > MAX_FILE_BYTES:
        raise RunError(too_big)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise RunError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise RunError(too_big)
    return raw


def _parse(path: Path, raw: bytes) -> Any:
    if not raw.strip():
        raise RunError(f"{path}: empty file, not a saved run")
    if b"\x00" in raw[:8192]:
        raise RunError(f"{path}: binary file, not a saved run (expected pytest-benchmark's JSON)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RunError(
            f"{path}: not UTF-8 text, not a saved run (expected pytest-benchmark's JSON)"
        ) from None
    try:
        return json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise RunError(
            f"{path}: not valid JSON (truncated or corrupt?): {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None
    except _HugeInteger as exc:
        raise RunError(
            f"{path}: holds an integer of {exc.digits} digits (at most {MAX_INT_DIGITS} "
            "expected): corrupt, not a saved run"
        ) from None
    except RecursionError:
        raise RunError(f"{path}: JSON nested too deeply to be a saved run") from None
    except ValueError as exc:  # e.g. Python's own limit on digits in an integer
        raise RunError(f"{path}: not a saved run: {exc}") from None


def load_run(path: str | Path) -> Run:
    """Read and check one saved run; ``RunError`` with one line when it is not a usable one."""
    path = Path(path)
    data = _parse(path, _read(path))
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise RunError(f"{path}: JSON, but not a pytest-benchmark saved run (no 'benchmarks' list)")
    try:
        block = RunBlock.read(data.get("accelbench", {}))
    except Unusable as exc:
        raise RunError(f"{path}: {exc}") from None
    entries = data["benchmarks"]
    if not entries:
        raise RunError(f"{path}: the saved run holds no benchmarks")
    records, problems = parse_entries(entries, partial=block.partial)
    if problems:
        more = f" (and {len(problems) - 1} more unusable)" if len(problems) > 1 else ""
        raise RunError(f"{path}: {problems[0]}{more}; not a usable saved run")
    return Run(path=path, data=data, records=tuple(records), block=block)


def find_runs(paths: list[str | Path]) -> tuple[list[Run], list[str]]:
    """Load each path: a file must be a saved run; a folder is searched recursively.

    Returns the runs, in the order given (a folder's by date), and one line per file in a
    folder that was skipped because it is not a usable saved run.
    """
    runs: list[Run] = []
    skipped: list[str] = []
    for path in map(Path, paths):
        if not path.is_dir():
            runs.append(load_run(path))
            continue
        found, bad = [], []
        for candidate in sorted(path.rglob("*.json")):
            try:
                found.append(load_run(candidate))
            except RunError as exc:
                bad.append(f"skipped {exc}")
        if not found:
            reason = f"; {bad[0]}" if bad else ""
            raise RunError(f"{path}: no saved run found in this folder{reason}")
        runs += sorted(found, key=lambda r: (r.when, str(r.path)))
        skipped += bad
    return runs, skipped


def newest_run(storage: str | Path = DEFAULT_STORAGE) -> Run:
    """The most recently saved complete run under pytest-benchmark's storage folder (a
    partial one only when no run there is complete)."""
    storage = Path(storage)
    if not storage.is_dir():
        raise RunError(f"no run given and no {storage}/ folder here; {SAVE_HINT}")
    try:
        runs, _ = find_runs([storage])
    except RunError:
        runs = []
    if not runs:
        raise RunError(f"no run given and no saved run under {storage}/; {SAVE_HINT}")
    complete = [r for r in runs if not r.partial] or runs
    return max(complete, key=lambda r: (r.when, str(r.path)))
