"""Saved runs -> a Markdown report, PNG plots and one self-contained HTML page.

Per run: each workload's median, IQR, throughput, TFLOP/s, share of the device's measured
matmul ceiling and speedup over the CPU; the ceilings themselves; attention time against
sequence length where the run has a sweep; the suite's other summary sections. Given runs
from several machines: one table and one plot with a column per chip or GPU.

Speedups come from ``summary.speedup_rows`` and numbers are formatted by ``summary``'s
helpers, so the end-of-run summary and the report never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelbench import backends, plots, summary
from accelbench.document import Document, Table
from accelbench.modes_view import execution_label
from accelbench.runs import Run, RunError
from accelbench.scaling import fit_exponent, longer_half, parse_length_variant
from accelbench.summary import format_rate, format_seconds, natural_key
from accelbench.workloads.ceiling import COPY, MATMUL, Ceiling

NOISY_IQR_SHARE = 0.10  # IQR above 10% of the median: flagged, as torch.utils.benchmark does
MARKDOWN_NAME = "report.md"
HTML_NAME = "report.html"
PLAIN_RUN_HINT = (
    "saved by plain pytest-benchmark, not by this suite's benchmarks? "
    "run: pytest benchmarks --benchmark-only --benchmark-autosave"
)


# Figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CeilingFigures:
    """The measured peaks of one device in one dtype, within one run."""

    device: str
    dtype: str
    label: str
    matmul_tflops: float | None = None
    matmul_n: int | None = None
    copy_gb_per_s: float | None = None
    copy_bytes: int | None = None


def is_ceiling(record: dict[str, Any]) -> bool:
    info = record["extra_info"]
    return info.get("workload") == Ceiling.name and info.get("variant") in (MATMUL, COPY)


def bytes_per_s(record: dict[str, Any]) -> float | None:
    moved = record["extra_info"].get("bytes_per_step")
    return moved / record["stats"]["median"] if moved else None


def ceilings(records: list[dict[str, Any]]) -> dict[tuple[str, str], CeilingFigures]:
    """Per (device, dtype): the best matmul TFLOP/s and copy GB/s among the ceiling cases."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for r in summary.measured(records):
        if not is_ceiling(r):
            continue
        info = r["extra_info"]
        key = (str(info["device"]), str(info.get("dtype", "")))
        entry = found.setdefault(key, {"label": info.get("device_label") or key[0]})
        if info["variant"] == MATMUL and info.get("tflops_per_s"):
            if info["tflops_per_s"] > entry.get("matmul_tflops", 0):
                entry["matmul_tflops"] = info["tflops_per_s"]
                entry["matmul_n"] = (info.get("shapes") or {}).get("n")
        elif info["variant"] == COPY and bytes_per_s(r):
            rate = bytes_per_s(r) / 1e9  # type: ignore[operator]
            if rate > entry.get("copy_gb_per_s", 0):
                entry["copy_gb_per_s"] = rate
                entry["copy_bytes"] = info.get("bytes_per_step")
    return {k: CeilingFigures(device=k[0], dtype=k[1], **v) for k, v in found.items()}


def _speedups(records: list[dict[str, Any]]) -> dict[tuple[tuple[str, ...], str], float]:
    """(case, device) -> speedup over the CPU, as the end-of-run summary computes it."""
    out: dict[tuple[tuple[str, ...], str], float] = {}
    for row in summary.speedup_rows(records):
        key = tuple(str(row[f]) for f in summary.CASE_FIELDS)
        if row["cpu_median_s"]:
            out[(key, "cpu")] = 1.0
        if row["device"] and row["speedup"]:
            out[(key, row["device"])] = row["speedup"]
    return out


