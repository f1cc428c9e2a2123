"""What changed between two saved runs, with a verdict that respects noise.

Benchmarks are matched by fullname (``path::test[params]``), as pytest-benchmark's own
``--benchmark-compare`` matches them, and are comparable only when their whole identity
matches (framework, workload, phase, variant, device, dtype, size, mode, memory format,
batch): the fullname
does not carry the size or the dtype. A change is the current median time against the
baseline's, in percent (positive: slower). The verdict:

- ``regression``: slower by more than the threshold, and the two interquartile ranges do
  not overlap (the baseline's q3 is below the current q1);
- ``improvement``: faster by more than the threshold, and the current q3 is below the
  baseline's q1;
- ``noise``: beyond the threshold, but the spreads overlap, so the runs cannot tell;
- ``unchanged``: within the threshold;
- ``not comparable``: the two entries differ in identity (e.g. size smoke -> standard);
- ``unreliable``: a regression or an improvement, but either run's record was measured while
  the machine was busy, on battery, in Low Power Mode or throttled (its condition flags,
  ``Record.condition_flags``): the change may be the machine, not the code. It does not
  fail ``--fail-on regression``.
- ``unstable``: either run's rounds are unstable (bimodal, too spread or too few; the rule
  is ``accelbench.core.stability``), so its median cannot carry a verdict; never a
  regression or an improvement, whatever the change.
- ``not comparable`` too: rounds of k steps that differ more than twice between the runs
  (``timed_differently``): one measured a step's latency, the other its steady state.
- ``not gated``: a smoke-size case: its steps are so short that a shared machine moves them
  by orders of magnitude; gate material only when asked (``--gate-smoke``).

Either run holding the same benchmark twice, or a median that is not a measurement (0,
subnormal, infinite), is refused with one line (``RunError``): no verdict from such evidence.

Works on any pytest-benchmark run; this suite's identity is used where present.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from accelbench.core.conditions import FLAG_WORDS
from accelbench.core.numbers import format_seconds
from accelbench.results.formats import format_table
from accelbench.results.record import Record
from accelbench.results.runs import Run, RunError

REGRESSION = "regression"
IMPROVEMENT = "improvement"
NOISE = "noise"
UNCHANGED = "unchanged"
NOT_COMPARABLE = "not comparable"
UNRELIABLE = "unreliable"
UNSTABLE = "unstable"
NOT_GATED = "not gated"
VERDICTS = (  # report order
    REGRESSION,
    IMPROVEMENT,
    UNRELIABLE,
    UNSTABLE,
    NOISE,
    NOT_COMPARABLE,
    NOT_GATED,
    UNCHANGED,
)
DEFAULT_THRESHOLD_PCT = 15.0
SMOKE_SIZE = "smoke"
MAX_BLOCK_RATIO = 2  # steps per round may differ this much between runs, and no more
GATE_SMOKE_HINT = "smoke size, never gated unless asked (--gate-smoke)"


@dataclass(frozen=True)
class Spread:
    """A benchmark's median time and interquartile range, in seconds."""

    median: float
    q1: float
    q3: float

    @classmethod
    def of(cls, record: Record) -> Spread:
        """The record's spread; without saved quartiles the gate falls back to the threshold
        alone (quartiles are validated when the run is read: never NaN here)."""
        s = record.stats
        if s.q1 is None or s.q3 is None:
            return cls(s.median, s.median, s.median)
        return cls(s.median, s.q1, s.q3)


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


def not_comparable(baseline: Record, current: Record) -> str:
    """Why two records of the same test are not like for like ("size smoke -> standard"),
    or "" when they are (or when either has no identity to tell)."""
    if baseline.key is None or current.key is None:
        return ""
    return ", ".join(baseline.key.differences(current.key))


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


def conditions_note(baseline: Record, current: Record) -> str:
    """How the machine was when either record was measured, where that makes a change
    untrustworthy: "the machine was busy in the current run", or ''."""
    flagged = {"baseline": baseline.condition_flags, "current": current.condition_flags}
    runs = [which for which, flags in flagged.items() if flags]
    if not runs:
        return ""
    flags = [f for f in FLAG_WORDS if any(f in flagged[which] for which in runs)]
    where = "both runs" if len(runs) == 2 else f"the {runs[0]} run"
    return f"the machine was {', '.join(FLAG_WORDS[f] for f in flags)} in {where}"


def unstable_note(baseline: Record, current: Record) -> str:
    """Why either record's rounds cannot carry a verdict ("bimodal rounds: ... in the
    current run"), or ''."""
    notes = [
        f"{record.stability_reason or 'unstable rounds'} in the {which} run"
        for which, record in (("baseline", baseline), ("current", current))
        if record.unstable
    ]
    return "; ".join(notes)


def timed_differently(baseline: Record, current: Record) -> str:
    """Why two records' medians measure different things, or '': rounds of k steps that
    differ more than ``MAX_BLOCK_RATIO``-fold between the runs. A round of one step measures
    a step's latency, a round of many its steady state (the device, or the CPU's thread
    pool, kept busy between steps); for a tiny step the two differ by several times."""
    k_then, k_now = baseline.steps_per_round, current.steps_per_round
    if not k_then or not k_now or max(k_then, k_now) <= MAX_BLOCK_RATIO * min(k_then, k_now):
        return ""
    return (
        f"timed in rounds of {k_then} step{'s' * (k_then > 1)} in the baseline run and "
        f"{k_now} in the current run: steady state against latency"
    )


