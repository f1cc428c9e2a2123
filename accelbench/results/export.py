"""A saved run in the formats people track benchmarks with.

- ``github-action-benchmark``: its ``customBiggerIsBetter`` input, a JSON list of
  ``{name, unit, value, range, extra}`` with the median throughput (its own ``pytest``
  extractor charts 1/mean and names cases without size or dtype, so two configurations
  of one test collide there);
- ``bencher``: Bencher Metric Format, ``{name: {measure: {value, lower_value,
  upper_value}}}`` with the ``throughput`` (items/s) and ``latency`` (ns per step)
  measures, bounds from the interquartile range;
- ``csv``: one row per benchmark, every identity field and figure in its own column.

Names carry the whole identity (framework, workload, variant, phase, device, dtype, size,
mode, and a memory format other than the default), so a smoke and a
standard run, or fp32 and bf16, never share a series; the machine is in ``extra``
(github-action-benchmark) and a column (CSV); Bencher takes it as the testbed
(``bencher run --testbed``).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from accelbench.results.record import IDENTITY_FIELDS, Record
from accelbench.results.runs import Run

FORMATS = ("github-action-benchmark", "bencher", "csv")


def benchmark_name(record: Record) -> str:
    """``torch cnn train [cuda, fp32, standard, eager]``, ``torch cnn batch=256 train [cuda,
    fp32, standard, compile, channels_last]``; a plain entry keeps its test name."""
    if record.key is None:
        return record.name
    k = record.key
    conditions = (k.device, k.dtype, k.size, k.mode, k.memory_format)
    return f"{k.label} [{', '.join(c for c in conditions if c)}]"


def _names(run: Run) -> dict[int, str]:
    names = {id(r): benchmark_name(r) for r in run.records}
    taken = list(names.values())
    for r in run.records:  # two entries of one identity (e.g. two test files): keep both
        if taken.count(names[id(r)]) > 1:
            names[id(r)] += f" ({r.fullname})"
    return names


def throughput(record: Record) -> tuple[float, float, float, str]:
    """Median throughput with its bounds at the quartiles, and its unit: items per second
    where the suite counted items, else steps per second (1 / median time per step)."""
    if record.throughput_per_s:
        value, unit = record.throughput_per_s, f"{record.item_unit}/s"
    else:
        value, unit = 1.0 / record.median_s, "steps/s"
    s = record.stats
    slowest = s.q3 if s.q3 is not None else s.median
    fastest = s.q1 if s.q1 is not None else s.median
    return value, value * s.median / slowest, value * s.median / fastest, unit


def _extra(run: Run, record: Record) -> str:
    lines = [f"machine: {run.machine}"]
    if record.key is not None:
        lines.append(f"device: {record.label}")
    s = record.stats
    spread = f" (q1..q3 {s.q1:.4g}..{s.q3:.4g} s)" if s.q1 is not None and s.q3 is not None else ""
    lines.append(f"median: {s.median:.4g} s per step{spread}")
    if s.rounds:
        lines.append(f"rounds: {s.rounds} x {s.iterations or 1} steps")
    lines += sorted(f"flag: {flag}" for flag in record.flags)
    if run.partial:
        lines.append(f"run: {run.status}")
    return "\n".join(lines)


def github_action_benchmark(run: Run) -> str:
    names = _names(run)
    out = []
    for r in run.records:
        value, low, high, unit = throughput(r)
        out.append(
            {
                "name": names[id(r)],
                "unit": unit,
                "value": value,
                "range": f"± {float(f'{(high - low) / 2:.3g}'):g}",
                "extra": _extra(run, r),
            }
        )
    return json.dumps(out, indent=2) + "\n"


def bencher(run: Run) -> str:
    names = _names(run)
    out: dict[str, Any] = {}
    for r in run.records:
        value, low, high, _unit = throughput(r)
        s = r.stats
        out[names[id(r)]] = {
            "throughput": {"value": value, "lower_value": low, "upper_value": high},
            "latency": {
                "value": s.median * 1e9,
                "lower_value": (s.q1 if s.q1 is not None else s.median) * 1e9,
                "upper_value": (s.q3 if s.q3 is not None else s.median) * 1e9,
            },
        }
    return json.dumps(out, indent=2) + "\n"


CSV_COLUMNS = (
    "name",
    *IDENTITY_FIELDS,
    "device_label",
    "median_s",
    "q1_s",
    "q3_s",
    "iqr_s",
    "rounds",
    "iterations",
    "throughput_per_s",
    "throughput_unit",
    "tflops_per_s",
    "bytes_per_s",
    "device_time_median_s",
    "flags",
    "run_status",
    "machine",
    "fullname",
)


def _cell(value: Any) -> str:
    return "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


def csv_table(run: Run) -> str:
    names = _names(run)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in run.records:
        value, _low, _high, unit = throughput(r)
        identity = r.key.as_dict() if r.key else dict.fromkeys(IDENTITY_FIELDS, "")
        s = r.stats
        row = {
            "name": names[id(r)],
            **identity,
            "device_label": r.device_label,
            "median_s": s.median,
            "q1_s": s.q1,
            "q3_s": s.q3,
            "iqr_s": s.iqr,
            "rounds": s.rounds,
            "iterations": s.iterations,
            "throughput_per_s": value,
            "throughput_unit": unit,
            "tflops_per_s": r.tflops_per_s,
            "bytes_per_s": r.bytes_per_s,
            "device_time_median_s": r.device_time_median_s,
            "flags": " ".join(sorted(r.flags)),
            "run_status": run.status or "complete",
            "machine": run.machine,
            "fullname": r.fullname,
        }
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
    return buffer.getvalue()


EXPORTERS = {
    "github-action-benchmark": github_action_benchmark,
    "bencher": bencher,
    "csv": csv_table,
}


def export(run: Run, fmt: str) -> str:
    return EXPORTERS[fmt](run)
