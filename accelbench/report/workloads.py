"""The workload tables of a run's report: one per framework and workload, a row per case
and device (median, IQR, throughput, TFLOP/s, share of the matmul ceiling, speedup over the
CPU; compile time where a case was compiled, GB/s and share of the copy ceiling where a
workload counts its bytes, the conditions where any case was flagged); then what the
tables' marks and gaps mean."""

from __future__ import annotations

from pathlib import Path

from accelbench.core.numbers import format_figure, format_seconds
from accelbench.core.saved_form import format_saved
from accelbench.core.spec import EAGER
from accelbench.report.document import Markup, Table, escape
from accelbench.report.page import RunPage, speedup_cell
from accelbench.results.formats import format_bounded_share
from accelbench.results.record import NOISY_IQR_SHARE
from accelbench.results.views import CaseRow

HEADER = [
    "phase",
    "variant",
    "mode",
    "dtype",
    "size",
    "device",
    "median",
    "IQR",
    "throughput",
    "TFLOP/s",
    "of ceiling",
    "speedup over CPU",
]


def part(page: RunPage) -> list[Path]:
    doc, rows = page.doc, page.rows
    groups: dict[tuple[str, str], list[CaseRow]] = {}
    for row in rows:
        if not row.ceiling:
            groups.setdefault((row.key.framework, row.key.workload), []).append(row)
    flagged = any(r.flags for r in rows)
    for (framework, workload), group in groups.items():
        doc.heading(3, escape(f"{framework} {workload}"))
        doc.table(_table(group, flagged))
    if any(r.noisy for r in rows):
        doc.paragraph(
            f"*noisy*: the IQR is over {NOISY_IQR_SHARE:.0%} of the median; re-run at a larger "
            "size or on a quieter machine before trusting a difference."
        )
    if not any(r.device == "cpu" for r in rows):
        doc.paragraph("No CPU case in this run: no speedup over the CPU.")
    elif all(r.device == "cpu" for r in rows):
        doc.paragraph(
            "Only the CPU ran (no usable accelerator; see the devices above): no speedup to show."
        )
    return []


def _table(rows: list[CaseRow], flagged: bool) -> Table:
    """A mode column (eager, compile, eager channels_last), and where any case was compiled,
    its compilation time (outside the timed rounds); two columns more where a workload
    counts the bytes it moves (a decoded token), one where any case of the run was
    measured under bad conditions (busy, battery, low-power, throttled)."""
    compiled = any(r.key.mode != EAGER for r in rows)
    bandwidth = any(r.bytes_per_s for r in rows)
    header = [*HEADER, *(["compile time"] if compiled else [])]
    header += ["GB/s", "of copy ceiling"] if bandwidth else []
    numeric = set(range(6, len(header)))
    header += ["conditions"] if flagged else []
    body = [_cells(r, compiled, bandwidth, flagged) for r in rows]
    return Table(header, body, numeric=numeric)


def _cells(r: CaseRow, compiled: bool, bandwidth: bool, flagged: bool) -> list[str]:
    iqr = "-"
    if r.iqr_s is not None:
        iqr = f"{format_seconds(r.iqr_s)} ({r.iqr_s / r.median_s:.0%})"
        iqr = Markup(iqr + " *noisy*") if r.noisy else iqr
    cells = [
        r.key.phase,
        r.key.variant or "-",
        r.key.execution,
        r.key.dtype,
        r.key.size,
        r.device_label,
        format_seconds(r.median_s),
        iqr,
        r.throughput_cell(),
        format_saved("tflops_per_s", r.tflops_per_s),
        format_bounded_share(r.matmul_share.value, r.matmul_share.mark),
        speedup_cell(r.device, r.speedup),
    ]
    cells += [format_saved("compile_time_s", r.compile_time_s)] if compiled else []
    if bandwidth:
        cells.append(format_figure((r.bytes_per_s or 0) / 1e9))
        cells.append(format_bounded_share(r.copy_share.value, r.copy_share.mark))
    if flagged:
        cells.append(Markup(", ".join(f"*{escape(flag)}*" for flag in r.flags) or "-"))
    return cells
