"""The "Conditions" part of a run's report: how the machine was during the run, a warning
per condition flag (busy, battery, Low Power Mode, throttled) or one line saying nothing
was flagged; runs saved before conditions were recorded say nothing."""

from __future__ import annotations

from pathlib import Path

from accelbench.report.document import escape
from accelbench.report.page import RunPage
from accelbench.results.record import CONDITION_FLAGS
from accelbench.results.run_block import RunConditions


def part(page: RunPage) -> list[Path]:
    doc, rows, saved = page.doc, page.rows, page.run.block.conditions
    if saved is None and not any(r.flags for r in rows):
        return []
    doc.heading(3, "Conditions")
    warnings = saved.warnings if saved else None
    if warnings is None:
        flagged = [f for f in CONDITION_FLAGS if any(f in r.flags for r in rows)]
        warnings = tuple(f"{f} during {sum(f in r.flags for r in rows)} cases" for f in flagged)
    if warnings:
        doc.paragraph(
            "*Warning:* these figures were measured under conditions that can move them by "
            "far more than any regression threshold; the affected cases are marked in the "
            "*conditions* column."
        )
        doc.bullets([escape(w) for w in warnings])
    else:
        doc.paragraph(
            "Nothing flagged: the machine was not busy, on battery, in Low Power Mode or "
            "throttled during any case."
        )
    if saved is not None:
        doc.bullets(_facts(saved))
    return []


def _facts(saved: RunConditions) -> list[str]:
    facts = []
    if saved.busy_rule is not None:
        facts.append(f"rule: {escape(saved.busy_rule)}")
    if saved.others_cores_max is not None:
        facts.append(
            f"other processes used at most {saved.others_cores_max:.2f} of "
            f"{escape(saved.cores)} cores during a case"
        )
    if saved.load_average_1min is not None:
        facts.append(f"1-minute load average before the run: {saved.load_average_1min:.2f}")
    if saved.cooldown_s:
        facts.append(f"--cooldown {saved.cooldown_s:g} s before each case")
    return facts
