"""The "Ceilings" part of a run's report: per device and dtype, the measured matmul
TFLOP/s and copy GB/s (``results.shares``) that the workload tables' shares are taken
against, with each ceiling's speedup over the CPU and its marks."""

from __future__ import annotations

from pathlib import Path

from accelbench.core.ceilings import COPY, MATMUL
from accelbench.core.numbers import format_figure
from accelbench.core.saved_form import format_saved
from accelbench.report.document import Table
from accelbench.report.page import RunPage, speedup_cell
from accelbench.results.record import device_order
from accelbench.results.shares import CeilingFigures, ceilings
from accelbench.results.views import CaseRow

HEADER = [
    "device",
    "dtype",
    "matmul",
    "matmul TFLOP/s",
    "matmul vs CPU",
    "copy (read+write)",
    "copy GB/s",
    "copy vs CPU",
    "marks",
]
NOTE = (
    "Each ceiling is its case's fastest round. A workload's *of ceiling* is its TFLOP/s "
    "over the matmul TFLOP/s of the same device and dtype in this run; *of copy ceiling*, "
    "for a workload that counts the bytes it moves, its GB/s over the copy GB/s. Copy "
    "bandwidth counts bytes read plus bytes written. A case faster than its ceiling gets "
    "no share but *over* and the reason (ceiling busy or noisy, too small, or below the "
    "case)."
)


def part(page: RunPage) -> list[Path]:
    page.doc.heading(3, "Ceilings")
    peaks = ceilings(page.run.records)
    if not peaks:
        page.doc.paragraph(
            "No ceiling in this run, so no share of peak: add `benchmarks/test_ceiling.py` "
            "(a large matmul and a large copy per device) to the run."
        )
        return []
    page.doc.table(_table(peaks, page.rows))
    note = NOTE
    if any(r.ceiling and r.key.size == "smoke" for r in page.rows):
        note += " At the smoke size both fit in caches: these are not the machine's real peaks."
    page.doc.paragraph(note)
    return []


def _table(peaks: dict[tuple[str, str], CeilingFigures], rows: list[CaseRow]) -> Table:
    speedup = {(r.device, r.key.dtype, r.key.variant): r.speedup for r in rows if r.ceiling}
    body = []
    for (device, dtype), p in sorted(peaks.items(), key=lambda kv: device_order(kv[0][0])):
        body.append(
            [
                p.label,
                dtype,
                format_saved("matmul_n", p.matmul_n),
                format_saved("tflops_per_s", p.matmul_tflops),
                speedup_cell(device, speedup.get((device, dtype, MATMUL))),
                format_saved("bytes_per_step", p.copy_bytes),
                format_figure(p.copy_gb_per_s),
                speedup_cell(device, speedup.get((device, dtype, COPY))),
                ", ".join(m for m in (p.matmul_mark, p.copy_mark) if m) or "-",
            ]
        )
    return Table(HEADER, body, numeric={3, 4, 5, 6, 7})
