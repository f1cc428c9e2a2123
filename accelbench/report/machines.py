"""The report's "Across machines" part, given runs from several machines: one table and one
plot with a column per device of each run (``views.machine_table``)."""

from __future__ import annotations

from pathlib import Path

from accelbench.core.numbers import format_compact
from accelbench.report import plots
from accelbench.report.document import Document, Table
from accelbench.results.runs import Run
from accelbench.results.views import machine_table


def part(doc: Document, runs: list[Run], out: Path) -> list[Path]:
    table = machine_table(runs)
    doc.heading(2, "Across machines")
    doc.paragraph(
        "Each column is one device of one run, labelled by its chip or GPU. A cell is the "
        "case's throughput (GB/s for the copy ceiling, TFLOP/s for the matmul ceiling); "
        "cases match on framework, workload, variant, phase, dtype, size, mode and memory "
        "format."
    )
    body = [
        [case, unit, *(format_compact(v) for v in values)]
        for case, unit, values in zip(table.cases, table.units, table.values)
    ]
    numeric = set(range(2, 2 + len(table.columns)))
    doc.table(Table(["case", "unit", *table.columns], body, numeric=numeric))
    if table.shared_cases == 0:
        doc.paragraph(
            "The runs have no case in common (same workload, variant, phase, dtype, size and "
            "mode): nothing to compare side by side. Run the same size and dtype on each machine."
        )
        return []
    png = plots.machines_plot(table, out / "machines.png")
    if png is None:
        return []
    doc.image(png, "Throughput across machines, relative to the reference column")
    return [png]
