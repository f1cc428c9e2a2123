"""The summary's sections, and the per-record rows ``report`` draws.

``SECTIONS`` is the one registry: each ``Section`` computes its typed rows from records,
words them as a table, adds its headline lines and says whether the report repeats its
table. The end-of-run summary, the saved ``accelbench`` block of the JSON (``compute_all``)
and ``report`` all compute them from the same ``Record`` values, so they show the same
numbers:

- speedups (``results.speedups``): per case, each accelerator's speedup over the CPU;
- scaling (``results.scaling``): exponents of time against sequence length;
- frameworks (``results.frameworks``): a workload in several frameworks side by side;
- llm (``results.llm``): the language model in llama-bench's names, with shares of the
  run's ceilings;
- crossover (``results.crossover``): batch sweeps and the CPU/accelerator crossover;
- data_parallel (``results.data_parallel``): data-parallel scaling efficiency;
- modes (``results.modes``): compiled beside eager, channels_last beside the default layout;
- energy (``results.energy``): joules per step and items per joule.

Below them: one row per record with every figure the report shows (shares of the run's
ceilings from ``results.shares``), the attention series and the across-machines table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from accelbench.core.ceilings import COPY, MATMUL
from accelbench.core.saved_form import format_saved
from accelbench.core.spec import IDENTITY_FIELDS, LLM_PHASES, CaseSpec
from accelbench.results.crossover import CROSSOVER
from accelbench.results.data_parallel import DATA_PARALLEL
from accelbench.results.energy import ENERGY
from accelbench.results.figures import key_of, measured, speedup, sweep_points
from accelbench.results.frameworks import FRAMEWORKS
from accelbench.results.llm import LLM
from accelbench.results.modes import MODES
from accelbench.results.record import (
    Energy,
    Record,
    device_order,
    execution_label,
    mode_order,
    natural_key,
)
from accelbench.results.scaling import SCALING, scaling_rows
from accelbench.results.section import Row, Section
from accelbench.results.shares import Share, ceilings, copy_share, is_ceiling, matmul_share
from accelbench.results.speedups import SPEEDUPS

if TYPE_CHECKING:
    from accelbench.results.runs import Run

SECTIONS: tuple[Section[Any], ...] = (
    SPEEDUPS,
    SCALING,
    FRAMEWORKS,
    LLM,
    CROSSOVER,
    DATA_PARALLEL,
    MODES,
    ENERGY,
)

Summary = dict[str, list[Row]]  # section key -> its rows, in SECTIONS order


def section(key: str) -> Section[Any] | None:
    return next((s for s in SECTIONS if s.key == key), None)


def summarize(records: Iterable[Record]) -> Summary:
    """Every section's typed rows."""
    records = list(records)
    return {s.key: s.rows(records) for s in SECTIONS}


def as_saved(summary: Summary) -> dict[str, list[dict[str, Any]]]:
    return {key: section(key).saved(rows) for key, rows in summary.items()}  # type: ignore[union-attr]


