"""The report's batch-sweep section: the CPU/accelerator crossover and throughput by batch.

Figures come from ``results.crossover.crossover_rows`` on the run's ``Record`` values, the
same rows the end-of-run summary shows and the saved JSON holds under ``accelbench.crossover``.
"""

from __future__ import annotations

from pathlib import Path

from accelbench.core.saved_form import format_saved
from accelbench.report import plots
from accelbench.report.document import Table
from accelbench.report.page import RunPage
from accelbench.results.crossover import CrossoverRow, crossover_rows, describe_crossover
from accelbench.results.formats import case_words

HEADING = "Batch sweeps: from which batch is the accelerator faster?"


def part(page: RunPage) -> list[Path]:
    """The section, where the run holds a batch sweep; returns the plots."""
    doc, title = page.doc, page.run.machine
    rows = crossover_rows(page.run.records)
    if not rows:
        return []
    doc.heading(3, HEADING)
    doc.paragraph(
        "Each workload ran at batch sizes doubling from 1 (`--sweep batch`). *crossover* is "
        "the smallest batch from which the accelerator's time per item stays below the "
        "CPU's at every larger measured batch, interpolated on log-log axes between the two "
        "measured batches in brackets; *always faster* / *never faster* hold within the "
        "measured range. *90% at* is the first measured batch whose throughput reaches 90% "
        "of that device's best: past it, a larger batch buys little. *latency b=1* is "
        "inference at batch 1 timed one step at a time, each followed by a synchronize (what "
        "one interactive request feels), not the steady-state time per step."
    )
    images: list[Path] = []
    accelerators = [r for r in rows if r.crossover_status]
    if accelerators:
        doc.table(crossover_table(accelerators))
        if any(r.faster_below_crossover for r in accelerators):
            doc.paragraph(
                "*faster below*: batches under the crossover where the accelerator was faster "
                "anyway, then slower again (noise, or a dip); the crossover is taken past the "
                "last batch where it was not faster."
            )
        png = plots.batch_speedup_plot(rows, page.plot_path("batch-speedup.png"), title)
        if png:
            doc.image(png, "Speedup over the CPU against batch size")
            images.append(png)
    elif all(r.key.device == "cpu" for r in rows):
        doc.paragraph("Only the CPU swept: no crossover to show.")
    doc.table(throughput_table(rows))
    png = plots.batch_throughput_plot(rows, page.plot_path("batch-throughput.png"), title)
    if png:
        doc.image(png, "Throughput against batch size per device")
        images.append(png)
    return images


def _case(row: CrossoverRow) -> str:
    return case_words(row.key, "framework", "workload", "variant")


def _speedup_at(row: CrossoverRow, index: int) -> str:
    batch, speedup = row.speedup_batches[index], row.speedup_over_cpu[index]
    return f"{speedup:.2f}x (b={batch})"


def crossover_table(rows: list[CrossoverRow]) -> Table:
    body = [
        [
            _case(r),
            r.key.phase,
            r.key.dtype,
            r.device_label,
            describe_crossover(r).rstrip(" *"),
            _speedup_at(r, 0),
            _speedup_at(r, -1),
            ", ".join(map(str, r.faster_below_crossover)) or "-",
        ]
        for r in rows
    ]
    header = [
        "case",
        "phase",
        "dtype",
        "accelerator",
        "crossover (batch)",
        "speedup, smallest batch",
        "speedup, largest batch",
        "faster below",
    ]
    return Table(header, body, numeric={4, 5, 6})


def throughput_table(rows: list[CrossoverRow]) -> Table:
    body = []
    for r in rows:
        body.append(
            [
                _case(r),
                r.key.phase,
                r.key.dtype,
                r.device_label,
                ", ".join(map(str, r.batches)),
                r.best_cell(),
                str(r.saturation_batch),
                format_saved("latency_batch1_s", r.latency_batch1_s),
            ]
        )
    header = [
        "case",
        "phase",
        "dtype",
        "device",
        "batches",
        "best throughput",
        "90% of best at batch",
        "latency b=1",
    ]
    return Table(header, body, numeric={5, 6, 7})
