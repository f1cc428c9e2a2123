"""What changed between two saved runs, with a verdict that respects noise.

Benchmarks are matched by fullname (``path::test[params]``), as pytest-benchmark's own
``--benchmark-compare`` matches them. A change is the current median time against the
baseline's, in percent (positive: slower). The verdict:

- ``regression``: slower by more than the threshold, and the two interquartile ranges do
  not overlap (the baseline's q3 is below the current q1);
- ``improvement``: faster by more than the threshold, and the current q3 is below the
  baseline's q1;
- ``noise``: beyond the threshold, but the spreads overlap, so the runs cannot tell;
- ``unchanged``: within the threshold;
- ``not comparable``: the two entries ran at a different size or dtype;
- ``unreliable``: a regression or an improvement, but either run's entry was measured while
  the machine was busy, on battery, in Low Power Mode or throttled (``accelbench.conditions``):
  the change may be the machine, not the code. It does not fail ``--fail-on regression``.

Works on any pytest-benchmark run; this suite's extra_info is used where present.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accelbench.conditions import FLAGS, flags_of
from accelbench.runs import Run, RunError
from accelbench.summary import format_seconds, format_table

REGRESSION = "regression"
IMPROVEMENT = "improvement"
NOISE = "noise"
UNCHANGED = "unchanged"
NOT_COMPARABLE = "not comparable"
UNRELIABLE = "unreliable"
VERDICTS = (REGRESSION, IMPROVEMENT, UNRELIABLE, NOISE, NOT_COMPARABLE, UNCHANGED)  # report order
DEFAULT_THRESHOLD_PCT = 15.0
LIKE_FOR_LIKE_FIELDS = ("size", "dtype")


@dataclass(frozen=True)
class Spread:
    """A benchmark's median time and interquartile range, in seconds."""

    median: float
    q1: float
    q3: float

    @classmethod
    def from_stats(cls, stats: dict[str, Any]) -> Spread:
        median = float(stats["median"])
        q1, q3 = stats.get("q1"), stats.get("q3")
        if not isinstance(q1, (int, float)) or not isinstance(q3, (int, float)):
            q1 = q3 = median  # no spread saved: the gate falls back to the threshold alone
        return cls(median, float(q1), float(q3))


def change_pct(baseline: Spread, current: Spread) -> float:
    """Change of the median time in percent; positive means the current run is slower."""
    return (current.median - baseline.median) / baseline.median * 100.0


def verdict(baseline: Spread, current: Spread, threshold_pct: float) -> str:
    change = change_pct(baseline, current)
    if change > threshold_pct and baseline.q3 < current.q1:
        return REGRESSION
    if change < -threshold_pct and current.q3 < baseline.q1:
        return IMPROVEMENT
    if abs(change) > threshold_pct:
        return NOISE
    return UNCHANGED


@dataclass(frozen=True)
class Change:
    fullname: str
    name: str
    baseline: Spread
    current: Spread
    verdict: str
    note: str = ""

    @property
    def change_pct(self) -> float:
        return change_pct(self.baseline, self.current)


@dataclass(frozen=True)
class Comparison:
    changes: list[Change]
    only_in_baseline: list[str]
    only_in_current: list[str]
    threshold_pct: float

    def count(self, what: str) -> int:
        return sum(c.verdict == what for c in self.changes)

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.verdict == REGRESSION]


def _unlike(base: dict[str, Any], cur: dict[str, Any]) -> str:
    """Why two entries are not like for like (size or dtype differ), or ''."""
    b, c = base.get("extra_info") or {}, cur.get("extra_info") or {}
    if not isinstance(b, dict) or not isinstance(c, dict):
        return ""
    diffs = [
        f"{f} {b.get(f)} -> {c.get(f)}"
        for f in LIKE_FOR_LIKE_FIELDS
        if f in b and f in c and b.get(f) != c.get(f)
    ]
    return ", ".join(diffs)


def conditions_note(base: dict[str, Any], cur: dict[str, Any]) -> str:
    """How the machine was when either entry was measured, where that makes a change
    untrustworthy: "the machine was busy in the current run", or ''."""
    flagged = {
        which: flags_of(entry.get("extra_info"))
        for which, entry in (("baseline", base), ("current", cur))
    }
    runs = [which for which, flags in flagged.items() if flags]
    if not runs:
        return ""
    flags = sorted(
        {f for which in runs for f in flagged[which]}, key=lambda f: (*FLAGS, f).index(f)
    )
    where = "both runs" if len(runs) == 2 else f"the {runs[0]} run"
    return f"the machine was {', '.join(flags)} in {where}"


