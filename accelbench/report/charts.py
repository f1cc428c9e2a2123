"""The "Plots" part of a run's report: speedup and throughput bars per case (a sweep at its
largest point) and, where the run swept sequence lengths, attention time against length
with the fitted exponents of the scaling section."""

from __future__ import annotations

from pathlib import Path

from accelbench.core.spec import BATCH_KEY, LENGTH_KEY
from accelbench.report import plots
from accelbench.report.document import Table
from accelbench.report.page import RunPage
from accelbench.results.figures import sweep_points
from accelbench.results.formats import format_exponent
from accelbench.results.views import attention_series, bar_rows


def part(page: RunPage) -> list[Path]:
    doc, rows, title = page.doc, page.rows, page.run.machine
    doc.heading(3, "Plots")
    bars = bar_rows(rows)
    kept = set(bars)
    swept = {field for r in rows if r not in kept for field, _ in sweep_points(r.key)}
    if LENGTH_KEY in swept:
        doc.paragraph("Bar charts show each sequence-length sweep at its longest length only.")
    if BATCH_KEY in swept:
        doc.paragraph("Bar charts show each batch sweep at its largest batch only.")
    png = plots.speedup_plot(bars, page.plot_path("speedup.png"), title)
    images = page.image(png, "Speedup over the CPU per workload")
    images += _attention(page)
    path = page.plot_path("throughput.png")
    png = plots.throughput_plot([r for r in bars if not r.ceiling], path, title)
    return images + page.image(png, "Throughput per device")


def _attention(page: RunPage) -> list[Path]:
    series = attention_series(page.run.records)
    if not series:
        return []
    png = plots.attention_plot(series, page.plot_path("attention.png"), page.run.machine)
    images = page.image(png, "Attention time against sequence length (log-log)")
    body = [[s.label, ", ".join(map(str, s.lengths)), format_exponent(s.slope)] for s in series]
    header = ["implementation and device", "lengths", "fitted slope (time ~ L^p)"]
    page.doc.table(Table(header, body, numeric={2}))
    return images