def load(saved: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
    """Saved sections as typed rows, in SECTIONS order, then any other section as it was
    saved (plain dicts: a section of a newer suite that this one does not know)."""
    known = {s.key: s.load(saved[s.key]) for s in SECTIONS if s.key in saved}
    return {**known, **{k: rows for k, rows in saved.items() if k not in known}}


def compute_all(records: Iterable[Record]) -> dict[str, list[dict[str, Any]]]:
    """Every section, as saved in the run's ``accelbench`` block and printed at its end."""
    return as_saved(summarize(records))


def accelerator_measured(summary: Mapping[str, list[Any]]) -> bool:
    """Whether any accelerator case was measured (a speedup row names a device)."""
    return any(r.device for r in summary.get(SPEEDUPS.key) or [])


@dataclass(frozen=True)
class CaseRow:
    """One measured record with every figure the report shows: its speedup over the CPU by
    the summary's rule (None for the CPU itself: it is the reference), its TFLOP/s as a share
    of the run's matmul ceiling and its bytes/s of the copy ceiling (``results.shares``)."""

    key: CaseSpec
    device_label: str
    median_s: float
    iqr_s: float | None
    noisy: bool
    flags: tuple[str, ...]
    energy: Energy | None
    items_per_s: float | None
    item_unit: str
    tflops_per_s: float | None
    bytes_per_s: float | None
    matmul_share: Share
    copy_share: Share
    speedup: float | None
    ceiling: bool
    compile_time_s: float | None

    @property
    def device(self) -> str:
        return self.key.device

    def order(self) -> tuple[Any, ...]:
        """Ceilings last; then by case, with the devices in their usual order."""
        k = self.key
        return (
            self.ceiling,
            k.workload,
            k.framework,
            k.phase,
            natural_key(k.variant),
            mode_order(k.mode),
            k.memory_format,
            k.dtype,
            k.size,
            device_order(k.device),
        )

    def throughput_cell(self) -> str:
        return format_saved("throughput_per_s", self.items_per_s, self.item_unit)

    def headline(self) -> tuple[float | None, str]:
        """The one figure that says how fast a case ran: GB/s for a copy, TFLOP/s for a
        matmul ceiling, otherwise items per second; with its unit."""
        if self.ceiling and self.key.variant == COPY and self.bytes_per_s:
            return self.bytes_per_s / 1e9, "GB/s"
        if self.ceiling and self.key.variant == MATMUL and self.tflops_per_s:
            return self.tflops_per_s, "TFLOP/s"
        return self.items_per_s, f"{self.item_unit}/s"


def case_rows(records: Iterable[Record]) -> list[CaseRow]:
    """One row per measured record, in the report's order."""
    records = measured(records)
    by_case: dict[CaseSpec, dict[str, Record]] = {}
    for r in records:
        by_case.setdefault(key_of(r).case, {})[r.device] = r
    peaks = ceilings(records)
    rows = [
        CaseRow(
            key=key_of(r),
            device_label=r.label,
            median_s=r.median_s,
            iqr_s=r.stats.iqr,
            noisy=r.noisy,
            flags=tuple(r.condition_flags),
            energy=r.energy,
            items_per_s=r.throughput_per_s,
            item_unit=r.item_unit,
            tflops_per_s=r.tflops_per_s,
            bytes_per_s=r.bytes_per_s,
            matmul_share=matmul_share(r, peaks),
            copy_share=copy_share(r, peaks),
            speedup=None if r.device == "cpu" else speedup(by_case[key_of(r).case].get("cpu"), r),
            ceiling=is_ceiling(r),
            compile_time_s=r.compile_time_s,
        )
        for r in records
    ]
    return sorted(rows, key=CaseRow.order)


def bar_rows(rows: list[CaseRow]) -> list[CaseRow]:
    """The rows a bar chart shows: of a sequence-length sweep only its longest length (the
    attention plot shows them all), of a batch sweep only its largest batch (the batch
    plots show them all)."""
    largest: dict[tuple[str, CaseSpec], int] = {}
    for row in rows:
        for sweep, value in sweep_points(row.key).items():
            largest[sweep] = max(largest.get(sweep, 0), value)
    return [
        row
        for row in rows
        if all(value == largest[sweep] for sweep, value in sweep_points(row.key).items())
    ]


# Attention series (report) ----------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """Time per step against sequence length for one implementation on one device, with the
    exponents of the scaling section (the same rows, so the same values)."""

    label: str
    lengths: list[int]
    medians_s: list[float]
    slope: float | None
    slope_longer_half: float | None


def attention_series(records: Iterable[Record]) -> list[Series]:
    """One series per scaling row: ``<implementation> on <device label>``, with the
    framework, workload, phase, dtype, size, mode and layout where they vary between rows.
    The language model's context sweep (``ctx-L=512``, phases pp and tg) is no attention:
    its own section shows it."""
    rows = [r for r in scaling_rows(records) if r.key.phase not in LLM_PHASES]
    fields = [f for f in IDENTITY_FIELDS if f not in ("variant", "device")]
    varying = [f for f in fields if len({getattr(r.key, f) for r in rows}) > 1]
    series = []
    for r in rows:
        extras = [getattr(r.key, f) for f in varying if getattr(r.key, f)]
        label = f"{r.implementation} on {r.device_label or r.device}"
        label += f" ({', '.join(extras)})" if extras else ""
        series.append(Series(label, list(r.lengths), list(r.median_s), r.exponent, r.exponent_long))
    return series


# Across machines (report) -----------------------------------------------------------------


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
    """Every case of every run, one column per device of each run; cases match on their
    whole identity but the device."""
    column_keys: list[tuple[int, str]] = []
    labels: list[str] = []
    cells: dict[CaseSpec, dict[tuple[int, str], float | None]] = {}
    first: dict[CaseSpec, tuple[str, str, CaseRow]] = {}  # name, unit, a row on no device
    for index, run in enumerate(runs):
        for row in case_rows(run.records):
            col = (index, row.device)
            if col not in column_keys:
                column_keys.append(col)
                labels.append(row.device_label)
            value, unit = row.headline()
            case = row.key.case
            cells.setdefault(case, {})[col] = value
            execution = execution_label(case.mode, case.memory_format, default="")
            conditions = ", ".join(c for c in (case.dtype, case.size, execution) if c)
            first.setdefault(case, (f"{case.label} ({conditions})", unit, replace(row, key=case)))
    shared = {label for label in labels if labels.count(label) > 1}
    labels = [  # the same chip in two runs: tell the columns apart
        f"{label} [run {key[0] + 1}]" if label in shared else label
        for label, key in zip(labels, column_keys)
    ]
    order = sorted(cells, key=lambda k: first[k][2].order())
    plotted = set(bar_rows([first[k][2] for k in order]))
    return MachineTable(
        columns=labels,
        cases=[first[k][0] for k in order],
        units=[first[k][1] for k in order],
        values=[[cells[k].get(col) for col in column_keys] for k in order],
        in_plot=[first[k][2] in plotted for k in order],
    )