def device_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per measured benchmark, with every figure the report shows."""
    records = summary.measured(records)
    speedups = _speedups(records)
    peaks = ceilings(records)
    rows = []
    for r in records:
        info, stats = r["extra_info"], r["stats"]
        key = summary.case_key(r)
        device = str(info["device"])
        median = stats["median"]
        iqr = stats.get("iqr")
        tflops = info.get("tflops_per_s")
        peak = peaks.get((device, str(info.get("dtype", ""))))
        share = None
        if tflops and peak and peak.matmul_tflops and not is_ceiling(r):
            share = tflops / peak.matmul_tflops
        rows.append(
            {
                **dict(zip(summary.CASE_FIELDS, key)),
                "device": device,
                "device_label": info.get("device_label") or device,
                "median_s": median,
                "iqr_s": iqr,
                "noisy": bool(iqr is not None and iqr > NOISY_IQR_SHARE * median),
                "throughput_per_s": info.get("throughput_per_s"),
                "item_unit": info.get("item_unit", "items"),
                "tflops_per_s": tflops,
                "bytes_per_s": bytes_per_s(r),
                "ceiling_share": share,
                "speedup": speedups.get((key, device)),
                "ceiling": is_ceiling(r),
            }
        )
    return sorted(rows, key=_row_order)


def _device_order(device: str) -> tuple[int, str]:
    return (
        order.index(device) if device in (order := backends.device_names()) else len(order),
        device,
    )


def _row_order(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["ceiling"],
        row["workload"],
        row["framework"],
        row["phase"],
        natural_key((row["variant"],)),
        natural_key((row["batch"],)),
        row["memory_format"],
        row["mode"],
        row["dtype"],
        row["size"],
        _device_order(row["device"]),
    )


def case_label(row: dict[str, Any]) -> str:
    batch = f"batch={row['batch']}" if row.get("batch") else ""
    parts = (row["framework"], row["workload"], row["variant"], batch, row["phase"])
    execution = execution_label(row)
    return " ".join(p for p in parts if p) + ("" if execution == "eager" else f" [{execution}]")


def headline(row: dict[str, Any]) -> tuple[float | None, str]:
    """The one figure that says how fast a case ran: GB/s for a copy, TFLOP/s for a matmul
    ceiling, otherwise throughput; with its unit."""
    if row["ceiling"] and row["variant"] == COPY and row["bytes_per_s"]:
        return row["bytes_per_s"] / 1e9, "GB/s"
    if row["ceiling"] and row["variant"] == MATMUL and row["tflops_per_s"]:
        return row["tflops_per_s"], "TFLOP/s"
    return row["throughput_per_s"], f"{row['item_unit']}/s"


def format_compact(value: float | None) -> str:
    """A figure whose unit is said elsewhere: 6.97k, 41M, 4200, 0.107."""
    if value is None:
        return "-"
    for suffix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= 10 * scale or (value >= scale and suffix != "k"):
            return f"{value / scale:.3g}{suffix}"
    return format_figure(value)


def format_share(share: float | None) -> str:
    if share is None:
        return "-"
    pct = share * 100
    return f"{pct:.0f}%" if pct >= 10 else f"{pct:.2g}%"


def format_speedup(value: float | None) -> str:
    return f"{value:.2f}x" if value else "-"


def format_figure(value: float | None) -> str:
    """Three significant digits without an exponent: 0.0000219, 0.107, 4.2, 765, 4210."""
    if not value:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".")


def bar_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows a bar chart shows: of a sequence-length sweep only its longest length (the
    attention plot shows them all)."""
    longest: dict[tuple[str, ...], int] = {}
    for row in rows:
        point = parse_length_variant(row["variant"])
        if point:
            key = _sweep_key(row, point[0])
            longest[key] = max(longest.get(key, 0), point[1])
    kept = []
    for row in rows:
        point = parse_length_variant(row["variant"])
        if not point or point[1] == longest[_sweep_key(row, point[0])]:
            kept.append(row)
    return kept


def _sweep_key(row: dict[str, Any], implementation: str) -> tuple[str, ...]:
    fields = ("framework", "workload", "phase", "dtype", "size")
    return (*(str(row[f]) for f in fields), implementation)


# Attention sweeps -------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """Time per step against sequence length for one implementation on one device."""

    label: str
    lengths: list[int]
    medians_s: list[float]

    @property
    def slope(self) -> float | None:
        """Exponent p of time ~ L**p, fitted in log-log space; None under two lengths."""
        return fit_exponent(self.lengths, self.medians_s)

    @property
    def slope_longer_half(self) -> float | None:
        """The exponent over the longer half of the lengths, past launch-bound short ones."""
        if len(self.lengths) < 4:
            return None
        return fit_exponent(*longer_half(self.lengths, self.medians_s))


def attention_series(rows: list[dict[str, Any]]) -> list[Series]:
    """Cases whose variant names a sequence length (``sdpa-L=2048``), one series per
    implementation, device and (where they vary) phase, dtype and workload."""
    points: dict[tuple[str, ...], dict[int, float]] = {}
    for row in rows:
        point = parse_length_variant(row["variant"])
        if not point or row["ceiling"]:
            continue
        impl, length = point
        key = (row["framework"], row["workload"], impl, row["device_label"], row["phase"])
        key += (row["dtype"], row["size"], execution_label(row))
        points.setdefault(key, {})[length] = row["median_s"]
    varying = [len({k[i] for k in points}) > 1 for i in range(8)]
    series = []
    for key, by_length in sorted(points.items()):
        framework, workload, impl, label, phase, dtype, size, execution = key
        extras = [
            v
            for v, vary in zip(
                (framework, workload, phase, dtype, size, execution), varying[:2] + varying[4:]
            )
            if vary
        ]
        name = f"{impl} on {label}" + (f" ({', '.join(extras)})" if extras else "")
        lengths = sorted(by_length)
        series.append(Series(name, lengths, [by_length[n] for n in lengths]))
    return series


