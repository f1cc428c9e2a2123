"""Saved runs: pytest-benchmark's JSON files, found, loaded and checked.

A run is one file pytest-benchmark wrote: ``--benchmark-autosave`` stores them as
``.benchmarks/<machine-id>/NNNN_*.json``, ``--benchmark-json PATH`` anywhere. Anything that
is not such a file raises ``RunError`` whose message is one line for the user.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from accelbench import summary

DEFAULT_STORAGE = ".benchmarks"
SAVE_HINT = "save one with: pytest benchmarks --benchmark-only --benchmark-autosave"


class RunError(Exception):
    """A file or folder that is not a usable saved run; the message is one line."""


@dataclass(frozen=True)
class Run:
    """One saved run: its file, its valid benchmark entries and its machine facts."""

    path: Path
    data: dict[str, Any]
    benchmarks: list[dict[str, Any]]
    malformed: int = 0

    @property
    def machine_info(self) -> dict[str, Any]:
        info = self.data.get("machine_info")
        return info if isinstance(info, dict) else {}

    @property
    def records(self) -> list[dict[str, Any]]:
        """Entries this suite measured (with its extra_info), as ``summary`` reads them."""
        return summary.measured(self.benchmarks)

    @property
    def unmeasured(self) -> list[str]:
        """Names of entries without this suite's extra_info (plain pytest-benchmark ones)."""
        kept = {id(r) for r in self.records}
        return [b.get("name") or b["fullname"] for b in self.benchmarks if id(b) not in kept]

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

    def device_label(self, device: str) -> str:
        """What a person calls ``device`` on this run's machine."""
        for r in self.records:
            info = r["extra_info"]
            if info.get("device") == device and info.get("device_label"):
                return str(info["device_label"])
        devices = _dict(
            _dict(_dict(self.machine_info.get("accelbench")).get("torch")).get("devices")
        )
        return str(_dict(devices.get(device)).get("label") or device)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_entry(entry: Any) -> bool:
    if not isinstance(entry, dict) or not isinstance(entry.get("fullname"), str):
        return False
    stats = entry.get("stats")
    if not isinstance(stats, dict):
        return False
    median = stats.get("median")
    return (
        isinstance(median, (int, float))
        and not isinstance(median, bool)
        and math.isfinite(median)
        and median > 0
    )


def load_run(path: str | Path) -> Run:
    """Read and check one saved run; ``RunError`` with one line when it is not one."""
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path}: no such file or folder")
    if path.is_dir():
        raise RunError(f"{path}: is a folder, expected a saved run (a .json file)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RunError(f"{path}: cannot be read: {exc.strerror or exc}") from None
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
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunError(
            f"{path}: not valid JSON (truncated or corrupt?): {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None
    except RecursionError:
        raise RunError(f"{path}: JSON nested too deeply to be a saved run") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise RunError(f"{path}: JSON, but not a pytest-benchmark saved run (no 'benchmarks' list)")
    entries = data["benchmarks"]
    valid = [e for e in entries if _is_entry(e)]
    if not entries:
        raise RunError(f"{path}: the saved run holds no benchmarks")
    if not valid:
        raise RunError(
            f"{path}: none of its {len(entries)} benchmarks has a fullname and a median time"
        )
    return Run(path=path, data=data, benchmarks=valid, malformed=len(entries) - len(valid))


def find_runs(paths: list[str | Path]) -> tuple[list[Run], list[str]]:
    """Load each path: a file must be a saved run; a folder is searched recursively.

    Returns the runs, in the order given (a folder's by date), and one line per file in a
    folder that was skipped because it is not a saved run.
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
    """The most recently saved run under pytest-benchmark's storage folder."""
    storage = Path(storage)
    if not storage.is_dir():
        raise RunError(f"no run given and no {storage}/ folder here; {SAVE_HINT}")
    runs, _ = _quiet_find(storage)
    if not runs:
        raise RunError(f"no run given and no saved run under {storage}/; {SAVE_HINT}")
    return max(runs, key=lambda r: (r.when, str(r.path)))


def _quiet_find(folder: Path) -> tuple[list[Run], list[str]]:
    try:
        return find_runs([folder])
    except RunError:
        return [], []
