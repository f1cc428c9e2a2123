"""The "Other summary sections" part of a run's report: the summary's sections that the
report shows as the summary's tables (``Section.report_text``), computed from the run's
records by the summary's own code; sections saved by a newer suite that this one does not
know, as plain tables of their saved rows."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from accelbench.report.document import Table, code_span
from accelbench.report.page import RunPage
from accelbench.results.views import SECTIONS, summarize


def part(page: RunPage) -> list[Path]:
    summary = summarize(page.run.records)
    tables = [s.text(summary[s.key]) for s in SECTIONS if s.report_text and summary[s.key]]
    unknown = [
        (key, rows) for key, rows in page.run.block.sections.items() if key not in summary and rows
    ]
    if not tables and not unknown:
        return []
    page.doc.heading(3, "Other summary sections")
    for table in tables:
        page.doc.code(table)
    for key, rows in unknown:
        page.doc.paragraph(f"{code_span(key)} (as saved in the run):")
        page.doc.table(_as_saved(rows))
    return []


def _as_saved(rows: tuple[Mapping[str, Any], ...]) -> Table:
    header = list(dict.fromkeys(str(k) for r in rows for k in r))
    return Table(header, [[_value(r.get(k)) for k in header] for r in rows])


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if math.isfinite(value) else str(value)
    return f"{value!s:.200}"