def judge_with_conditions(
    change_verdict: str, base: dict[str, Any], cur: dict[str, Any]
) -> tuple[str, str]:
    """A regression or improvement measured under bad conditions becomes ``unreliable``."""
    if change_verdict in (REGRESSION, IMPROVEMENT):
        note = conditions_note(base, cur)
        if note:
            return UNRELIABLE, f"{note}; a {change_verdict} otherwise"
    return change_verdict, ""


def compare_runs(baseline: Run, current: Run, threshold_pct: float) -> Comparison:
    """Match by fullname and judge each pair; ``RunError`` when the runs share no benchmark."""
    base = {b["fullname"]: b for b in baseline.benchmarks}
    cur = {b["fullname"]: b for b in current.benchmarks}
    common = sorted(set(base) & set(cur))
    if not common:
        raise RunError(
            f"{baseline.path} and {current.path} have no benchmark in common "
            f"(matched by fullname: {len(base)} vs {len(cur)} benchmarks, none shared)"
        )
    changes = []
    for fullname in common:
        b, c = Spread.from_stats(base[fullname]["stats"]), Spread.from_stats(cur[fullname]["stats"])
        unlike = _unlike(base[fullname], cur[fullname])
        judged, note = NOT_COMPARABLE, unlike
        if not unlike:
            judged, note = judge_with_conditions(
                verdict(b, c, threshold_pct), base[fullname], cur[fullname]
            )
        changes.append(
            Change(
                fullname=fullname,
                name=str(cur[fullname].get("name") or fullname),
                baseline=b,
                current=c,
                verdict=judged,
                note=note,
            )
        )
    changes.sort(key=lambda c: (VERDICTS.index(c.verdict), c.fullname))
    return Comparison(
        changes=changes,
        only_in_baseline=sorted(set(base) - set(cur)),
        only_in_current=sorted(set(cur) - set(base)),
        threshold_pct=threshold_pct,
    )


def _spread_text(s: Spread) -> str:
    return f"{format_seconds(s.q1)} .. {format_seconds(s.q3)}"


def render(comparison: Comparison, baseline: Run, current: Run) -> str:
    names = [c.name for c in comparison.changes]
    unique = len(set(names)) == len(names)
    header = [
        "benchmark",
        "baseline median",
        "current median",
        "change",
        "baseline q1..q3",
        "current q1..q3",
        "verdict",
    ]
    rows = [
        [
            c.name if unique else c.fullname,
            format_seconds(c.baseline.median),
            format_seconds(c.current.median),
            f"{c.change_pct:+.1f}%",
            _spread_text(c.baseline),
            _spread_text(c.current),
            f"{c.verdict} ({c.note})" if c.note else c.verdict,
        ]
        for c in comparison.changes
    ]
    t = f"{comparison.threshold_pct:g}%"
    lines = [
        f"baseline: {baseline.path} ({baseline.machine}; saved {baseline.saved})",
        f"current:  {current.path} ({current.machine}; saved {current.saved})",
    ]
    if baseline.machine != current.machine:
        lines.append("note: the runs come from different machines; a change may be the machine")
    lines += [
        "",
        f"change of the median time per benchmark (positive: slower); threshold {t}",
        format_table(header, rows),
        "",
        f"regression: slower by more than {t} and the interquartile ranges do not overlap "
        "(baseline q3 < current q1); noise: beyond the threshold but overlapping",
    ]
    if comparison.count(UNRELIABLE):
        lines.append(
            "unreliable: a regression or improvement measured while the machine was busy, on "
            "battery, in Low Power Mode or throttled; re-run on a quiet machine before "
            "believing it"
        )
    counts = ", ".join(f"{comparison.count(v)} {v}" for v in VERDICTS if comparison.count(v))
    lines.append(f"{len(comparison.changes)} compared: {counts}")
    for label, names_left in (
        ("only in baseline", comparison.only_in_baseline),
        ("only in current", comparison.only_in_current),
    ):
        if names_left:
            lines.append(f"{label} ({len(names_left)}): {', '.join(names_left)}")
    for run in (baseline, current):
        if run.malformed:
            lines.append(f"{run.path}: {run.malformed} entries without a median were left out")
    return "\n".join(lines)


def parse_threshold(text: str) -> float:
    """'15%' or '15' -> 15.0 (percent); ValueError with a one-line message otherwise."""
    value = text.strip().removesuffix("%").strip()
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a percentage (e.g. 15%)") from None
    if not 0 <= number < 1e6:  # also refuses nan and inf
        raise ValueError(f"{text!r}: the threshold must be a percentage of 0 or more (e.g. 15%)")
    return number
