"""The opening and the closing of a run's report: its title, whether it is partial, what it
measured and on which devices; at the end, the benchmarks it holds without this suite's
figures."""

from __future__ import annotations

from pathlib import Path

from accelbench.report.document import code_span, escape
from accelbench.report.page import RunPage
from accelbench.results.record import device_order, mode_order
from accelbench.results.runs import Run


def heading(page: RunPage) -> list[Path]:
    doc, run, rows = page.doc, page.run, page.rows
    doc.heading(2, page.title)
    if run.partial:
        doc.paragraph(
            f"**Partial run** ({escape(run.partial_reason)}): the run did not go to its end, so "
            "cases are missing and it is not a complete picture of this machine."
        )
    sizes = sorted({r.key.size for r in rows})
    dtypes = sorted({r.key.dtype for r in rows})
    modes = sorted({r.key.mode for r in rows}, key=mode_order)
    doc.paragraph(
        f"{code_span(run.path)} - saved {escape(run.saved)} - size {escape(', '.join(sizes))} - "
        f"dtype {escape(', '.join(dtypes))} - mode {escape(', '.join(modes))} - {len(rows)} "
        "benchmarks. "
        "Times are medians per step in steady state (blocks of k steps, one synchronize each)."
    )
    doc.bullets(_device_lines(run))
    return []


def _device_lines(run: Run) -> list[str]:
    seen = sorted({r.device for r in run.measured}, key=device_order)
    lines = [f"{d}: {run.device_label(d)}" for d in seen]
    for name, facts in run.device_facts().items():
        if name not in seen and facts.get("reason"):
            lines.append(f"{name}: not usable ({facts['reason']})")
    return [escape(line) for line in lines]


def left_out(page: RunPage) -> list[Path]:
    plain = page.run.plain
    if plain:
        page.doc.heading(3, "Left out of this run")
        page.doc.bullets(
            [
                f"{len(plain)} benchmarks without accelbench's extra_info "
                f"(no device, throughput or FLOPs known): {escape(', '.join(plain))}"
            ]
        )
    return []
