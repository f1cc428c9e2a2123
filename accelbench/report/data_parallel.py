"""The report's "Data-parallel scaling" section: a table over every run given and a plot of
efficiency against workers. Figures come from ``accelbench.results.data_parallel``, the
computation of the end-of-run summary; across runs, a run without its own one-worker case
takes the baseline from another run's."""

from __future__ import annotations

from pathlib import Path

from accelbench.report.document import Document, Table
from accelbench.report.plots import DPI, line_style, plain
from accelbench.results.data_parallel import ONE_WORKER, DataParallelRow, data_parallel_rows
from accelbench.results.formats import (
    case_words,
)
from accelbench.results.runs import Run

PLOT_NAME = "scaling-efficiency.png"


def report_section(doc: Document, runs: list[Run], out: Path) -> list[Path]:
    """A "Data-parallel scaling" section over every run given (baselines looked up across
    runs); nothing when no run has a data-parallel case. Returns the images written."""
    per_run = []
    for index, run in enumerate(runs):
        others = [r.records for j, r in enumerate(runs) if j != index]
        per_run.append((index, data_parallel_rows(run.records, others)))
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
            line = [str(index + 1)] if several else []
            case = case_words(r.key, "framework", "workload", "variant")
            line += [case, r.key.phase, r.key.dtype]
            line += [r.device_label or r.key.device, r.backend or "-", str(r.workers)]
            body.append([*line, str(r.hosts or "-"), *r.figure_cells()])
    first = 5 if several else 4
    doc.table(Table(header, body, numeric=set(range(first + 1, len(header)))))
    png = efficiency_plot(per_run, out / PLOT_NAME, several)
    if png is None:
        return []
    doc.image(png, "Scaling efficiency against the number of workers")
    return [png]


def efficiency_plot(
    per_run: list[tuple[int, list[DataParallelRow]]], path: Path, several: bool
) -> Path | None:
    """Efficiency against workers (log2 axis), one line per model, device and dtype (and
    run), with the ideal at 100%; None when no row has an efficiency."""
    import matplotlib as mpl
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, ScalarFormatter

    lines: dict[str, list[tuple[int, float]]] = {}
    for index, rows in per_run:
        for r in rows:
            if r.efficiency is None:
                continue
            device = r.device_label or r.key.device
            label = f"{r.key.workload} {r.key.phase} {r.key.dtype} on {device}"
            label += f" ({r.baseline})" if r.baseline != ONE_WORKER else ""
            label = f"run {index + 1}: {label}" if several else label
            lines.setdefault(plain(label), []).append((r.workers, r.efficiency))
    if not lines:
        return None
    fig = Figure(figsize=(8.0, 4.6 + 0.2 * len(lines)), dpi=DPI, layout="constrained")
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
            **line_style(len(points)),
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
