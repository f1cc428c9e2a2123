"""The end-of-run summary as text: the headline first (``render_headline``: each section's
headline lines, or one line saying why there is no speedup), then every section of
``views.SECTIONS`` as its table (``Section.text``). In a run where no accelerator was
measured, the columns no row has a value in are folded away in every section's table, so
nobody reads rows of dashes. Numbers and tables themselves are ``results.formats``'.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from accelbench.results import views
from accelbench.results.formats import folded_columns, format_table


def render_generic(rows: list[dict[str, Any]]) -> str:
    """A section without a renderer of its own: its rows as a plain table."""
    header = list(dict.fromkeys(str(k) for r in rows for k in r))
    body = [[_generic_cell(r.get(k)) for k in header] for r in rows]
    return format_table(header, body)


def _generic_cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return f"{value!s:.60}"


def render_all(computed: Mapping[str, list[Any]]) -> str:
    """Every section with rows (as ``views.compute_all`` saves them), in ``views.SECTIONS``
    order, then any other computed one; in a run where no accelerator was measured, each
    table without its empty columns."""
    return render_summary(views.load(computed))


def render_summary(summary: Mapping[str, list[Any]]) -> str:
    """``render_all`` of typed rows (``views.summarize``)."""
    fold = folded_columns() if not views.accelerator_measured(summary) else contextlib.nullcontext()
    parts = []
    with fold:
        for key, rows in summary.items():
            section = views.section(key)
            if rows:
                parts.append(section.text(rows) if section else f"{key}\n{render_generic(rows)}")
    return "\n\n".join(p for p in parts if p)


def render_headline(
    computed: Mapping[str, list[Any]],
    accelerators_asked: Sequence[str] = (),
    unusable: dict[str, list[str]] | None = None,
) -> str:
    """The answer first: each section's headline lines (the speedups: per workload and phase,
    each accelerator's speedup over the CPU); or one line saying why there is none (only the
    CPU asked for, or no accelerator usable, and why)."""
    summary = views.load(computed)
    lines = [line for s in views.SECTIONS for line in s.headline_lines(summary.get(s.key) or [])]
    if lines:
        return "\n".join(lines)
    if not any(rows for rows in summary.values()):
        return ""
    if not accelerators_asked:
        return "headline: only the CPU was asked for (--devices cpu): no speedup to give"
    if not views.accelerator_measured(summary):
        return f"headline: no accelerator was usable, so no speedup{_unusable(unusable or {})}"
    return "headline: no CPU case ran beside the accelerator, so no speedup"


def _unusable(unusable: dict[str, list[str]]) -> str:
    """``: mps: not built | cuda: no driver``: why each accelerator could not run."""
    reasons = [
        f"{device}: {'; '.join(sorted(set(why)))}"
        for device, why in sorted(unusable.items())
        if device != "cpu" and why
    ]
    return f": {' | '.join(reasons)}" if reasons else ""