# Across machines --------------------------------------------------------------------------


@dataclass(frozen=True)
class MachineTable:
    columns: list[str]  # one per (run, device), labelled by chip or GPU
    cases: list[str]
    units: list[str]
    values: list[list[float | None]]  # [case][column]
    in_plot: list[bool]  # False for the shorter lengths of a sweep

    @property
    def shared_cases(self) -> int:
        return sum(sum(v is not None for v in row) > 1 for row in self.values)


def machine_table(runs: list[Run]) -> MachineTable:
    """Every case of every run, one column per device of each run."""
    column_keys: list[tuple[int, str]] = []
    labels: list[str] = []
    cells: dict[tuple[str, ...], dict[tuple[int, str], float | None]] = {}
    case_info: dict[tuple[str, ...], tuple[str, str, tuple[Any, ...]]] = {}
    for index, run in enumerate(runs):
        for row in device_rows(run.records):
            col = (index, row["device"])
            if col not in column_keys:
                column_keys.append(col)
                labels.append(row["device_label"])
            value, unit = headline(row)
            key = tuple(str(row[f]) for f in summary.CASE_FIELDS)
            cells.setdefault(key, {})[col] = value
            name = f"{case_label(row)} ({row['dtype']}, {row['size']})"
            case_info.setdefault(key, (name, unit, _row_order({**row, "device": ""})))
    shared = {label for label in labels if labels.count(label) > 1}
    labels = [  # the same chip in two runs: tell the columns apart
        f"{label} [run {key[0] + 1}]" if label in shared else label
        for label, key in zip(labels, column_keys)
    ]
    order = sorted(cells, key=lambda k: case_info[k][2])
    pseudo = [dict(zip(summary.CASE_FIELDS, k)) for k in order]
    plotted = {id(r) for r in bar_rows(pseudo)}
    return MachineTable(
        columns=labels,
        cases=[case_info[k][0] for k in order],
        units=[case_info[k][1] for k in order],
        values=[[cells[k].get(col) for col in column_keys] for k in order],
        in_plot=[id(r) in plotted for r in pseudo],
    )


# The report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    html: Path
    images: list[Path]


def write_report(
    runs: list[Run], out_dir: str | Path, notes: list[str] | None = None
) -> ReportFiles:
    """Write report.md, report.html and the PNG plots for ``runs`` into ``out_dir``.

    ``RunError`` when no run carries this suite's extra_info; runs without it are named
    in the report as left out.
    """
    usable = [r for r in runs if r.records]
    if not usable:
        raise RunError(
            f"{runs[0].path}: none of its {len(runs[0].benchmarks)} benchmarks carries "
            f"accelbench's extra_info ({PLAIN_RUN_HINT})"
        )
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"{out}: cannot create the report folder: {exc.strerror or exc}") from None
    doc = Document("accelbench report")
    images: list[Path] = []
    listing = [f"`{r.path}`: {r.machine}, saved {r.saved}" for r in runs]
    doc.paragraph(f"From {len(runs)} saved run{'s' if len(runs) > 1 else ''}:")
    doc.bullets(listing)
    left_out = [
        f"`{r.path}`: no benchmark carries accelbench's extra_info ({PLAIN_RUN_HINT})"
        for r in runs
        if not r.records
    ]
    left_out += list(notes or [])
    if left_out:
        doc.paragraph("Left out:")
        doc.bullets(left_out)
    for index, run in enumerate(usable, start=1):
        prefix = f"run{index}-" if len(usable) > 1 else ""
        title = f"Run {index}: {run.machine}" if len(usable) > 1 else f"Run: {run.machine}"
        images += _run_section(doc, run, title, out, prefix)
    if len(usable) > 1:
        images += _machines_section(doc, usable, out)
    markdown = out / MARKDOWN_NAME
    markdown.write_text(doc.markdown(), encoding="utf-8")
    page = out / HTML_NAME
    page.write_text(doc.html(), encoding="utf-8")
    return ReportFiles(markdown=markdown, html=page, images=images)


