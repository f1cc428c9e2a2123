"""What the parts of a run's report draw on, and what each part is.

A run's report is its parts in order (``report.build.RUN_PARTS``): each takes the
``RunPage`` (the document, the run, its case rows, where its plots go) and returns the
plots it wrote. A part that has nothing to show adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from accelbench.report.document import Document
from accelbench.results.formats import format_speedup
from accelbench.results.runs import Run
from accelbench.results.views import CaseRow

NOT_APPLICABLE = "—"  # the CPU's own speedup over the CPU: it is the reference


@dataclass(frozen=True)
class RunPage:
    """One run's part of the report. ``title``: the run's heading; ``prefix``: before each
    plot's file name, where several runs share the report's folder (``run2-``)."""

    doc: Document
    run: Run
    title: str
    rows: list[CaseRow]
    out: Path
    prefix: str = ""

    def plot_path(self, name: str) -> Path:
        return self.out / f"{self.prefix}{name}"

    def image(self, png: Path | None, alt: str) -> list[Path]:
        """The plot in the document, where one was drawn."""
        if png is None:
            return []
        self.doc.image(png, alt)
        return [png]


Part = Callable[[RunPage], list[Path]]


def speedup_cell(device: str, value: float | None) -> str:
    """A speedup over the CPU; for the CPU itself, the reference, none."""
    return NOT_APPLICABLE if device == "cpu" else format_speedup(value)