def not_gate_material(baseline: Record, current: Record, gate_smoke: bool) -> tuple[str, str]:
    """(verdict, why) for a comparable pair that must not reach a gate: ``unstable`` rounds in
    either run, rounds of very different lengths (``not comparable``), or a smoke-size case
    unless ``gate_smoke``; ("", "") for gate material."""
    note = unstable_note(baseline, current)
    if note:
        return UNSTABLE, note
    note = timed_differently(baseline, current)
    if note:
        return NOT_COMPARABLE, note
    if not gate_smoke and SMOKE_SIZE in (
        baseline.key.size if baseline.key else "",
        current.key.size if current.key else "",
    ):
        return NOT_GATED, GATE_SMOKE_HINT
    return "", ""


def duplicates(run: Run) -> list[str]:
    """The fullnames ``run`` holds more than once."""
    counts = Counter(r.fullname for r in run.records)
    return sorted(name for name, n in counts.items() if n > 1)


def judge_with_conditions(
    change_verdict: str, baseline: Record, current: Record
) -> tuple[str, str]:
    """A regression or improvement measured under bad conditions becomes ``unreliable``."""
    if change_verdict in (REGRESSION, IMPROVEMENT):
        note = conditions_note(baseline, current)
        if note:
            article = "an" if change_verdict == IMPROVEMENT else "a"
            return UNRELIABLE, f"{note}; {article} {change_verdict} otherwise"
    return change_verdict, ""


def compare_runs(
    baseline: Run, current: Run, threshold_pct: float, gate_smoke: bool = False
) -> Comparison:
    """Match by fullname and judge each pair; ``RunError`` when the runs share no benchmark
    or either holds a benchmark twice (which copy would the verdict be of?)."""
    for run in (baseline, current):
        twice = duplicates(run)
        if twice:
            more = f" (and {len(twice) - 1} more)" if len(twice) > 1 else ""
            raise RunError(
                f"{run.path}: holds {twice[0]} more than once{more}; "
                "not a usable saved run (one entry per benchmark)"
            )
    base = {r.fullname: r for r in baseline.records}
    cur = {r.fullname: r for r in current.records}
    common = sorted(set(base) & set(cur))
    if not common:
        raise RunError(
            f"{baseline.path} and {current.path} have no benchmark in common "
            f"(matched by fullname: {len(base)} vs {len(cur)} benchmarks, none shared)"
        )
    changes = []
    for fullname in common:
        b, c = Spread.of(base[fullname]), Spread.of(cur[fullname])
        unlike = not_comparable(base[fullname], cur[fullname])
        judged, note = NOT_COMPARABLE, unlike
        if not unlike:
            judged, note = not_gate_material(base[fullname], cur[fullname], gate_smoke)
        if not judged:
            judged, note = judge_with_conditions(
                verdict(b, c, threshold_pct), base[fullname], cur[fullname]
            )
        changes.append(
            Change(
                fullname=fullname,
                name=cur[fullname].name,
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


def _run_line(label: str, run: Run) -> str:
    status = f"; {run.status.upper()}" if run.partial else ""
    return f"{label}{run.path} ({run.machine}; saved {run.saved}{status})"


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
    lines = [_run_line("baseline: ", baseline), _run_line("current:  ", current)]
    if baseline.machine != current.machine:
        lines.append("note: the runs come from different machines; a change may be the machine")
    for label, run in (("baseline", baseline), ("current", current)):
        if run.partial:
            lines.append(
                f"note: the {label} run is partial ({run.partial_reason}): "
                "cases it lacks are listed as only in the other run"
            )
    lines += [
        "",
        f"change of the median time per benchmark (positive: slower); threshold {t}",
        format_table(header, rows),
        "",
        f"regression: slower by more than {t} and the interquartile ranges do not overlap "
        "(baseline q3 < current q1); noise: beyond the threshold but overlapping",
    ]
    if comparison.count(UNSTABLE):
        lines.append(
            "unstable: rounds that cannot carry a verdict (bimodal, spread or too few; "
            "accelbench.core.stability), never counted as a regression or an improvement"
        )
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
    return "\n".join(lines)


# ASCII digits only: float() also takes other scripts' digits ("\u0661\u0665") and "1_5".
_PERCENTAGE = re.compile(r"\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*%?\s*")


def parse_threshold(text: str) -> float:
    """'15%' or '15' -> 15.0 (percent); ValueError with a one-line message otherwise."""
    if not _PERCENTAGE.fullmatch(text):
        raise ValueError(f"{text!r} is not a percentage (e.g. 15%)")
    number = float(text.strip().removesuffix("%").strip())
    if not 0 <= number < 1e6:  # also refuses nan and inf
        raise ValueError(f"{text!r}: the threshold must be a percentage of 0 or more (e.g. 15%)")
    return number
