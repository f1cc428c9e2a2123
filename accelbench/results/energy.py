"""The energy section: joules per step and items per joule (images/J, tokens/J) where the
run counted energy (NVML), or an accelerator's reason why not."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from accelbench.core.saved_form import format_saved
from accelbench.results.figures import key_of, measured
from accelbench.results.formats import case_words, format_table
from accelbench.results.record import Energy, Record
from accelbench.results.section import Row, Section


@dataclass(frozen=True)
class EnergyRow(Row):
    """``key``: the case on no device. Saved flat: the energy's fields follow the item unit."""

    device: str
    device_label: str | None
    item_unit: str
    energy: Energy

    def as_saved(self) -> dict[str, Any]:
        saved = {k: v for k, v in super().as_saved().items() if k != "energy"}
        saved.update(dataclasses.asdict(self.energy))
        return saved

    @classmethod
    def from_saved(cls, saved: Mapping[str, Any], **given: Any) -> Any:
        energy = Energy(**{f.name: saved[f.name] for f in dataclasses.fields(Energy)})
        return super().from_saved(saved, energy=energy, **given)


def energy_rows(records: Iterable[Record]) -> list[EnergyRow]:
    """Per record with energy measured, or an accelerator's reason why not. The CPU's "not
    measured" says nothing new."""
    return [
        EnergyRow(key_of(r).case, r.device, r.device_label, r.item_unit, r.energy)
        for r in measured(records)
        if r.energy is not None and (r.energy.measured or r.device != "cpu")
    ]


def render(rows: list[EnergyRow]) -> str:
    """Joules per step and items per joule; without a measurement, why not, in one line."""
    done = [r for r in rows if r.energy.measured]
    if not done:
        return "; ".join(sorted({str(r.energy.reason) for r in rows if r.energy.reason}))
    header = ["case", "phase", "dtype", "device", "J/step", "per joule", "mean power", "counter"]
    body = []
    for r in done:
        e = r.energy
        body.append(
            [
                case_words(r.key, "framework", "workload", "variant"),
                r.key.phase,
                r.key.dtype,
                str(r.device),
                format_saved("energy.joules_per_step", e.joules_per_step)
                + (" (coarse)" if e.coarse else ""),
                f"{format_saved('energy.items_per_joule', e.items_per_joule)} {r.item_unit}/J",
                f"{e.mean_power_w:.0f} W" if e.mean_power_w else "-",
                f"{e.counter_check:.2f}x integrated" if e.counter_check else "-",
            ]
        )
    title = (
        "energy over the timed rounds (NVML's energy counter, whole board; counter: its "
        "joules over the sampled power integrated over the same rounds; coarse: a window "
        "under 1 s)"
    )
    return f"{title}\n{format_table(header, body)}"


ENERGY = Section("energy", EnergyRow, energy_rows, render, report_text=False)
