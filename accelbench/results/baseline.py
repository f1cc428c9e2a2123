"""``--benchmark-compare``, like with like: which saved run to compare with, and which of its
cases are comparable with this run's.

pytest-benchmark compares with the newest file in its storage and matches benchmarks by
test name only, but the name carries neither the size nor the dtype nor the mode: a smoke
baseline against a standard run reads as a slowdown of 1,000x. Here the baseline is the
newest *complete* saved run of this run's size and dtype (else the newest complete one),
never a partial (interrupted) one, and a pair of cases whose identities differ is taken out
of the comparison and listed as not comparable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelbench.results.compare import not_comparable
from accelbench.results.record import Record, Unusable, parse_entry
from accelbench.results.runs import Run, RunError, load_run

SAVED_RUN_GLOB = "[0-9][0-9][0-9][0-9]_*.json"  # pytest-benchmark's autosave names
VOLATILE_MACHINE_FACTS = ("cpu.hz_actual", "cpu.hz_actual_friendly")  # the clock of the moment


def file_storage(option: str) -> Path | None:
    """The folder of ``--benchmark-storage`` when it is a file storage (not elasticsearch)."""
    if "://" not in option:
        return Path(option)
    if option.startswith("file://"):
        return Path(option[len("file://") :])
    return None


@dataclass(frozen=True)
class BaselineChoice:
    path: Path | None
    why: str
    skipped: list[str] = field(default_factory=list)


def _matches(run: Run, size: str, dtype: str) -> bool:
    return any(r.key.size == size and r.key.dtype == dtype for r in run.measured if r.key)


def choose_baseline(folder: Path, size: str, dtype: str) -> BaselineChoice:
    """The newest complete run in ``folder`` (one machine's storage) at ``size`` and
    ``dtype``; else the newest complete run, whose cases will then read as not comparable.
    Partial runs and files that do not read are skipped, each with a line saying why."""
    skipped: list[str] = []
    fallback: Run | None = None
    for path in sorted(folder.glob(SAVED_RUN_GLOB), key=lambda p: p.name, reverse=True):
        try:
            run = load_run(path)
        except RunError as exc:
            skipped.append(f"skipped {exc}")
            continue
        if run.partial:
            skipped.append(f"skipped {path.name}: {run.status}, never a baseline")
            continue
        if _matches(run, size, dtype):
            return BaselineChoice(run.path, f"the newest complete run at {size}, {dtype}", skipped)
        fallback = fallback or run
    if fallback is not None:
        why = f"no complete saved run at {size}, {dtype}: the newest complete run"
        return BaselineChoice(fallback.path, why, skipped)
    return BaselineChoice(None, "no complete saved run", skipped)


def explicit_baseline(folder: Path, value: str) -> list[Path]:
    """The files ``--benchmark-compare=VALUE`` names, as pytest-benchmark looks them up."""
    candidate = Path(value)
    if candidate.is_file():
        return [candidate]
    return sorted(folder.glob(value.rstrip("*") + "*.json"))


def named_baseline(path: Path) -> BaselineChoice:
    """The run ``--benchmark-compare=NNNN`` names, said to be partial where it is one."""
    try:
        run = load_run(path)
    except RunError as exc:
        return BaselineChoice(path, f"named by --benchmark-compare; {exc}")
    why = "named by --benchmark-compare" + (f"; a {run.status}" if run.partial else "")
    return BaselineChoice(path, why)


@dataclass
class NotComparable:
    """Cases taken out of the comparison, grouped by why (``size smoke -> standard``)."""

    by_reason: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, name: str) -> None:
        self.by_reason.setdefault(reason, []).append(name)

    def __len__(self) -> int:
        return sum(len(names) for names in self.by_reason.values())

    def lines(self) -> list[str]:
        return [
            f"  {reason}: {', '.join(sorted(names))}"
            for reason, names in sorted(self.by_reason.items())
        ]


def keep_comparable(
    compared_mapping: dict[Any, dict[str, dict[str, Any]]], current: Iterable[dict[str, Any]]
) -> NotComparable:
    """Take out of pytest-benchmark's ``compared_mapping`` ({file: {fullname: saved entry}})
    every saved entry whose identity differs from this run's entry of the same fullname, or
    that does not read as a result; returns them grouped by reason."""
    now: dict[str, Record] = {}
    for entry in current:
        try:
            record = parse_entry(entry)
        except Unusable:
            continue
        now[record.fullname] = record
    out = NotComparable()
    for saved in compared_mapping.values():
        for fullname in list(saved):
            if fullname not in now:
                continue
            try:
                reason = not_comparable(parse_entry(saved[fullname]), now[fullname])
            except Unusable as exc:
                reason = f"the saved entry does not read ({exc})"
            if reason:
                out.add(reason, now[fullname].name)
                del saved[fullname]
    return out


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(value, dict):
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in value.items():
        out.update(_leaves(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


def machine_differences(current: dict[str, Any], saved: dict[str, Any], limit: int = 3) -> str:
    """The identifying machine facts that differ between two runs, in one line ("" if none).

    Only facts both runs recorded count (a fact this version no longer keeps in
    machine_info is not a different machine), and the CPU's clock of the moment does not.
    """
    # As JSON sees them: a tuple of this run and the list it was saved as are the same fact.
    now = _leaves(json.loads(json.dumps(current, default=str)))
    then = _leaves(json.loads(json.dumps(saved, default=str)))
    diffs = [
        f"{key} {then[key]!s:.40} -> {now[key]!s:.40}"
        for key in sorted(set(now) & set(then))
        if key not in VOLATILE_MACHINE_FACTS and now[key] != then[key]
    ]
    shown = "; ".join(diffs[:limit])
    return shown + (f"; and {len(diffs) - limit} more" if len(diffs) > limit else "")
