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
model is the series' key with the model as the workload. Rows are plain dicts: they land in
the saved JSON as they are (``accelbench.data_parallel``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from accelbench.core.launch import WORKERS_KEY
from accelbench.core.spec import CaseSpec, without_field
from accelbench.results.record import Record

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


def data_parallel_rows(
    records: Iterable[Record], others: Sequence[Iterable[Record]] = ()
) -> list[dict[str, Any]]:
    """One row per data-parallel case: figures, efficiency and its baseline.

    ``others``: records of other runs, consulted for a one-worker baseline this run lacks.
    """
    records = list(records)
    curves = _curves(records)
    singles = _single_device(records)
    elsewhere: dict[CaseSpec, Record] = {}
    for other in others:
        for key, points in _curves(other).items():
            if 1 in points:
                elsewhere.setdefault(key, points[1])
    rows = []
    for series, points in sorted(curves.items(), key=lambda item: item[0].sort_key()):
        model = next(iter(points.values())).data_parallel.model  # type: ignore[union-attr]
        single = singles.get(series.replace(workload=model))
        baseline, kind = points.get(1), ONE_WORKER
        if baseline is None:
            baseline, kind = elsewhere.get(series), ONE_WORKER_ELSEWHERE
        if baseline is None:
            baseline, kind = single, SINGLE_DEVICE
        base_s = baseline.median_s if baseline else None
        for workers in sorted(points):
            record = points[workers]
            figures = record.data_parallel
            assert figures is not None
            row: dict[str, Any] = series.as_dict()
            row.update(
                model=model,
                workers=workers,
                device_label=record.device_label,
                backend=figures.backend,
                hosts=figures.hosts,
                item_unit=record.item_unit,
                median_s=record.median_s,
                throughput_per_s=record.throughput_per_s,
                throughput_per_worker_per_s=figures.throughput_per_worker_per_s,
                baseline=kind if base_s else None,
                baseline_median_s=base_s,
                efficiency=base_s / record.median_s if base_s else None,
                allreduce_exposed_share=figures.allreduce_exposed_share,
                vs_single_device=(
                    record.median_s / single.median_s - 1 if single and workers == 1 else None
                ),
            )
            rows.append(row)
    return rows
