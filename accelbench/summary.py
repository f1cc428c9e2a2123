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

from accelbench import framework_compare, marks, scaling

CASE_FIELDS = ("framework", "workload", "phase", "variant", "dtype", "size")


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
    return tuple(str(info.get(f, "")) for f in CASE_FIELDS)


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
    for key, devices in sorted(by_case.items(), key=lambda item: natural_key(item[0])):
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


def _figures(prefix: str, record: dict[str, Any] | None) -> dict[str, Any]:
    if record is None:
        return {
            f"{prefix}_median_s": None,
            f"{prefix}_throughput_per_s": None,
            f"{prefix}_tflops_per_s": None,
            f"{prefix}_marks": [],
        }
    return {
        f"{prefix}_median_s": record["stats"]["median"],
        f"{prefix}_throughput_per_s": record["extra_info"].get("throughput_per_s"),
        f"{prefix}_tflops_per_s": record["extra_info"].get("tflops_per_s"),
        f"{prefix}_marks": marks.marks(record),
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


def format_bandwidth(bytes_per_s: float | None) -> str:
    """Bytes per second in decimal units: 89.8 GB/s, 4.22 TB/s."""
    if bytes_per_s is None:
        return "-"
    for suffix, scale in (("TB/s", 1e12), ("GB/s", 1e9), ("MB/s", 1e6)):
        if bytes_per_s >= scale:
            return f"{bytes_per_s / scale:.3g} {suffix}"
    return f"{bytes_per_s / 1e3:.3g} kB/s"


def format_throughput(value: float | None, unit: str, tflops: float | None = None) -> str:
    """A throughput in the unit people quote: TFLOP/s for the matmul ceiling, GB/s or TB/s
    for bytes, otherwise items per second."""
    if unit == "matmuls" and tflops:
        return f"{tflops:.3g} TFLOP/s"
    if unit == "bytes":
        return format_bandwidth(value)
    return format_rate(value, unit)


def format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def render_speedups(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    if not any(r["device"] for r in rows):
        return render_cpu_only(rows)
    header = [
        "case",
        "phase",
        "dtype",
        "cpu median",
        "cpu throughput",
        "device",
        "median",
        "throughput",
        "speedup",
        "marks",
    ]
    body = []
    for r in rows:
        unit = r["item_unit"]
        body.append(
            [
                " ".join(x for x in (r["framework"], r["workload"], r["variant"]) if x),
                r["phase"],
                r["dtype"],
                format_seconds(r["cpu_median_s"]),
                format_throughput(r["cpu_throughput_per_s"], unit, r.get("cpu_tflops_per_s")),
                r["device"] or "-",
                format_seconds(r["device_median_s"]),
                format_throughput(r["device_throughput_per_s"], unit, r.get("device_tflops_per_s")),
                f"{r['speedup']:.2f}x" if r["speedup"] else "-",
                _marks_text(r),
            ]
        )
    title = "speedup over the CPU (median time per step, steady state; higher is faster)"
    return f"{title}\n{format_table(header, body)}{_marks_legend(rows)}"


def render_cpu_only(rows: list[dict[str, Any]]) -> str:
    """The speedup rows of a run without an accelerator: the CPU's figures only, no columns
    of dashes."""
    header = ["case", "phase", "dtype", "median", "throughput", "marks"]
    body = [
        [
            " ".join(x for x in (r["framework"], r["workload"], r["variant"]) if x),
            r["phase"],
            r["dtype"],
            format_seconds(r["cpu_median_s"]),
            format_throughput(r["cpu_throughput_per_s"], r["item_unit"], r.get("cpu_tflops_per_s")),
            ", ".join(r.get("cpu_marks") or []),
        ]
        for r in rows
    ]
    title = "CPU only (median time per step, steady state)"
    return f"{title}\n{format_table(header, body)}{_marks_legend(rows)}"


def _marks_text(row: dict[str, Any]) -> str:
    parts = [
        f"{who} {', '.join(row.get(f'{prefix}_marks') or [])}"
        for who, prefix in (("cpu", "cpu"), (row["device"] or "", "device"))
        if row.get(f"{prefix}_marks")
    ]
    return "; ".join(parts)


def _marks_legend(rows: list[dict[str, Any]]) -> str:
    found = {m for r in rows for p in ("cpu", "device") for m in r.get(f"{p}_marks") or []}
    if not found:
        return ""
    legend = []
    if marks.NOISY in found:
        legend.append(
            f"noisy: IQR over {marks.NOISY_IQR_SHARE:.0%} of the median; re-run before "
            "trusting a difference"
        )
    conditions = sorted(found - {marks.NOISY})
    if conditions:
        legend.append(f"{', '.join(conditions)}: see the warning at the top of this summary")
    return "\nmarks: " + "; ".join(legend)


# The headline -------------------------------------------------------------------------------


def headline_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The speedup rows a headline names: every measured speedup, but of a sequence-length
    sweep only the longest length each implementation has on both devices."""
    with_speedup = [r for r in rows if r["speedup"]]
    longest: dict[tuple[Any, ...], int] = {}
    for r in with_speedup:
        point = scaling.parse_length_variant(r["variant"])
        if point:
            key = (_headline_key(r), r["device"], point[0])
            longest[key] = max(longest.get(key, 0), point[1])
    kept = []
    for r in with_speedup:
        point = scaling.parse_length_variant(r["variant"])
        if point is None or point[1] == longest[(_headline_key(r), r["device"], point[0])]:
            kept.append(r)
    return kept


def _headline_key(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(row[f]) for f in ("framework", "workload", "phase", "dtype", "size"))


def render_headline(
    rows: list[dict[str, Any]],
    accelerators_asked: tuple[str, ...] | list[str] = (),
    unusable: dict[str, list[str]] | None = None,
) -> str:
    """The answer first: per workload and phase, each accelerator's speedup over the CPU; or
    one line saying why there is none (no accelerator asked for, or none usable, and why)."""
    kept = headline_rows(rows)
    if not kept:
        if rows and not accelerators_asked:
            return "headline: only the CPU was asked for (--devices cpu): no speedup to give"
        reasons = [
            f"{device}: {'; '.join(sorted(set(why)))}"
            for device, why in sorted((unusable or {}).items())
            if device != "cpu" and why
        ]
        if rows and not any(r["device"] for r in rows):
            detail = f": {' | '.join(reasons)}" if reasons else ""
            return f"headline: no accelerator was usable, so no speedup{detail}"
        if rows:
            return "headline: no CPU case ran beside the accelerator, so no speedup"
        return ""
    lines: dict[tuple[str, ...], list[str]] = {}
    for r in kept:
        who = f"{r['variant']} " if r["variant"] else ""
        flagged = sorted({m for p in ("cpu", "device") for m in r.get(f"{p}_marks") or []})
        note = f" ({', '.join(flagged)})" if flagged else ""
        lines.setdefault(_headline_key(r), []).append(
            f"{who}{r['device']} {format_speedup_short(r['speedup'])}{note}"
        )
    width = max(len(_headline_name(k)) for k in lines)
    body = [f"  {_headline_name(k).ljust(width)}  {', '.join(v)}" for k, v in lines.items()]
    title = (
        "headline: speedup over the CPU (CPU median / accelerator median time per step; "
        "higher is faster; a length sweep at its longest length)"
    )
    return "\n".join([title, *body])


def _headline_name(key: tuple[str, ...]) -> str:
    framework, workload, phase, dtype, size = key
    return f"{framework} {workload} {phase} {dtype} {size}"


def format_speedup_short(value: float) -> str:
    return f"{value:.3g}x" + (" (slower)" if value < 1 else "")


# Energy --------------------------------------------------------------------------------------


def energy_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per benchmark with energy measured (or an accelerator's reason why not): joules per
    step and items per joule."""
    rows = []
    for r in measured(records):
        info = r["extra_info"]
        energy = info.get("energy")
        if not isinstance(energy, dict):
            continue
        if not energy.get("measured") and info.get("device") == "cpu":
            continue
        row: dict[str, Any] = {f: str(info.get(f, "")) for f in CASE_FIELDS}
        row["device"] = info.get("device")
        row.update(
            {
                k: energy.get(k)
                for k in (
                    "measured",
                    "reason",
                    "source",
                    "joules_per_step",
                    "items_per_joule",
                    "item_unit",
                    "mean_power_w",
                    "window_s",
                    "coarse",
                    "counter_vs_power_usage",
                    "counter_vs_power_instant",
                )
            }
        )
        rows.append(row)
    return sorted(rows, key=lambda row: natural_key(tuple(str(row[f]) for f in CASE_FIELDS)))


def render_energy(rows: list[dict[str, Any]]) -> str:
    done = [r for r in rows if r["measured"]]
    if not done:
        reasons = sorted({str(r["reason"]) for r in rows if r.get("reason")})
        return "; ".join(reasons)
    header = ["case", "phase", "dtype", "device", "J/step", "per joule", "mean power", "counter"]
    body = []
    for r in done:
        check = r.get("counter_vs_power_instant") or r.get("counter_vs_power_usage")
        body.append(
            [
                " ".join(x for x in (r["framework"], r["workload"], r["variant"]) if x),
                r["phase"],
                r["dtype"],
                str(r["device"]),
                f"{r['joules_per_step']:.3g}" + (" (coarse)" if r.get("coarse") else ""),
                f"{format_compact_number(r['items_per_joule'])} {r['item_unit']}/J",
                f"{r['mean_power_w']:.0f} W",
                f"{check:.2f}x integrated" if check else "-",
            ]
        )
    title = (
        "energy over the timed rounds (NVML's energy counter, whole board; counter: its "
        "joules over the sampled power integrated over the same rounds; coarse: a window "
        "under 1 s)"
    )
    return f"{title}\n{format_table(header, body)}"


def format_compact_number(value: float | None) -> str:
    if value is None:
        return "-"
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


SECTIONS: list[Section] = [
    Section("speedups", speedup_rows, render_speedups),
    Section("scaling", scaling.scaling_rows, scaling.render_scaling),
    Section("frameworks", framework_compare.framework_rows, framework_compare.render_frameworks),
    Section("energy", energy_rows, render_energy),
]


def compute_all(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {s.key: s.compute(records) for s in SECTIONS}


def render_all(computed: dict[str, list[dict[str, Any]]]) -> str:
    parts = [s.render(computed[s.key]) for s in SECTIONS if computed.get(s.key)]
    return "\n\n".join(p for p in parts if p)
