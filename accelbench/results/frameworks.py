"""The frameworks section: a workload built the same in several frameworks, every framework
on a device beside every other, each against its own CPU."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from accelbench.core.numbers import format_seconds
from accelbench.core.saved_form import format_saved
from accelbench.core.spec import CaseSpec
from accelbench.results.figures import (
    FRAMEWORK_NAMES,
    framework_order,
    key_of,
    measured,
    speedup,
)
from accelbench.results.formats import case_words, format_speedup, format_table
from accelbench.results.record import Record, device_order
from accelbench.results.section import Row, Section


def pair_key(first: str, second: str) -> str:
    """``torch_vs_tf``: how many times faster ``first`` ran than ``second`` on a device."""
    return f"{first}_vs_{second}"


@dataclass(frozen=True)
class FrameworkFigures:
    """One framework's figures on the row's device; all None where it did not run there."""

    median_s: float | None = None
    throughput_per_s: float | None = None
    tflops_per_s: float | None = None
    device_label: str | None = None
    speedup_over_cpu: float | None = None


@dataclass(frozen=True)
class FrameworkRow(Row):
    """A case (``key``: on no device and in no framework) on one device: per framework of
    ``frameworks`` its figures, and per pair of them (in ``combinations`` order) how many
    times faster the first ran. Saved flat: ``torch_median_s``, ..., ``torch_vs_tf``."""

    DROPPED = ("framework",)

    device: str
    frameworks: tuple[str, ...]
    item_unit: str
    figures: tuple[FrameworkFigures, ...]
    pairs: tuple[float | None, ...]

    def of(self, framework: str) -> FrameworkFigures:
        if framework not in self.frameworks:
            return FrameworkFigures()
        return self.figures[self.frameworks.index(framework)]

    def pair(self, first: str, second: str) -> float | None:
        pairs = list(combinations(self.frameworks, 2))
        return self.pairs[pairs.index((first, second))] if (first, second) in pairs else None

    def as_saved(self) -> dict[str, Any]:
        saved = {k: v for k, v in super().as_saved().items() if k not in ("figures", "pairs")}
        for fw, figures in zip(self.frameworks, self.figures):
            saved.update((f"{fw}_{k}", v) for k, v in dataclasses.asdict(figures).items())
        for (first, second), ratio in zip(combinations(self.frameworks, 2), self.pairs):
            saved[pair_key(first, second)] = ratio
        return saved

    @classmethod
    def from_saved(cls, saved: Mapping[str, Any], **given: Any) -> Any:
        names = tuple(saved["frameworks"])
        fields = [f.name for f in dataclasses.fields(FrameworkFigures)]
        figures = tuple(FrameworkFigures(*(saved[f"{fw}_{f}"] for f in fields)) for fw in names)
        pairs = tuple(saved[pair_key(a, b)] for a, b in combinations(names, 2))
        return super().from_saved(saved, figures=figures, pairs=pairs, **given)


def framework_rows(records: Iterable[Record]) -> list[FrameworkRow]:
    """For each workload measured in two or more frameworks, one row per device: every
    framework's median, throughput and speedup over its own CPU, and for every pair of
    frameworks how many times faster the first ran (``torch_vs_tf`` = tf median / torch
    median). A framework that did not run on a device leaves its figures None."""
    cases: dict[CaseSpec, dict[str, dict[str, Record]]] = {}
    for r in measured(records):
        case = key_of(r).replace(framework="", device="")
        cases.setdefault(case, {}).setdefault(r.device, {})[key_of(r).framework] = r
    rows = []
    for case, devices in sorted(cases.items(), key=lambda item: item[0].sort_key()):
        names = sorted({fw for by_fw in devices.values() for fw in by_fw}, key=framework_order)
        if len(names) > 1:
            rows += [_row(case, devices, d, names) for d in sorted(devices, key=device_order)]
    return rows


def _row(
    case: CaseSpec, devices: dict[str, dict[str, Record]], device: str, names: list[str]
) -> FrameworkRow:
    here, cpu = devices[device], devices.get("cpu", {})

    def figures(fw: str) -> FrameworkFigures:
        record = here.get(fw)
        if record is None:
            return FrameworkFigures()
        return FrameworkFigures(
            record.median_s,
            record.throughput_per_s,
            record.tflops_per_s,
            record.device_label,
            speedup(cpu.get(fw), record) if device != "cpu" else None,
        )

    return FrameworkRow(
        case,
        device=device,
        frameworks=tuple(names),
        item_unit=next(iter(here.values())).item_unit,
        figures=tuple(figures(fw) for fw in names),
        pairs=tuple(speedup(here.get(b), here.get(a)) for a, b in combinations(names, 2)),
    )


def render(rows: list[FrameworkRow]) -> str:
    """Every framework's median, throughput and speedup over its own CPU, then a column per
    pair of frameworks (``torch/tf`` above 1: PyTorch faster on that device)."""
    if not rows:
        return ""
    names = sorted({fw for r in rows for fw in r.frameworks}, key=framework_order)
    header = ["case", "phase", "dtype", "device"]
    for fw in names:
        header += [f"{fw} median", f"{fw} throughput", f"{fw} vs own cpu"]
    pairs = list(combinations(names, 2))
    header += [f"{a}/{b}" for a, b in pairs]
    body = []
    for r in rows:
        line = [case_words(r.key, "workload", "variant", "mode", "memory_format")]
        line += [r.key.phase, r.key.dtype, r.device]
        for fw in names:
            figures = r.of(fw)
            line += [
                format_seconds(figures.median_s),
                format_saved(
                    "throughput_per_s", figures.throughput_per_s, r.item_unit, figures.tflops_per_s
                ),
                format_speedup(figures.speedup_over_cpu),
            ]
        line += [format_speedup(r.pair(a, b)) for a, b in pairs]
        body.append(line)
    shown = " vs ".join(FRAMEWORK_NAMES.get(fw, fw) for fw in names)
    first, second = pairs[0]
    title = (
        f"{shown}, same network and batch (median time per step; {first}/{second} above 1: "
        f"{FRAMEWORK_NAMES.get(first, first)} faster)"
    )
    return f"{title}\n{format_table(header, body)}"


FRAMEWORKS = Section("frameworks", FrameworkRow, framework_rows, render)