def _run_section(doc: Document, run: Run, title: str, out: Path, prefix: str) -> list[Path]:
    rows = device_rows(run.records)
    doc.heading(2, title)
    sizes = sorted({r["size"] for r in rows})
    dtypes = sorted({r["dtype"] for r in rows})
    doc.paragraph(
        f"`{run.path}` - saved {run.saved} - size "
        f"{', '.join(sizes)} - dtype {', '.join(dtypes)} - {len(rows)} benchmarks. "
        "Times are medians per step in steady state (blocks of k steps, one synchronize each)."
    )
    doc.bullets(_device_lines(run))
    images: list[Path] = []

    peaks = ceilings(run.records)
    doc.heading(3, "Ceilings")
    if peaks:
        _ceiling_table(doc, peaks, rows)
    else:
        doc.paragraph(
            "No ceiling in this run, so no share of peak: add `benchmarks/test_ceiling.py` "
            "(a large matmul and a large copy per device) to the run."
        )

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if not row["ceiling"]:
            groups.setdefault((row["framework"], row["workload"]), []).append(row)
    for (framework, workload), group in groups.items():
        doc.heading(3, f"{framework} {workload}")
        doc.table(_workload_table(group))
    if any(r["noisy"] for r in rows):
        doc.paragraph(
            f"*noisy*: the IQR is over {NOISY_IQR_SHARE:.0%} of the median; re-run at a larger "
            "size or on a quieter machine before trusting a difference."
        )
    accelerators = [r for r in rows if r["device"] != "cpu"]
    if not any(r["device"] == "cpu" for r in rows):
        doc.paragraph("No CPU case in this run: no speedup over the CPU.")
    elif not accelerators:
        doc.paragraph(
            "Only the CPU ran (no usable accelerator; see the devices above): no speedup to show."
        )

    doc.heading(3, "Plots")
    bars = bar_rows(rows)
    if len(bars) < len(rows):
        doc.paragraph("Bar charts show each sequence-length sweep at its longest length only.")
    speedup_png = plots.speedup_plot(bars, out / f"{prefix}speedup.png", run.machine)
    if speedup_png:
        doc.image(speedup_png, "Speedup over the CPU per workload")
        images.append(speedup_png)
    series = attention_series(rows)
    if series:
        attention_png = plots.attention_plot(series, out / f"{prefix}attention.png", run.machine)
        doc.image(attention_png, "Attention time against sequence length (log-log)")
        images.append(attention_png)
        doc.table(
            Table(
                ["implementation and device", "lengths", "fitted slope (time ~ L^p)"],
                [
                    [
                        s.label,
                        ", ".join(map(str, s.lengths)),
                        f"{round(s.slope, 2) + 0.0:.2f}" if s.slope is not None else "-",
                    ]
                    for s in series
                ],
                numeric={2},
            )
        )
    throughput_png = plots.throughput_plot(
        [r for r in bars if not r["ceiling"]], out / f"{prefix}throughput.png", run.machine
    )
    if throughput_png:
        doc.image(throughput_png, "Throughput per device")
        images.append(throughput_png)

    _other_sections(doc, run)
    if run.unmeasured or run.malformed:
        doc.heading(3, "Left out of this run")
        lines = []
        if run.unmeasured:
            lines.append(
                f"{len(run.unmeasured)} benchmarks without accelbench's extra_info "
                f"(no device, throughput or FLOPs known): {', '.join(run.unmeasured)}"
            )
        if run.malformed:
            lines.append(f"{run.malformed} entries without a fullname and a median time")
        doc.bullets(lines)
    return images


def _device_lines(run: Run) -> list[str]:
    torch_info = (run.machine_info.get("accelbench") or {}).get("torch") or {}
    devices = torch_info.get("devices") if isinstance(torch_info, dict) else None
    seen = sorted({r["extra_info"]["device"] for r in run.records}, key=_device_order)
    lines = [f"{d}: {run.device_label(d)}" for d in seen]
    if isinstance(devices, dict):
        for name, facts in devices.items():
            if name not in seen and isinstance(facts, dict) and facts.get("reason"):
                lines.append(f"{name}: not usable ({facts['reason']})")
    return lines


