"""Saved runs -> a Markdown report, PNG plots and one self-contained HTML page.

Per run, its parts in order (``RUN_PARTS``, each a module of ``accelbench.report``): its
heading and devices (``overview``); the conditions it ran under (``conditions``: a warning
where the machine was busy, on battery, in Low Power Mode or throttled); the ceilings
(``ceilings``); a table per framework and workload (``workloads``); speedup, throughput and
attention plots (``charts``); the batch-sweep crossover (``crossover``); energy
(``energy``); the suite's other summary sections (``sections``). Given runs from several
machines: one table and one plot with a column per chip or GPU (``machines``); over all
runs, data-parallel scaling (``data_parallel``).

Every figure comes from ``accelbench.results.views`` on the runs' ``Record`` values, the
same computation as the end-of-run summary, so the two never disagree; a saved figure
prints as its declaration in ``core.saved_form.FIGURES`` says.

The report is built in a temporary folder beside ``--out`` and swapped in whole: no plot of
an earlier report stays beside a new one, and a failure leaves the earlier report as it was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from accelbench.report import (
    ceilings,
    charts,
    conditions,
    crossover,
    data_parallel,
    energy,
    machines,
    overview,
    sections,
    workloads,
)
from accelbench.report.document import Document, code_span, escape
from accelbench.report.page import Part, RunPage
from accelbench.results import files, views
from accelbench.results.runs import Run, RunError

MARKDOWN_NAME = "report.md"
HTML_NAME = "report.html"
PLAIN_RUN_HINT = (
    "saved by plain pytest-benchmark, not by this suite's benchmarks? "
    "run: pytest benchmarks --benchmark-only --benchmark-autosave"
)


def _is_report_file(path: Path) -> bool:
    """What a report folder holds: report.md, report.html and PNG plots."""
    return path.is_file() and (path.name in (MARKDOWN_NAME, HTML_NAME) or path.suffix == ".png")


def out_folder_problem(out: Path) -> str | None:
    """Why ``out`` cannot take a new report, or None. An existing folder must be writable
    and hold an earlier report only: it is replaced whole, and a user's own files in it
    must not go with it."""
    if out.exists():
        if not out.is_dir():
            return f"{out}: is a file, not a folder: cannot create the report folder there"
        if not os.access(out, os.W_OK | os.X_OK):
            return f"{out}: the report folder is read-only"
        for name in (MARKDOWN_NAME, HTML_NAME):
            if (out / name).exists() and not (out / name).is_file():
                return f"{out / name}: is a folder, not a report file; choose another --out"
        foreign = sorted(p.name for p in out.iterdir() if not _is_report_file(p))
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            return (
                f"{out}: holds files that are not a report's ({shown}); a new report replaces "
                "the folder whole: choose another --out"
            )
    problem = files.creatable_folder_problem(out.parent if str(out.parent) else Path("."))
    return f"{out}: cannot create the report folder: {problem}" if problem else None


# The report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    html: Path
    images: list[Path]


def write_report(
    runs: list[Run], out_dir: str | Path, notes: list[str] | None = None
) -> ReportFiles:
    """Write report.md, report.html and the PNG plots for ``runs`` into ``out_dir``, replacing
    whatever report was there.

    ``RunError`` when no run carries this suite's extra_info, or when ``out_dir`` cannot take
    the report; runs without extra_info are named in the report as left out.
    """
    usable = [r for r in runs if r.measured]
    if not usable:
        raise RunError(
            f"{runs[0].path}: none of its {len(runs[0].records)} benchmarks carries "
            f"accelbench's extra_info ({PLAIN_RUN_HINT})"
        )
    out = Path(out_dir)
    problem = out_folder_problem(out)
    if problem:
        raise RunError(problem)
    names: list[str] = []

    def build(folder: Path) -> None:
        names.extend(p.name for p in _build(runs, usable, folder, notes or []))

    try:
        files.replace_folder(out, build)
    except OSError as exc:
        raise RunError(f"{out}: cannot write the report: {exc.strerror or exc}") from None
    return ReportFiles(
        markdown=out / MARKDOWN_NAME, html=out / HTML_NAME, images=[out / n for n in names]
    )


RUN_PARTS: tuple[Part, ...] = (
    overview.heading,
    conditions.part,
    ceilings.part,
    workloads.part,
    charts.part,
    crossover.part,
    energy.part,
    sections.part,
    overview.left_out,
)


def _build(runs: list[Run], usable: list[Run], out: Path, notes: list[str]) -> list[Path]:
    doc = Document("accelbench report")
    _sources(doc, runs, notes)
    images: list[Path] = []
    several = len(usable) > 1
    for index, run in enumerate(usable, start=1):
        machine = escape(run.machine)
        title = f"Run {index}: {machine}" if several else f"Run: {machine}"
        prefix = f"run{index}-" if several else ""
        page = RunPage(doc, run, title, views.case_rows(run.records), out, prefix)
        images += [png for part in RUN_PARTS for png in part(page)]
    if several:
        images += machines.part(doc, usable, out)
    images += data_parallel.report_section(doc, usable, out)
    (out / MARKDOWN_NAME).write_text(doc.markdown(), encoding="utf-8")
    (out / HTML_NAME).write_text(doc.html(), encoding="utf-8")
    return images


def _sources(doc: Document, runs: list[Run], notes: list[str]) -> None:
    """The runs the report is made from, and those it leaves out (``notes``: the files a
    folder held that are not saved runs)."""
    listing = [
        f"{code_span(r.path)}: {escape(r.machine)}, saved {escape(r.saved)}"
        + (f" - **{escape(r.status)}**" if r.partial else "")
        for r in runs
    ]
    doc.paragraph(f"From {len(runs)} saved run{'s' if len(runs) > 1 else ''}:")
    doc.bullets(listing)
    left_out = [
        f"{code_span(r.path)}: no benchmark carries accelbench's extra_info ({PLAIN_RUN_HINT})"
        for r in runs
        if not r.measured
    ]
    left_out += [escape(note) for note in notes]
    if left_out:
        doc.paragraph("Left out:")
        doc.bullets(left_out)
