"""Data-parallel scaling: how close k workers come to k times one worker.

Weak scaling: every worker trains on a batch of the same shape, so ideally a step takes as
long with k workers as with one, and the group processes k times the items. The
**efficiency** of k workers is the baseline's median time per step over the k-worker
case's. The baseline is, in this order: the one-worker case of the same model in the same
run (every launch measures it: ``core.launch.worker_counts``), the one-worker case from
another run given to the report, or the plain single-device case of the same model in the
same run; each row says which. The **all-reduce share** is the part of a step spent waiting
for the gradient all-reduce (what DDP cannot hide behind the backward pass): one minus the
time of a step with DDP's ``no_sync`` over the time of a synchronized step, measured in
alternating rounds. At one worker, ``vs single device`` is what DDP itself costs: its
median over the plain single-device case's, minus one.

A data-parallel case is a ``Record`` with ``data_parallel`` figures; its worker count is
a field of its variant (``workers=2``), so each worker count is a case of its own. A series
is the case's key with that field removed from the variant; the single-device case of its
model is the series' key with the model as the workload. Rows are ``DataParallelRow``
values, saved under ``accelbench.data_parallel`` (``Row.as_saved``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from accelbench.core.launch import WORKERS_KEY
from accelbench.core.numbers import format_seconds, format_signed_share
from accelbench.core.saved_form import format_saved
from accelbench.core.spec import CaseSpec, without_field
from accelbench.results.formats import case_words, format_table
from accelbench.results.record import Record
from accelbench.results.section import Row, Section

ONE_WORKER = "1 worker"
ONE_WORKER_ELSEWHERE = "1 worker, another run"
SINGLE_DEVICE = "single device"


def _curves(records: Iterable[Record]) -> dict[CaseSpec, dict[int, Record]]:
    """Data-parallel records by series (the key without the worker count), then by worker
    count."""
    curves: dict[CaseSpec, dict[int, Record]] = {}
    for r in records:
        if r.key is not None and r.data_parallel is not None:
            series = r.key.replace(variant=without_field(r.key.variant, WORKERS_KEY))
            curves.setdefault(series, {})[r.data_parallel.workers] = r
    return curves


def _single_device(records: Iterable[Record]) -> dict[CaseSpec, Record]:
    """Single-device records (not data-parallel), by their key."""
    return {r.key: r for r in records if r.key is not None and r.data_parallel is None}


@dataclass(frozen=True)
class DataParallelRow(Row):
    """One data-parallel case (``key``: its series, the worker count left out of the
    variant): its figures, its efficiency against ``baseline`` (which kind of baseline,
    None without one), and at one worker DDP's own cost against the single-device case."""

    model: str
    workers: int
    device_label: str | None
    backend: str | None
    hosts: int | None
    item_unit: str
    median_s: float
    throughput_per_s: float | None
    throughput_per_worker_per_s: float | None
    baseline: str | None
    baseline_median_s: float | None
    efficiency: float | None
    allreduce_exposed_share: float | None
    vs_single_device: float | None

    def figure_cells(self) -> list[str]:
        """Median, throughput, per worker, efficiency, baseline, all-reduce, vs single
        device: as the summary and the report show them."""
        unit = self.item_unit
        return [
            format_seconds(self.median_s),
            format_saved("throughput_per_s", self.throughput_per_s, unit),
            format_saved("throughput_per_worker_per_s", self.throughput_per_worker_per_s, unit),
            f"{self.efficiency:.0%}" if self.efficiency else "-",
            self.baseline or "-",
            format_saved("allreduce_exposed_share", self.allreduce_exposed_share),
            format_signed_share(self.vs_single_device),
        ]


def _elsewhere(others: Sequence[Iterable[Record]]) -> dict[CaseSpec, Record]:
    """The one-worker case of each series in other runs (the first run that has it)."""
    found: dict[CaseSpec, Record] = {}
    for other in others:
        for key, points in _curves(other).items():
            if 1 in points:
                found.setdefault(key, points[1])
    return found


def _baseline(
    series: CaseSpec,
    points: dict[int, Record],
    elsewhere: dict[CaseSpec, Record],
    single: Record | None,
) -> tuple[Record | None, str]:
    """The series' baseline and its kind, in the order of the module docstring."""
    if 1 in points:
        return points[1], ONE_WORKER
    if series in elsewhere:
        return elsewhere[series], ONE_WORKER_ELSEWHERE
    return single, SINGLE_DEVICE


def data_parallel_rows(
    records: Iterable[Record], others: Sequence[Iterable[Record]] = ()
) -> list[DataParallelRow]:
    """One row per data-parallel case: figures, efficiency and its baseline.

    ``others``: records of other runs, consulted for a one-worker baseline this run lacks.
    """
    records = list(records)
    singles, elsewhere = _single_device(records), _elsewhere(others)
    rows = []
    for series, points in sorted(_curves(records).items(), key=lambda item: item[0].sort_key()):
        model = next(iter(points.values())).data_parallel.model  # type: ignore[union-attr]
        single = singles.get(series.replace(workload=model))
        baseline, kind = _baseline(series, points, elsewhere, single)
        base_s = baseline.median_s if baseline else None
        rows += [
            _row(series, model, points[k], single, kind if base_s else None, base_s)
            for k in sorted(points)
        ]
    return rows


def _row(
    series: CaseSpec,
    model: str,
    record: Record,
    single: Record | None,
    baseline: str | None,
    base_s: float | None,
) -> DataParallelRow:
    figures = record.data_parallel
    assert figures is not None
    return DataParallelRow(
        series,
        model=model,
        workers=figures.workers,
        device_label=record.device_label,
        backend=figures.backend,
        hosts=figures.hosts,
        item_unit=record.item_unit,
        median_s=record.median_s,
        throughput_per_s=record.throughput_per_s,
        throughput_per_worker_per_s=figures.throughput_per_worker_per_s,
        baseline=baseline,
        baseline_median_s=base_s,
        efficiency=base_s / record.median_s if base_s else None,
        allreduce_exposed_share=figures.allreduce_exposed_share,
        vs_single_device=(
            record.median_s / single.median_s - 1 if single and figures.workers == 1 else None
        ),
    )


def render(rows: list[DataParallelRow]) -> str:
    """One line per data-parallel case: its figures, scaling efficiency and baseline."""
    if not rows:
        return ""
    header = ["case", "phase", "dtype", "device", "backend", "workers", "median"]
    header += ["throughput", "per worker", "efficiency", "baseline", "all-reduce"]
    header.append("vs single device")
    body = []
    for r in rows:
        case = case_words(r.key, "framework", "workload", "variant")
        body.append([case, r.key.phase, r.key.dtype, r.key.device, r.backend or "-"])
        body[-1] += [str(r.workers), *r.figure_cells()]
    title = (
        "data-parallel scaling (same batch per worker; efficiency: the baseline's median "
        "time per step over k workers'; all-reduce: share of the step waiting for the "
        "gradient all-reduce; vs single device: DDP's cost at one worker)"
    )
    return f"{title}\n{format_table(header, body)}"


DATA_PARALLEL = Section(
    "data_parallel", DataParallelRow, data_parallel_rows, render, report_text=False
)