def _ceiling_table(
    doc: Document, peaks: dict[tuple[str, str], CeilingFigures], rows: list[dict[str, Any]]
) -> None:
    speedup = {(r["device"], r["dtype"], r["variant"]): r["speedup"] for r in rows if r["ceiling"]}
    body = []
    for (device, dtype), p in sorted(peaks.items(), key=lambda kv: _device_order(kv[0][0])):
        body.append(
            [
                p.label,
                dtype,
                f"{p.matmul_n}^3" if p.matmul_n else "-",
                format_figure(p.matmul_tflops),
                format_speedup(speedup.get((device, dtype, MATMUL))),
                f"{p.copy_bytes / 2**20:.4g} MiB" if p.copy_bytes else "-",
                format_figure(p.copy_gb_per_s),
                format_speedup(speedup.get((device, dtype, COPY))),
            ]
        )
    header = [
        "device",
        "dtype",
        "matmul",
        "matmul TFLOP/s",
        "matmul vs CPU",
        "copy (read+write)",
        "copy GB/s",
        "copy vs CPU",
    ]
    doc.table(Table(header, body, numeric={3, 4, 5, 6, 7}))
    note = (
        "A workload's *of ceiling* is its TFLOP/s over the matmul TFLOP/s of the same device "
        "and dtype in this run. Copy bandwidth counts bytes read plus bytes written."
    )
    if any(r["ceiling"] and r["size"] == "smoke" for r in rows):
        note += " At the smoke size both fit in caches: these are not the machine's real peaks."
    doc.paragraph(note)


def _workload_table(rows: list[dict[str, Any]]) -> Table:
    header = [
        "phase",
        "variant",
        "mode",
        "dtype",
        "size",
        "device",
        "median",
        "IQR",
        "throughput",
        "TFLOP/s",
        "of ceiling",
        "speedup over CPU",
    ]
    body = []
    for r in rows:
        iqr = "-"
        if r["iqr_s"] is not None:
            iqr = f"{format_seconds(r['iqr_s'])} ({r['iqr_s'] / r['median_s']:.0%})"
            iqr += " *noisy*" if r["noisy"] else ""
        body.append(
            [
                r["phase"],
                " ".join(x for x in (r["variant"], r["batch"] and f"batch={r['batch']}") if x)
                or "-",
                execution_label(r),
                r["dtype"],
                r["size"],
                r["device_label"],
                format_seconds(r["median_s"]),
                iqr,
                format_rate(r["throughput_per_s"], r["item_unit"]),
                format_figure(r["tflops_per_s"]),
                format_share(r["ceiling_share"]),
                format_speedup(r["speedup"]),
            ]
        )
    return Table(header, body, numeric={6, 7, 8, 9, 10, 11})


def _other_sections(doc: Document, run: Run) -> None:
    """The suite's other summary sections (e.g. scaling), rendered by their own code; sections
    saved by a newer suite that this one does not know, as plain tables."""
    blocks = []
    for section in summary.SECTIONS:
        if section.key == "speedups":
            continue  # shown above, per workload
        computed = section.compute(run.records)
        text = section.render(computed) if computed else ""
        if text:
            blocks.append(("code", text))
    known = {s.key for s in summary.SECTIONS}
    saved = run.data.get("accelbench")
    if isinstance(saved, dict):
        for key, rows in saved.items():
            if key in known or not isinstance(rows, list) or not rows:
                continue
            dict_rows = [r for r in rows if isinstance(r, dict)]
            if dict_rows:
                blocks.append(("table", (key, _generic_table(dict_rows))))
    if not blocks:
        return
    doc.heading(3, "Other summary sections")
    for kind, value in blocks:
        if kind == "code":
            doc.code(value)  # type: ignore[arg-type]
        else:
            key, table = value  # type: ignore[misc]
            doc.paragraph(f"`{key}` (as saved in the run):")
            doc.table(table)


def _generic_table(rows: list[dict[str, Any]]) -> Table:
    header = list(dict.fromkeys(k for r in rows for k in r))
    return Table(header, [[_generic_value(r.get(k)) for k in header] for r in rows])


def _generic_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if math.isfinite(value) else str(value)
    return str(value)


def _machines_section(doc: Document, runs: list[Run], out: Path) -> list[Path]:
    table = machine_table(runs)
    doc.heading(2, "Across machines")
    doc.paragraph(
        "Each column is one device of one run, labelled by its chip or GPU. A cell is the "
        "case's throughput (GB/s for the copy ceiling, TFLOP/s for the matmul ceiling); "
        "cases match on framework, workload, variant, phase, dtype and size."
    )
    body = [
        [case, unit, *(format_compact(v) for v in values)]
        for case, unit, values in zip(table.cases, table.units, table.values)
    ]
    doc.table(
        Table(["case", "unit", *table.columns], body, numeric=set(range(2, 2 + len(table.columns))))
    )
    if table.shared_cases == 0:
        doc.paragraph(
            "The runs have no case in common (same workload, variant, phase, dtype and size): "
            "nothing to compare side by side. Run the same size and dtype on each machine."
        )
        return []
    png = plots.machines_plot(table, out / "machines.png")
    if png is None:
        return []
    doc.image(png, "Throughput across machines, relative to the reference column")
    return [png]
