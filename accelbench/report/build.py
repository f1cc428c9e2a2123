"""Saved runs -> a Markdown report, PNG plots and one self-contained HTML page.

Per run: the conditions it ran under (a warning where the machine was busy, on battery, in
Low Power Mode or throttled, and a mark on the cases affected); each workload's median,
IQR, throughput, TFLOP/s, share of the device's measured matmul ceiling and speedup over
the CPU; the ceilings themselves; attention time against sequence length where the run has
a sweep; the batch-sweep crossover (``report.crossover``) where it has one; energy per step
and items per joule where it was counted; the suite's other summary sections. Given runs
from several machines: one table and one plot with a column per chip or GPU.

Every figure comes from ``accelbench.results.views`` on the runs' ``Record`` values, the
same computation as the end-of-run summary, so the two never disagree.

The report is built in a temporary folder beside ``--out`` and swapped in whole: no plot of
an earlier report stays beside a new one, and a failure leaves the earlier report as it was.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelbench.core.ceilings import COPY, MATMUL
from accelbench.core.spec import BATCH_KEY, EAGER, LENGTH_KEY
from accelbench.report import crossover, data_parallel, plots
from accelbench.report.document import Document, Markup, Table, code_span, escape
from accelbench.results import files, views
from accelbench.results.figures import sweep_points
from accelbench.results.formats import (
    format_bounded_share,
    format_compact,
    format_exponent,
    format_figure,
    format_rate,
    format_seconds,
    format_speedup,
)
from accelbench.results.record import (
    CONDITION_FLAGS,
    NOISY_IQR_SHARE,
    device_order,
    execution_label,
    mode_order,
)
from accelbench.results.runs import Run, RunError
from accelbench.results.shares import CeilingFigures, ceilings

MARKDOWN_NAME = "report.md"
HTML_NAME = "report.html"
NOT_APPLICABLE = "—"  # the CPU's own speedup over the CPU: it is the reference
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


def _build(runs: list[Run], usable: list[Run], out: Path, notes: list[str]) -> list[Path]:
    doc = Document("accelbench report")
    images: list[Path] = []
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
    for index, run in enumerate(usable, start=1):
        prefix = f"run{index}-" if len(usable) > 1 else ""
        machine = escape(run.machine)
        title = f"Run {index}: {machine}" if len(usable) > 1 else f"Run: {machine}"
        images += _run_section(doc, run, title, out, prefix)
    if len(usable) > 1:
        images += _machines_section(doc, usable, out)
    images += data_parallel.report_section(doc, usable, out)
    (out / MARKDOWN_NAME).write_text(doc.markdown(), encoding="utf-8")
    (out / HTML_NAME).write_text(doc.html(), encoding="utf-8")
    return images


def _run_section(doc: Document, run: Run, title: str, out: Path, prefix: str) -> list[Path]:
    rows = views.case_rows(run.records)
    _run_heading(doc, run, title, rows)
    _conditions_section(doc, run, rows)
    _ceilings_section(doc, run, rows)
    _workload_sections(doc, rows)
    images = _plots_section(doc, run, rows, out, prefix)
    images += crossover.add_section(doc, run.records, out, prefix, run.machine)
    images += _energy_section(doc, rows, out, prefix, run.machine)
    _other_sections(doc, run)
    if run.plain:
        doc.heading(3, "Left out of this run")
        doc.bullets(
            [
                f"{len(run.plain)} benchmarks without accelbench's extra_info "
                f"(no device, throughput or FLOPs known): {escape(', '.join(run.plain))}"
            ]
        )
    return images


def _run_heading(doc: Document, run: Run, title: str, rows: list[dict[str, Any]]) -> None:
    """The run's title, whether it is partial, what it measured and on which devices."""
    doc.heading(2, title)
    if run.partial:
        doc.paragraph(
            f"**Partial run** ({escape(run.partial_reason)}): the run did not go to its end, so "
            "cases are missing and it is not a complete picture of this machine."
        )
    sizes = sorted({r["size"] for r in rows})
    dtypes = sorted({r["dtype"] for r in rows})
    modes = sorted({r["mode"] for r in rows}, key=mode_order)
    doc.paragraph(
        f"{code_span(run.path)} - saved {escape(run.saved)} - size {escape(', '.join(sizes))} - "
        f"dtype {escape(', '.join(dtypes))} - mode {escape(', '.join(modes))} - {len(rows)} "
        "benchmarks. "
        "Times are medians per step in steady state (blocks of k steps, one synchronize each)."
    )
    doc.bullets(_device_lines(run))


