"""``--benchmark-compare``, like with like: which saved run to compare with, and which of its
cases are comparable with this run's.

pytest-benchmark compares with the newest file in its storage and matches benchmarks by
test name only, but the name carries neither the size nor the dtype nor the mode: a smoke
baseline against a standard run reads as a slowdown of 1,000x. Here the baseline is the
newest *complete* saved run that holds this run's cases (their fullnames are known once
pytest has collected them) at this run's size and dtype; where none holds them all, the
complete run that holds most of them (the newest of those); never a partial (interrupted)
run, nor one that holds a benchmark twice. A pair of cases whose identities differ is taken
out of the comparison and listed as not comparable; a case the baseline lacks is named.

What is not gate material leaves pytest-benchmark's comparison (and so
``--benchmark-compare-fail``) with its reason: a case whose rounds are unstable in either
run (``accelbench.core.stability``), rounds of very different lengths, a case measured
while the machine was busy (or on battery, throttled), and a smoke-size case unless
``--gate-smoke``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelbench.results.compare import (
    NOT_GATED,
    UNRELIABLE,
    conditions_note,
    duplicates,
    not_comparable,
    not_gate_material,
)
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


def _held(run: Run, wanted: frozenset[str], size: str, dtype: str) -> int:
    """How many of the ``wanted`` fullnames ``run`` holds at ``size`` and ``dtype`` (an
    entry without this suite's identity counts by its name alone)."""
    return sum(
        r.fullname in wanted and (r.key is None or (r.key.size, r.key.dtype) == (size, dtype))
        for r in run.records
    )


def choose_baseline(
    folder: Path, size: str, dtype: str, wanted: Iterable[str] | None = None
) -> BaselineChoice:
    """The newest complete run in ``folder`` (one machine's storage) that holds all of
    ``wanted`` (this run's fullnames) at ``size`` and ``dtype``; where none does, the one
    that holds most of them (the newest of those). Without ``wanted``: the newest complete
    run at ``size`` and ``dtype``. Where no run holds any: the newest complete run, whose
    cases will then read as not comparable. Partial runs, runs holding a benchmark twice and
    files that do not read are skipped, each with a line saying why."""
    skipped: list[str] = []
    fallback: Run | None = None
    want = frozenset(wanted or ())
    best: tuple[int, Run] | None = None
    for path in sorted(folder.glob(SAVED_RUN_GLOB), key=lambda p: p.name, reverse=True):
        try:
            run = load_run(path)
        except RunError as exc:
            skipped.append(f"skipped {exc}")
            continue
        if run.partial:
            skipped.append(f"skipped {path.name}: {run.status}, never a baseline")
            continue
        twice = duplicates(run)
        if twice:
            skipped.append(f"skipped {path.name}: holds {twice[0]} more than once")
            continue
        if not want:
            if _matches(run, size, dtype):
                why = f"the newest complete run at {size}, {dtype}"
                return BaselineChoice(run.path, why, skipped)
        else:
            held = _held(run, want, size, dtype)
            if held == len(want):
                why = f"the newest complete run at {size}, {dtype} that holds all {held} of "
                return BaselineChoice(run.path, why + "this run's cases", skipped)
            if held and (best is None or held > best[0]):
                best = (held, run)
        fallback = fallback or run
    if best is not None:
        why = (
            f"no complete saved run holds all {len(want)} of this run's cases at {size}, "
            f"{dtype}: the one holding most ({best[0]})"
        )
        return BaselineChoice(best[1].path, why, skipped)
    if fallback is not None:
        held = "holds this run's cases" if want else "is"
        why = f"no complete saved run {held} at {size}, {dtype}: the newest complete run"
        return BaselineChoice(fallback.path, why, skipped)
    return BaselineChoice(None, "no complete saved run", skipped)


def explicit_baseline(folder: Path, value: str) -> list[Path]:
    """The files ``--benchmark-compare=VALUE`` names, as pytest-benchmark looks them up."""
    candidate = Path(value)
    if candidate.is_file():
        return [candidate]
    return sorted(folder.glob(value.rstrip("*") + "*.json"))


def named_baseline(path: Path) -> BaselineChoice:
    """The run ``--benchmark-compare=NNNN`` names, said to be partial where it is one;
    ``RunError`` when it holds a benchmark twice (which copy would be the baseline?)."""
    try:
        run = load_run(path)
    except RunError as exc:
        return BaselineChoice(path, f"named by --benchmark-compare; {exc}")
    twice = duplicates(run)
    if twice:
        raise RunError(f"{path}: holds {twice[0]} more than once; not a usable baseline")
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

    def reason_for(entry: dict[str, Any], record: Record) -> str | None:
        try:
            return not_comparable(parse_entry(entry), record)
        except Unusable as exc:
            return f"the saved entry does not read ({exc})"

    return _take_out(compared_mapping, current, reason_for)


def _take_out(
    compared_mapping: dict[Any, dict[str, dict[str, Any]]],
    current: Iterable[dict[str, Any]],
    reason_for: Callable[[dict[str, Any], Record], str | None],
) -> NotComparable:
    """Take out of ``compared_mapping`` every saved entry of a case of this run for which
    ``reason_for(saved entry, this run's record)`` gives a reason; returns them by reason."""
    now = _current_records(current)
    out = NotComparable()
    for saved in compared_mapping.values():
        for fullname in list(saved):
            reason = reason_for(saved[fullname], now[fullname]) if fullname in now else None
            if reason:
                out.add(reason, now[fullname].name)
                del saved[fullname]
    return out


def _current_records(current: Iterable[dict[str, Any]]) -> dict[str, Record]:
    """This run's entries that read as results, by fullname."""
    now: dict[str, Record] = {}
    for entry in current:
        try:
            record = parse_entry(entry)
        except Unusable:
            continue
        now[record.fullname] = record
    return now


def keep_gate_material(
    compared_mapping: dict[Any, dict[str, dict[str, Any]]],
    current: Iterable[dict[str, Any]],
    gate_smoke: bool = False,
) -> NotComparable:
    """Take out of ``compared_mapping`` every saved entry whose pair with this run's entry
    is not gate material (``compare.not_gate_material``: unstable rounds in either run,
    rounds of very different lengths, a smoke-size case unless ``gate_smoke``), or was
    measured under conditions that make any change ``unreliable`` (busy, on battery,
    throttled: ``compare.conditions_note``, as ``accelbench compare`` never fails on those);
    returns them grouped by reason. Run after
    ``keep_comparable``; entries that do not read were taken out there."""

    def reason_for(entry: dict[str, Any], record: Record) -> str | None:
        try:
            then = parse_entry(entry)
        except Unusable:
            return None
        verdict, why = not_gate_material(then, record, gate_smoke)
        if not verdict and conditions_note(then, record):
            verdict, why = UNRELIABLE, conditions_note(then, record)
        if not verdict:
            return None
        return why if verdict == NOT_GATED else f"{verdict}: {why}"

    return _take_out(compared_mapping, current, reason_for)


def saved_case_times(
    folder: Path, size: str, dtype: str, wanted: Iterable[str]
) -> dict[str, float]:
    """Seconds each of ``wanted`` (fullnames) took, start to end, in the run
    ``choose_baseline`` picks for them (``case_wall_s`` of its entries; runs saved before it
    was recorded have none)."""
    choice = choose_baseline(folder, size, dtype, wanted) if folder.is_dir() else None
    if choice is None or choice.path is None:
        return {}
    want = set(wanted)
    return {
        r.fullname: r.case_wall_s
        for r in load_run(choice.path).records
        if r.fullname in want and r.case_wall_s
    }


def without_counterpart(
    compared_mapping: dict[Any, dict[str, dict[str, Any]]], current: Iterable[dict[str, Any]]
) -> list[str]:
    """This run's cases (names) that no saved entry of the comparison matches by fullname."""
    held = {fullname for saved in compared_mapping.values() for fullname in saved}
    now = _current_records(current)
    return sorted(r.name for fullname, r in now.items() if fullname not in held)


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
