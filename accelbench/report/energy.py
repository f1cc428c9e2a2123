"""The "Energy" part of a run's report: joules per step and items per joule (images/J,
tokens/J) where the run measured energy; else the reason the accelerator cases give (e.g.
macOS without sudo powermetrics)."""

from __future__ import annotations

from pathlib import Path

from accelbench.core.saved_form import format_saved
from accelbench.report import plots
from accelbench.report.document import Table, escape
from accelbench.report.page import RunPage
from accelbench.results.views import CaseRow

HEADER = ["case", "dtype", "device", "J per step", "per joule", "mean W"]
HEADER += ["counter / integrated power"]
NOTE = (
    "Energy over the timed rounds from NVML's total energy counter (the whole board, idle "
    "power included); the last column divides it by the board power sampled every 20 ms "
    "and integrated over the same rounds (near 1: the two agree). *coarse*: a window under "
    "1 s, where the counter's ~100 ms ticks matter."
)


def part(page: RunPage) -> list[Path]:
    measured = [r for r in page.rows if r.energy and r.energy.measured]
    reasons = sorted(
        {
            r.energy.reason
            for r in page.rows
            if r.energy and not r.energy.measured and r.device != "cpu"
        }
    )
    if not measured and not reasons:
        return []
    page.doc.heading(3, "Energy")
    if not measured:
        page.doc.paragraph(escape("; ".join(reasons) + "."))
        return []
    page.doc.table(Table(HEADER, [_cells(r) for r in measured], numeric={3, 4, 5, 6}))
    page.doc.paragraph(NOTE)
    png = plots.energy_plot(measured, page.plot_path("energy.png"), page.run.machine)
    return page.image(png, "Items per joule per device")


def _cells(r: CaseRow) -> list[str]:
    e, k = r.energy, r.key
    assert e is not None
    joules = format_saved("energy.joules_per_step", e.joules_per_step)
    return [
        k.label,
        k.dtype,
        r.device_label,
        joules + (" (coarse)" if e.coarse else ""),
        f"{format_saved('energy.items_per_joule', e.items_per_joule)} {r.item_unit}/J",
        format_saved("energy.mean_power_w", e.mean_power_w),
        f"{e.counter_check:.2f}" if e.counter_check else "-",
    ]
