"""The modes section: a case run in several ways on a device (compiled beside eager,
channels_last beside the default layout), each way against the eager or default-layout one,
with its compilation time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from accelbench.core.numbers import format_seconds
from accelbench.core.saved_form import format_saved
from accelbench.core.spec import EAGER, CaseSpec
from accelbench.results.figures import key_of, measured, speedup
from accelbench.results.formats import case_words, format_speedup, format_table
from accelbench.results.record import Record, device_order, execution_label, mode_order
from accelbench.results.section import Row, Section

# Compiling fuses kernels and drops launches, a different layout changes the kernels: either
# moves a step by a few times. A ratio outside this range (214x and 0.06x were printed on a
# busy 2-core VM) says more about the measurement than the mode.
PLAUSIBLE_MODE_RATIO = (0.1, 20.0)
IMPLAUSIBLE = "implausible"
RECOMPILED = "recompiled"


def mode_ratio_mark(reference: Record | None, record: Record) -> str | None:
    """Why a ratio of two ways of running a case deserves less trust: either side marked
    (noisy, busy, ...), recompiles in the timed rounds, or a ratio outside
    ``PLAUSIBLE_MODE_RATIO``; None when there is no ratio or nothing to say."""
    ratio = speedup(reference, record)
    if reference is None or ratio is None:
        return None
    marks = list(dict.fromkeys([*reference.marks, *record.marks]))
    if record.recompiles_timed:
        marks.append(RECOMPILED)
    low, high = PLAUSIBLE_MODE_RATIO
    if not low <= ratio <= high:
        marks.append(IMPLAUSIBLE)
    return ", ".join(marks) or None


@dataclass(frozen=True)
class ModeRow(Row):
    """One way a case ran on a device (``key``: the case on no device, eager, in the default
    layout), with three ratios of median times per step (above 1: faster):

    - ``speedup_over_cpu``: against the CPU running the same mode and layout (the speedup
      table's rule);
    - ``compile_over_eager``: a compiled case against the eager one, same device and layout;
    - ``layout_over_default``: a channels_last case against the default layout, same device
      and mode;

    each of the last two with its ``_mark`` (``mode_ratio_mark``), and the compilation
    time, measured apart from the timed rounds."""

    device: str
    device_label: str | None
    mode: str
    memory_format: str
    item_unit: str
    median_s: float
    throughput_per_s: float | None
    tflops_per_s: float | None
    speedup_over_cpu: float | None
    compile_over_eager: float | None
    compile_over_eager_mark: str | None
    layout_over_default: float | None
    layout_over_default_mark: str | None
    compile_time_s: float | None
    recompiles_timed: int | None
    graph_breaks: int | None


def _order(key: CaseSpec) -> tuple[Any, ...]:
    case = key.replace(device="", mode=EAGER, memory_format="")
    return (case.sort_key(), device_order(key.device), key.memory_format, mode_order(key.mode))


def mode_rows(records: Iterable[Record]) -> list[ModeRow]:
    """One row per record of a run that has any case compiled or in another layout (none
    otherwise)."""
    records = measured(records)
    if all(key_of(r).execution == EAGER for r in records):
        return []
    index = {key_of(r): r for r in records}
    return [_row(key, index) for key in sorted(index, key=_order)]


def _row(key: CaseSpec, index: dict[CaseSpec, Record]) -> ModeRow:
    record = index[key]
    cpu = index.get(key.replace(device="cpu")) if key.device != "cpu" else None
    eager = index.get(key.replace(mode=EAGER)) if key.mode != EAGER else None
    default = index.get(key.replace(memory_format="")) if key.memory_format else None
    return ModeRow(
        key.replace(device="", mode=EAGER, memory_format=""),
        device=key.device,
        device_label=record.device_label,
        mode=key.mode,
        memory_format=key.memory_format,
        item_unit=record.item_unit,
        median_s=record.median_s,
        throughput_per_s=record.throughput_per_s,
        tflops_per_s=record.tflops_per_s,
        speedup_over_cpu=speedup(cpu, record),
        compile_over_eager=speedup(eager, record),
        compile_over_eager_mark=mode_ratio_mark(eager, record),
        layout_over_default=speedup(default, record),
        layout_over_default_mark=mode_ratio_mark(default, record),
        compile_time_s=record.compile_time_s,
        recompiles_timed=record.recompiles_timed,
        graph_breaks=record.graph_breaks,
    )


def _marked_ratio(row: ModeRow, name: str) -> str:
    """``2.00x``, or with its mark: ``214.02x (noisy, implausible)``."""
    ratio, mark = getattr(row, name), getattr(row, f"{name}_mark")
    return format_speedup(ratio) + (f" ({mark})" if mark and ratio else "")


MODE_MARKS_LEGEND = (
    "ratio marks: noisy, busy, ...: one of the two cases was; recompiled: the compiled case "
    "recompiled in its timed rounds; implausible: outside "
    f"{PLAUSIBLE_MODE_RATIO[0]:g}x-{PLAUSIBLE_MODE_RATIO[1]:g}x, more likely the "
    "measurement than the mode: re-run before trusting it"
)


def render(rows: list[ModeRow]) -> str:
    """Per device, each way a case ran: its median, throughput and speedup over the CPU run
    the same way, then compile/eager and layout/nchw where the run has them, and the
    compilation time and timed recompiles of compiled cases."""
    if not rows:
        return ""
    layouts = any(r.memory_format for r in rows)
    compiled = any(r.mode != EAGER for r in rows)
    header = ["case", "phase", "dtype", "device", "mode", "median", "throughput", "vs cpu"]
    header += ["compile/eager"] if compiled else []
    header += ["layout/nchw"] if layouts else []
    header += ["compile time", "recompiles"] if compiled else []
    body = []
    for r in rows:
        line = [case_words(r.key, "framework", "workload", "variant"), r.key.phase, r.key.dtype]
        line += [
            r.device,
            execution_label(r.mode, r.memory_format),
            format_seconds(r.median_s),
            format_saved("throughput_per_s", r.throughput_per_s, r.item_unit, r.tflops_per_s),
            format_speedup(r.speedup_over_cpu),
        ]
        line += [_marked_ratio(r, "compile_over_eager")] if compiled else []
        line += [_marked_ratio(r, "layout_over_default")] if layouts else []
        if compiled:
            recompiles = r.recompiles_timed
            line += [
                format_saved("compile_time_s", r.compile_time_s),
                "-" if recompiles is None else str(recompiles),
            ]
        body.append(line)
    title = (
        "execution modes, same device (median time per step; ratios above 1 are faster: "
        "vs cpu = the CPU in the same mode and layout, compile/eager = eager over compiled "
        "or graph, per item where a step holds more (graph mode's tg step is a round), "
        "layout/nchw = NCHW over channels_last; compile time: first call until compiled "
        "steps were steady, outside the timed rounds)"
    )
    text = f"{title}\n{format_table(header, body)}"
    if any(r.compile_over_eager_mark or r.layout_over_default_mark for r in rows):
        text += "\n" + MODE_MARKS_LEGEND
    return text


MODES = Section("modes", ModeRow, mode_rows, render)