def _ceilings_section(doc: Document, run: Run, rows: list[dict[str, Any]]) -> None:
    peaks = ceilings(run.records)
    doc.heading(3, "Ceilings")
    if peaks:
        _ceiling_table(doc, peaks, rows)
    else:
        doc.paragraph(
            "No ceiling in this run, so no share of peak: add `benchmarks/test_ceiling.py` "
            "(a large matmul and a large copy per device) to the run."
        )


def _workload_sections(doc: Document, rows: list[dict[str, Any]]) -> None:
    """A table per framework and workload, then what the tables' marks and gaps mean."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if not row["ceiling"]:
            groups.setdefault((row["framework"], row["workload"]), []).append(row)
    for (framework, workload), group in groups.items():
        doc.heading(3, escape(f"{framework} {workload}"))
        doc.table(_with_conditions(_with_bandwidth(_workload_table(group), group), group, rows))
    if any(r["noisy"] for r in rows):
        doc.paragraph(
            f"*noisy*: the IQR is over {NOISY_IQR_SHARE:.0%} of the median; re-run at a larger "
            "size or on a quieter machine before trusting a difference."
        )
    if not any(r["device"] == "cpu" for r in rows):
        doc.paragraph("No CPU case in this run: no speedup over the CPU.")
    elif all(r["device"] == "cpu" for r in rows):
        doc.paragraph(
            "Only the CPU ran (no usable accelerator; see the devices above): no speedup to show."
        )


def _plots_section(
    doc: Document, run: Run, rows: list[dict[str, Any]], out: Path, prefix: str
) -> list[Path]:
    """Speedup and throughput bars (a sweep at its largest point) and attention curves."""
    doc.heading(3, "Plots")
    bars = views.bar_rows(rows)
    in_bars = {id(r) for r in bars}
    swept = {field for r in rows if id(r) not in in_bars for field, _ in sweep_points(r["key"])}
    if LENGTH_KEY in swept:
        doc.paragraph("Bar charts show each sequence-length sweep at its longest length only.")
    if BATCH_KEY in swept:
        doc.paragraph("Bar charts show each batch sweep at its largest batch only.")
    png = plots.speedup_plot(bars, out / f"{prefix}speedup.png", run.machine)
    images = _image(doc, png, "Speedup over the CPU per workload")
    images += _attention_part(doc, run, out, prefix)
    path = out / f"{prefix}throughput.png"
    png = plots.throughput_plot([r for r in bars if not r["ceiling"]], path, run.machine)
    return images + _image(doc, png, "Throughput per device")


def _attention_part(doc: Document, run: Run, out: Path, prefix: str) -> list[Path]:
    series = views.attention_series(run.records)
    if not series:
        return []
    png = plots.attention_plot(series, out / f"{prefix}attention.png", run.machine)
    images = _image(doc, png, "Attention time against sequence length (log-log)")
    body = [[s.label, ", ".join(map(str, s.lengths)), format_exponent(s.slope)] for s in series]
    header = ["implementation and device", "lengths", "fitted slope (time ~ L^p)"]
    doc.table(Table(header, body, numeric={2}))
    return images


def _image(doc: Document, png: Path | None, alt: str) -> list[Path]:
    """The plot in the document, where one was drawn."""
    if png is None:
        return []
    doc.image(png, alt)
    return [png]


def _conditions_section(doc: Document, run: Run, rows: list[dict[str, Any]]) -> None:
    """How the machine was during the run: a warning per condition flag, or one line saying
    nothing was flagged (runs saved before conditions were recorded: nothing is said)."""
    saved = run.block.get("conditions")
    saved = saved if isinstance(saved, dict) else None
    if saved is None and not any(r["flags"] for r in rows):
        return
    doc.heading(3, "Conditions")
    warnings = saved.get("warnings") if saved else None
    if not isinstance(warnings, list):
        flagged = [f for f in CONDITION_FLAGS if any(f in r["flags"] for r in rows)]
        warnings = [f"{f} during {sum(f in r['flags'] for r in rows)} cases" for f in flagged]
    if warnings:
        doc.paragraph(
            "*Warning:* these figures were measured under conditions that can move them by "
            "far more than any regression threshold; the affected cases are marked in the "
            "*conditions* column."
        )
        doc.bullets([escape(w) for w in warnings])
    else:
        doc.paragraph(
            "Nothing flagged: the machine was not busy, on battery, in Low Power Mode or "
            "throttled during any case."
        )
    if saved is None:
        return
    facts = []
    if isinstance(saved.get("busy_rule"), str):
        facts.append(f"rule: {escape(saved['busy_rule'])}")
    others, cores = saved.get("others_cores_max"), saved.get("cores")
    if isinstance(others, (int, float)):
        facts.append(
            f"other processes used at most {others:.2f} of {escape(cores)} cores during a case"
        )
    load = saved.get("load_average_before")
    if isinstance(load, dict) and isinstance(load.get("1min"), (int, float)):
        facts.append(f"1-minute load average before the run: {load['1min']:.2f}")
    if isinstance(saved.get("cooldown_s"), (int, float)) and saved["cooldown_s"]:
        facts.append(f"--cooldown {saved['cooldown_s']:g} s before each case")
    doc.bullets(facts)


def _energy_section(
    doc: Document, rows: list[dict[str, Any]], out: Path, prefix: str, title: str
) -> list[Path]:
    """Joules per step and items per joule (images/J, tokens/J) where the run measured
    energy; else the reason the accelerator cases give (e.g. macOS without sudo
    powermetrics)."""
    measured_rows = [r for r in rows if r["energy"] and r["energy"].measured]
    reasons = sorted(
        {
            r["energy"].reason
            for r in rows
            if r["energy"] and not r["energy"].measured and r["device"] != "cpu"
        }
    )
    if not measured_rows and not reasons:
        return []
    doc.heading(3, "Energy")
    if not measured_rows:
        doc.paragraph(escape("; ".join(reasons) + "."))
        return []
    body = []
    for r in measured_rows:
        e = r["energy"]
        body.append(
            [
                " ".join(p for p in (r["framework"], r["workload"], r["variant"], r["phase"]) if p),
                r["dtype"],
                r["device_label"],
                format_figure(e.joules_per_step) + (" (coarse)" if e.coarse else ""),
                f"{format_compact(e.items_per_joule)} {r['item_unit']}/J",
                format_figure(e.mean_power_w),
                f"{e.counter_check:.2f}" if e.counter_check else "-",
            ]
        )
    header = ["case", "dtype", "device", "J per step", "per joule", "mean W"]
    header += ["counter / integrated power"]
    doc.table(Table(header, body, numeric={3, 4, 5, 6}))
    doc.paragraph(
        "Energy over the timed rounds from NVML's total energy counter (the whole board, idle "
        "power included); the last column divides it by the board power sampled every 20 ms "
        "and integrated over the same rounds (near 1: the two agree). *coarse*: a window under "
        "1 s, where the counter's ~100 ms ticks matter."
    )
    png = plots.energy_plot(measured_rows, out / f"{prefix}energy.png", title)
    if png is None:
        return []
    doc.image(png, "Items per joule per device")
    return [png]


def _device_lines(run: Run) -> list[str]:
    seen = sorted({r.device for r in run.measured}, key=device_order)
    lines = [f"{d}: {run.device_label(d)}" for d in seen]
    for name, facts in run.device_facts().items():
        if name not in seen and facts.get("reason"):
            lines.append(f"{name}: not usable ({facts['reason']})")
    return [escape(line) for line in lines]


def _ceiling_table(
    doc: Document, peaks: dict[tuple[str, str], CeilingFigures], rows: list[dict[str, Any]]
) -> None:
    speedup = {(r["device"], r["dtype"], r["variant"]): r["speedup"] for r in rows if r["ceiling"]}
    body = []
    for (device, dtype), p in sorted(peaks.items(), key=lambda kv: device_order(kv[0][0])):
        body.append(
            [
                p.label,
                dtype,
                f"{p.matmul_n}^3" if p.matmul_n else "-",
                format_figure(p.matmul_tflops),
                speedup_cell(device, speedup.get((device, dtype, MATMUL))),
                f"{p.copy_bytes / 2**20:.4g} MiB" if p.copy_bytes else "-",
                format_figure(p.copy_gb_per_s),
                speedup_cell(device, speedup.get((device, dtype, COPY))),
                ", ".join(m for m in (p.matmul_mark, p.copy_mark) if m) or "-",
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
        "marks",
    ]
    doc.table(Table(header, body, numeric={3, 4, 5, 6, 7}))
    note = (
        "Each ceiling is its case's fastest round. A workload's *of ceiling* is its TFLOP/s "
        "over the matmul TFLOP/s of the same device and dtype in this run; *of copy ceiling*, "
        "for a workload that counts the bytes it moves, its GB/s over the copy GB/s. Copy "
        "bandwidth counts bytes read plus bytes written. A case faster than its ceiling gets "
        "no share but *over* and the reason (ceiling busy or noisy, too small, or below the "
        "case)."
    )
    if any(r["ceiling"] and r["size"] == "smoke" for r in rows):
        note += " At the smoke size both fit in caches: these are not the machine's real peaks."
    doc.paragraph(note)


def speedup_cell(device: str, value: float | None) -> str:
    """A speedup over the CPU; for the CPU itself, the reference, none."""
    return NOT_APPLICABLE if device == "cpu" else format_speedup(value)


def _workload_table(rows: list[dict[str, Any]]) -> Table:
    """One row per case and device; a mode column (eager, compile, eager channels_last), and
    where any case was compiled, its compilation time (outside the timed rounds)."""
    compiled = any(r["mode"] != EAGER for r in rows)
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
    header += ["compile time"] if compiled else []
    body = []
    for r in rows:
        iqr = "-"
        if r["iqr_s"] is not None:
            iqr = f"{format_seconds(r['iqr_s'])} ({r['iqr_s'] / r['median_s']:.0%})"
            iqr = Markup(iqr + " *noisy*") if r["noisy"] else iqr
        line = [
            r["phase"],
            r["variant"] or "-",
            execution_label(r["mode"], r["memory_format"]),
            r["dtype"],
            r["size"],
            r["device_label"],
            format_seconds(r["median_s"]),
            iqr,
            format_rate(r["throughput_per_s"], r["item_unit"]),
            format_figure(r["tflops_per_s"]),
            format_bounded_share(r["ceiling_share"], r["ceiling_share_mark"]),
            speedup_cell(r["device"], r["speedup"]),
        ]
        line += [format_seconds(r["compile_time_s"])] if compiled else []
        body.append(line)
    return Table(header, body, numeric=set(range(6, len(header))))


def _with_bandwidth(table: Table, rows: list[dict[str, Any]]) -> Table:
    """Two more columns where a workload counts the bytes it moves (a decoded token): GB/s,
    and its share of the copy ceiling of the same device and dtype (``views.bandwidth_share``)."""
    if not any(r["bytes_per_s"] for r in rows):
        return table
    header = [*table.header, "GB/s", "of copy ceiling"]
    body = [
        [
            *cells,
            format_figure((r["bytes_per_s"] or 0) / 1e9),
            format_bounded_share(r["bandwidth_share"], r["bandwidth_share_mark"]),
        ]
        for cells, r in zip(table.rows, rows)
    ]
    width = len(table.header)
    return Table(header, body, numeric=table.numeric | {width, width + 1})


def _with_conditions(
    table: Table, rows: list[dict[str, Any]], run_rows: list[dict[str, Any]]
) -> Table:
    """A last column marking the cases measured under bad conditions (busy, battery,
    low-power, throttled), where any case of the run was."""
    if not any(r["flags"] for r in run_rows):
        return table
    header = [*table.header, "conditions"]
    body = [
        [*cells, Markup(", ".join(f"*{escape(flag)}*" for flag in r["flags"]) or "-")]
        for cells, r in zip(table.rows, rows)
    ]
    return Table(header, body, numeric=table.numeric)


def _other_sections(doc: Document, run: Run) -> None:
    """The summary sections the report repeats as the summary's tables (``report_text``),
    computed from the run's records by the summary's own code; sections saved by a newer
    suite that this one does not know, as plain tables."""
    summary = views.summarize(run.records)
    tables = [s.text(summary[s.key]) for s in views.SECTIONS if s.report_text and summary[s.key]]
    unknown = [
        (key, [r for r in rows if isinstance(r, dict)])
        for key, rows in run.block.items()
        if key not in summary and isinstance(rows, list)
    ]
    unknown = [(key, rows) for key, rows in unknown if rows]
    if not tables and not unknown:
        return
    doc.heading(3, "Other summary sections")
    for table in tables:
        doc.code(table)
    for key, rows in unknown:
        doc.paragraph(f"{code_span(key)} (as saved in the run):")
        doc.table(_generic_table(rows))


def _generic_table(rows: list[dict[str, Any]]) -> Table:
    header = list(dict.fromkeys(str(k) for r in rows for k in r))
    return Table(header, [[_generic_value(r.get(k)) for k in header] for r in rows])


def _generic_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if math.isfinite(value) else str(value)
    return f"{value!s:.200}"


def _machines_section(doc: Document, runs: list[Run], out: Path) -> list[Path]:
    table = views.machine_table(runs)
    doc.heading(2, "Across machines")
    doc.paragraph(
        "Each column is one device of one run, labelled by its chip or GPU. A cell is the "
        "case's throughput (GB/s for the copy ceiling, TFLOP/s for the matmul ceiling); "
        "cases match on framework, workload, variant, phase, dtype, size, mode and memory "
        "format."
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
            "The runs have no case in common (same workload, variant, phase, dtype, size and "
            "mode): nothing to compare side by side. Run the same size and dtype on each machine."
        )
        return []
    png = plots.machines_plot(table, out / "machines.png")
    if png is None:
        return []
    doc.image(png, "Throughput across machines, relative to the reference column")
    return [png]
