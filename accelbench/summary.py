"""Views across benchmarks that pytest-benchmark cannot give: speedup over the CPU.

Everything here reads records shaped like the entries of pytest-benchmark's saved JSON
(``{"stats": {...}, "extra_info": {...}}``), so the end-of-run summary and ``report`` on
a saved run compute the same numbers the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from accelbench import framework_compare, modes_view, scaling

CASE_FIELDS = (
    "framework",
    "workload",
    "phase",
    "variant",
    "mode",
    "memory_format",
    "batch",
    "dtype",
    "size",
)
# The value of a field that records saved before it existed meant (eager execution).
FIELD_DEFAULTS = {"mode": "eager"}


@dataclass(frozen=True)
class Section:
    """One summary view: rows computed from records, saved under ``accelbench.<key>`` in
    the JSON and rendered as text at the end of a run."""

    key: str
    compute: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
    render: Callable[[list[dict[str, Any]]], str]


def measured(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records of this suite that carry a timing (plain pytest-benchmark entries are left out)."""
    return [
        r
        for r in records
        if isinstance(r.get("extra_info"), dict)
        and "device" in r["extra_info"]
        and isinstance(r.get("stats"), dict)
        and r["stats"].get("median")
    ]


def case_key(record: dict[str, Any]) -> tuple[str, ...]:
    info = record["extra_info"]
    return tuple(str(info.get(f) or FIELD_DEFAULTS.get(f, "")) for f in CASE_FIELDS)


def natural_key(fields: tuple[str, ...]) -> list[Any]:
    """Sort "L=64" before "L=128": digit runs compare as numbers."""
    return [
        [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", field)]
        for field in fields
    ]


def speedup_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per case and accelerator: the CPU's and the accelerator's median and throughput."""
    by_case: dict[tuple[str, ...], dict[str, dict[str, Any]]] = {}
    for r in measured(records):
        by_case.setdefault(case_key(r), {})[r["extra_info"]["device"]] = r
    rows = []
    for key, devices in sorted(
        by_case.items(), key=lambda item: natural_key(_eager_first(item[0]))
    ):
        cpu = devices.get("cpu")
        accelerators = sorted(d for d in devices if d != "cpu") or [None]
        for name in accelerators:
            acc = devices.get(name) if name else None
            row: dict[str, Any] = dict(zip(CASE_FIELDS, key))
            row["item_unit"] = (cpu or acc)["extra_info"].get("item_unit", "items")
            row.update(_figures("cpu", cpu))
            row["device"] = name
            row.update(_figures("device", acc))
            row["device_label"] = acc["extra_info"].get("device_label") if acc else None
            row["speedup"] = (
                cpu["stats"]["median"] / acc["stats"]["median"] if cpu and acc else None
            )
            rows.append(row)
    return rows


def _eager_first(key: tuple[str, ...]) -> tuple[str, ...]:
    """A case key whose mode sorts eager before the compiled modes."""
    return tuple(
        ("" if value == "eager" else value) if field == "mode" else value
        for field, value in zip(CASE_FIELDS, key)
    )


def _figures(prefix: str, record: dict[str, Any] | None) -> dict[str, Any]:
    if record is None:
        return {f"{prefix}_median_s": None, f"{prefix}_throughput_per_s": None}
    return {
        f"{prefix}_median_s": record["stats"]["median"],
        f"{prefix}_throughput_per_s": record["extra_info"].get("throughput_per_s"),
    }


def format_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def format_rate(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g}{suffix} {unit}/s".strip()
    return f"{value:.3g} {unit}/s".strip()


def format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def render_speedups(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    header = [
        "case",
        "phase",
        "mode",
        "dtype",
        "cpu median",
        "cpu throughput",
        "device",
        "median",
        "throughput",
        "speedup",
    ]
    body = []
    for r in rows:
        unit = r["item_unit"]
        batch = f"batch={r['batch']}" if r.get("batch") else ""
        body.append(
            [
                " ".join(x for x in (r["framework"], r["workload"], r["variant"], batch) if x),
                r["phase"],
                modes_view.execution_label(r),
                r["dtype"],
                format_seconds(r["cpu_median_s"]),
                format_rate(r["cpu_throughput_per_s"], unit),
                r["device"] or "-",
                format_seconds(r["device_median_s"]),
                format_rate(r["device_throughput_per_s"], unit),
                f"{r['speedup']:.2f}x" if r["speedup"] else "-",
            ]
        )
    title = "speedup over the CPU (median time per step, steady state; higher is faster)"
    return f"{title}\n{format_table(header, body)}"


SECTIONS: list[Section] = [
    Section("speedups", speedup_rows, render_speedups),
    Section("scaling", scaling.scaling_rows, scaling.render_scaling),
    Section("frameworks", framework_compare.framework_rows, framework_compare.render_frameworks),
    Section("modes", modes_view.mode_rows, modes_view.render_modes),
]


def compute_all(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {s.key: s.compute(records) for s in SECTIONS}


def render_all(computed: dict[str, list[dict[str, Any]]]) -> str:
    parts = [s.render(computed[s.key]) for s in SECTIONS if computed.get(s.key)]
    return "\n\n".join(p for p in parts if p)
