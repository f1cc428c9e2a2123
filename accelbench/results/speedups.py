"""The speedups section: per case and accelerator, the CPU's and the accelerator's median
and throughput, and the speedup (CPU median / accelerator median); its headline names every
accelerator's speedup per workload and phase, a sweep at its largest point."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from accelbench.core.conditions import FLAG_WORDS
from accelbench.core.numbers import format_seconds
from accelbench.core.saved_form import format_saved
from accelbench.core.spec import CaseSpec
from accelbench.results.figures import key_of, measured, speedup, sweep_points
from accelbench.results.formats import (
    case_words,
    folded_columns,
    format_speedup,
    format_speedup_short,
    format_table,
    headline_block,
    marks_legend,
)
from accelbench.results.record import NOISY, Record, device_order, execution_label
from accelbench.results.section import Row, Section


@dataclass(frozen=True)
class SpeedupRow(Row):
    """``key``: the case on no device; ``device``: the accelerator, None where only the CPU
    ran the case."""

    item_unit: str
    cpu_median_s: float | None
    cpu_throughput_per_s: float | None
    cpu_tflops_per_s: float | None
    cpu_marks: tuple[str, ...]
    device: str | None
    device_median_s: float | None
    device_throughput_per_s: float | None
    device_tflops_per_s: float | None
    device_marks: tuple[str, ...]
    device_label: str | None
    speedup: float | None


def speedup_rows(records: Iterable[Record]) -> list[SpeedupRow]:
    """Per case and accelerator: the CPU's and the accelerator's median and throughput."""
    by_case: dict[CaseSpec, dict[str, Record]] = {}
    for r in measured(records):
        by_case.setdefault(key_of(r).case, {})[r.device] = r
    rows = []
    for case, devices in sorted(by_case.items(), key=lambda item: item[0].sort_key()):
        accelerators = sorted((d for d in devices if d != "cpu"), key=device_order) or [None]
        rows += [_row(case, devices, name) for name in accelerators]
    return rows


def _row(case: CaseSpec, devices: dict[str, Record], name: str | None) -> SpeedupRow:
    cpu, acc = devices.get("cpu"), devices.get(name) if name else None
    return SpeedupRow(
        case,
        item_unit=(cpu or acc).item_unit,  # type: ignore[union-attr]
        cpu_median_s=cpu.median_s if cpu else None,
        cpu_throughput_per_s=cpu.throughput_per_s if cpu else None,
        cpu_tflops_per_s=cpu.tflops_per_s if cpu else None,
        cpu_marks=tuple(cpu.marks) if cpu else (),
        device=name,
        device_median_s=acc.median_s if acc else None,
        device_throughput_per_s=acc.throughput_per_s if acc else None,
        device_tflops_per_s=acc.tflops_per_s if acc else None,
        device_marks=tuple(acc.marks) if acc else (),
        device_label=acc.device_label if acc else None,
        speedup=speedup(cpu, acc),
    )


def _marks_text(row: SpeedupRow) -> str:
    """``cpu noisy; cuda busy``: whose figure is marked, and with what."""
    parts = [
        f"{who} {', '.join(marks)}"
        for who, marks in (("cpu", row.cpu_marks), (row.device or "", row.device_marks))
        if marks
    ]
    return "; ".join(parts)


def render(rows: list[SpeedupRow]) -> str:
    """Per case, the CPU's and each accelerator's figures and the speedup. Without any
    accelerator measured: the CPU's figures only, titled so, no columns of dashes."""
    if not rows:
        return ""
    if not any(r.device for r in rows):
        with folded_columns():
            return _render_speedups(rows, "CPU only (median time per step, steady state)")
    return _render_speedups(
        rows, "speedup over the CPU (median time per step, steady state; higher is faster)"
    )


def _render_speedups(rows: list[SpeedupRow], title: str) -> str:
    found = {m for r in rows for p in ("cpu", "device") for m in getattr(r, f"{p}_marks")}
    header = ["case", "phase", "mode", "dtype", "cpu median", "cpu throughput", "device"]
    header += ["median", "throughput", "speedup"] + (["marks"] if found else [])
    body = []
    for r in rows:
        unit = r.item_unit
        body.append(
            [
                case_words(r.key, "framework", "workload", "variant"),
                r.key.phase,
                execution_label(r.key.mode, r.key.memory_format),
                r.key.dtype,
                format_seconds(r.cpu_median_s),
                format_saved("throughput_per_s", r.cpu_throughput_per_s, unit, r.cpu_tflops_per_s),
                r.device or "-",
                format_seconds(r.device_median_s),
                format_saved(
                    "throughput_per_s", r.device_throughput_per_s, unit, r.device_tflops_per_s
                ),
                format_speedup(r.speedup),
                *([_marks_text(r)] if found else []),
            ]
        )
    legend = marks_legend(found)
    return f"{title}\n{format_table(header, body)}" + (f"\n{legend}" if legend else "")


def headline_rows(rows: list[SpeedupRow]) -> list[SpeedupRow]:
    """The speedup rows a headline names: every measured speedup, but of a sweep (sequence
    length, batch) only its largest point that each accelerator has beside the CPU."""
    with_speedup = [r for r in rows if r.speedup]

    def points(row: SpeedupRow) -> dict[tuple[object, ...], int]:
        return {(*sweep, row.device): value for sweep, value in sweep_points(row.key).items()}

    largest: dict[tuple[object, ...], int] = {}
    for row in with_speedup:
        for sweep, value in points(row).items():
            largest[sweep] = max(largest.get(sweep, 0), value)
    return [
        row
        for row in with_speedup
        if all(value == largest[sweep] for sweep, value in points(row).items())
    ]


def headline(rows: list[SpeedupRow]) -> list[str]:
    """``  torch resnet18 train fp32 smoke  cuda 36.8x, mps 4.1x (noisy)``: per case (a
    sweep at its largest point), each accelerator's speedup over the CPU and its marks."""
    lines: dict[str, list[str]] = {}
    for r in headline_rows(rows):
        name = case_words(r.key, "framework", "workload", "phase", "dtype", "size")
        name += " " + execution_label(r.key.mode, r.key.memory_format, default="")
        who = f"{r.key.variant} " if r.key.variant else ""
        flagged = [m for m in (NOISY, *FLAG_WORDS) if m in {*r.cpu_marks, *r.device_marks}]
        note = f" ({', '.join(flagged)})" if flagged else ""
        lines.setdefault(name.strip(), []).append(
            f"{who}{r.device} {format_speedup_short(r.speedup)}{note}"
        )
    title = (
        "headline: speedup over the CPU (CPU median / accelerator median time per step; "
        "higher is faster; a sweep at its longest length or largest batch)"
    )
    return headline_block(title, lines) if lines else []


SPEEDUPS = Section("speedups", SpeedupRow, speedup_rows, render, headline, report_text=False)
