"""Data-parallel scaling: how close k workers come to k times one worker.

Weak scaling: every worker trains on a batch of the same shape, so ideally a step takes as
long with k workers as with one, and the group processes k times the items. The
**efficiency** of k workers is the baseline's median time per step over the k-worker
case's. The baseline is, in this order: the one-worker case of the same model in the same
run (every launch measures it: ``launch.worker_counts``), the one-worker case from another
run given to the report, or the plain single-device case of the same model in the same
run; each row says which. The **all-reduce share** is the part of a step spent waiting
for the gradient all-reduce (what DDP cannot hide behind the backward pass): one minus the
time of a step with DDP's ``no_sync`` over the time of a synchronized step, measured in
alternating rounds. At one worker, ``vs single device`` is what DDP itself costs: its
median over the plain single-device case's, minus one.

Records are shaped like the entries of pytest-benchmark's saved JSON, as in summary.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from accelbench.launch import parse_workers_variant

# The fields that, with the worker count, name one point of a scaling curve; the model
# (the single-device workload a data-parallel one trains) names its single-device case.
SERIES_FIELDS = ("framework", "workload", "phase", "dtype", "size", "device")
ONE_WORKER = "1 worker"
ONE_WORKER_ELSEWHERE = "1 worker, another run"
SINGLE_DEVICE = "single device"


def _series_key(info: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(info.get(f, "")) for f in SERIES_FIELDS)


def _model_key(info: dict[str, Any], model: str) -> tuple[str, ...]:
    """A case's identity with its workload replaced by ``model``: matches a data-parallel
    series to the single-device case of its model."""
    return tuple(model if f == "workload" else str(info.get(f, "")) for f in SERIES_FIELDS)


def _curves(records: Iterable[dict[str, Any]]) -> dict[tuple[str, ...], dict[int, dict]]:
    """Data-parallel records by series, then by worker count."""
    from accelbench.summary import measured  # summary imports this module: import late

    curves: dict[tuple[str, ...], dict[int, dict[str, Any]]] = {}
    for record in measured(list(records)):
        info = record["extra_info"]
        workers = parse_workers_variant(str(info.get("variant", "")))
        if workers is None or not info.get("model"):
            continue
        curves.setdefault(_series_key(info), {})[workers] = record
    return curves


def _single_device(records: Iterable[dict[str, Any]]) -> dict[tuple[str, ...], dict]:
    """Plain single-device records, keyed as the data-parallel series of their model."""
    from accelbench.summary import measured

    found = {}
    for record in measured(list(records)):
        info = record["extra_info"]
        if not info.get("variant") and not info.get("model"):
            found[_series_key(info)] = record
    return found


def scaling_rows(
    records: list[dict[str, Any]], others: Sequence[list[dict[str, Any]]] = ()
) -> list[dict[str, Any]]:
    """One row per data-parallel case: figures, efficiency and its baseline.

    ``others``: records of other runs, consulted for a one-worker baseline this run lacks.
    """
    curves = _curves(records)
    singles = _single_device(records)
    elsewhere: dict[tuple[str, ...], dict[str, Any]] = {}
    for other in others:
        for key, points in _curves(other).items():
            if 1 in points:
                elsewhere.setdefault(key, points[1])
    rows = []
    for key, points in sorted(curves.items()):
        model = str(next(iter(points.values()))["extra_info"]["model"])
        single = singles.get(_model_key(dict(zip(SERIES_FIELDS, key)), model))
        baseline, kind = points.get(1), ONE_WORKER
        if baseline is None:
            baseline, kind = elsewhere.get(key), ONE_WORKER_ELSEWHERE
        if baseline is None:
            baseline, kind = single, SINGLE_DEVICE
        base_s = baseline["stats"]["median"] if baseline else None
        for workers in sorted(points):
            record = points[workers]
            info, median = record["extra_info"], record["stats"]["median"]
            row: dict[str, Any] = dict(zip(SERIES_FIELDS, key))
            row.update(
                model=model,
                workers=workers,
                device_label=info.get("device_label"),
                backend=(info.get("communication") or {}).get("backend"),
                hosts=info.get("hosts"),
                item_unit=info.get("item_unit", "items"),
                median_s=median,
                throughput_per_s=info.get("throughput_per_s"),
                throughput_per_worker_per_s=info.get("throughput_per_worker_per_s"),
                baseline=kind if base_s else None,
                baseline_median_s=base_s,
                efficiency=base_s / median if base_s else None,
                allreduce_exposed_share=info.get("allreduce_exposed_share"),
                vs_single_device=(
                    median / single["stats"]["median"] - 1 if single and workers == 1 else None
                ),
            )
            rows.append(row)
    return rows


def format_share(value: float | None) -> str:
    """A signed percentage: +3.1%, -0.4% (a share below zero is noise, shown as measured)."""
    return "-" if value is None else f"{value * 100:+.1f}%"


def render_scaling(rows: list[dict[str, Any]]) -> str:
    from accelbench.summary import format_rate, format_seconds, format_table

    if not rows:
        return ""
    header = ["case", "phase", "dtype", "device", "backend", "workers", "median"]
    header += ["throughput", "per worker", "efficiency", "baseline", "all-reduce"]
    header.append("vs single device")
    body = []
    for r in rows:
        unit = r["item_unit"]
        body.append(
            [
                f"{r['framework']} {r['workload']}",
                r["phase"],
                r["dtype"],
                r["device"],
                r["backend"] or "-",
                str(r["workers"]),
                format_seconds(r["median_s"]),
                format_rate(r["throughput_per_s"], unit),
                format_rate(r["throughput_per_worker_per_s"], unit),
                f"{r['efficiency']:.0%}" if r["efficiency"] else "-",
                r["baseline"] or "-",
                format_share(r["allreduce_exposed_share"]),
                format_share(r["vs_single_device"]),
            ]
        )
    title = (
        "data-parallel scaling (same batch per worker; efficiency: the baseline's median "
        "time per step over k workers'; all-reduce: share of the step waiting for the "
        "gradient all-reduce; vs single device: DDP's cost at one worker)"
    )
    return f"{title}\n{format_table(header, body)}"


# The report: a table and a plot of efficiency against workers ------------------------------


def report_section(doc: Any, runs: Sequence[Any], out: Path) -> list[Path]:
    """A "Data-parallel scaling" section over every run given (baselines looked up across
    runs); nothing when no run has a data-parallel case. Returns the images written."""
    from accelbench.document import Table
    from accelbench.summary import format_rate, format_seconds

    per_run = []
    for index, run in enumerate(runs):
        others = [r.records for j, r in enumerate(runs) if j != index]
        per_run.append((index, scaling_rows(run.records, others)))
    if not any(rows for _, rows in per_run):
        return []
    several = len(runs) > 1
    doc.heading(2, "Data-parallel scaling")
    doc.paragraph(
        "DistributedDataParallel, one process per device, the same batch per worker (weak "
        "scaling). *Efficiency*: the baseline's median time per step over the k-worker "
        "case's (100%: k workers process k batches in the time one processes one). "
        "*All-reduce*: the share of a step spent waiting for the gradient all-reduce, from "
        "alternating rounds with and without DDP's sync. *vs single device*: at one worker, "
        "DDP's time per step over the plain single-device case's, minus one."
    )
    header = (["run"] if several else []) + ["case", "phase", "dtype", "device"]
    header += ["backend", "workers", "hosts", "median", "throughput", "per worker"]
    header += ["efficiency", "baseline", "all-reduce", "vs single device"]
    body = []
    for index, rows in per_run:
        for r in rows:
            unit = r["item_unit"]
            line = [str(index + 1)] if several else []
            line += [f"{r['framework']} {r['workload']}", r["phase"], r["dtype"], r["device_label"]]
            line += [r["backend"] or "-", str(r["workers"]), str(r["hosts"] or "-")]
            line += [
                format_seconds(r["median_s"]),
                format_rate(r["throughput_per_s"], unit),
                format_rate(r["throughput_per_worker_per_s"], unit),
                f"{r['efficiency']:.0%}" if r["efficiency"] else "-",
                r["baseline"] or "-",
                format_share(r["allreduce_exposed_share"]),
                format_share(r["vs_single_device"]),
            ]
            body.append(line)
    first = 5 if several else 4
    doc.table(Table(header, body, numeric=set(range(first + 1, len(header)))))
    png = efficiency_plot(per_run, out / "scaling-efficiency.png", several)
    if png is None:
        return []
    doc.image(png, "Scaling efficiency against the number of workers")
    return [png]


def efficiency_plot(
    per_run: list[tuple[int, list[dict[str, Any]]]], path: Path, several: bool
) -> Path | None:
    """Efficiency against workers (log2 axis), one line per model, device and dtype (and
    run), with the ideal at 100%."""
    import matplotlib as mpl
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, ScalarFormatter

    lines: dict[str, list[tuple[int, float]]] = {}
    for index, rows in per_run:
        for r in rows:
            if r["efficiency"] is None:
                continue
            label = f"{r['workload']} {r['phase']} {r['dtype']} on {r['device_label']}"
            label += f" ({r['baseline']})" if r["baseline"] != ONE_WORKER else ""
            label = f"run {index + 1}: {label}" if several else label
            lines.setdefault(label, []).append((r["workers"], r["efficiency"]))
    if not lines:
        return None
    fig = Figure(figsize=(8.0, 4.6 + 0.2 * len(lines)), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    colors = mpl.colormaps["tab10"].colors
    workers = sorted({w for points in lines.values() for w, _ in points})
    for i, (label, points) in enumerate(sorted(lines.items())):
        points.sort()
        ax.plot(
            [w for w, _ in points],
            [e * 100 for _, e in points],
            marker="osD^v<>ph*"[i % 10],
            color=colors[i % len(colors)],
            label=label,
        )
    ax.axhline(100, color="0.3", linewidth=1, linestyle="--", label="ideal (100%)")
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(workers))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlim(workers[0] / 1.3, workers[-1] * 1.3)
    top = max(e for points in lines.values() for _, e in points) * 100
    ax.set_ylim(0, max(110.0, top * 1.1))
    ax.set_xlabel("workers (processes, one per device)")
    ax.set_ylabel("scaling efficiency (%)")
    ax.set_title("Data-parallel scaling efficiency (same batch per worker)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
