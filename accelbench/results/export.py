"""A saved run in the formats people track benchmarks with.

- ``github-action-benchmark``: its ``customBiggerIsBetter`` input, a JSON list of
  ``{name, unit, value, range, extra}`` with the median throughput (its own ``pytest``
  extractor charts 1/mean and names cases without size or dtype, so two configurations
  of one test collide there). ``range`` is the throughput at the quartiles of the time per
  step, as text (``"80000..160000"``): the interquartile range, never a "±" that a skewed
  case would make wider than the value; ``extra`` carries the provenance.
- ``bencher``: Bencher Metric Format, ``{name: {measure: {value, lower_value,
  upper_value}}}``, bounds at the quartiles, one measure per unit, each named by its unit
  (``throughput-tokens-per-s``, ``throughput-images-per-s``, ``throughput-bytes-per-s``,
  ``flop-per-s``, ``latency-ns-per-token``, ...), so a chart never mixes units. BMF has no
  field for provenance: ``bencher run`` takes the commit (``--hash``) and the machine
  (``--testbed``), and Bencher dates each report itself (docs/exports.md).
- ``csv``: one row per benchmark, every identity field, figure and the run's provenance in
  its own column; every text cell that a spreadsheet would read as a formula starts with
  a single quote, and every cell is quoted.

Names carry the whole identity (framework, workload, variant, phase, device, dtype, size,
mode, and a memory format other than the default), so a smoke and a standard run, or fp32
and bf16, never share a series. The provenance of every row: the commit, the run's date,
a machine id and a run id (``Provenance``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from accelbench.core.spec import IDENTITY_FIELDS
from accelbench.results import llama_bench
from accelbench.results.record import Record
from accelbench.results.runs import Run

FORMATS = ("github-action-benchmark", "bencher", "csv", "llama-bench", "llama-bench-md")


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


@dataclass(frozen=True)
class Provenance:
    """Where a row comes from, so that concatenated exports keep it: the commit measured
    (``-dirty`` with uncommitted changes), the run's date, the machine (a hash of its host
    name and description: the same machine gets the same id in every run) and the run (a
    hash of the saved run)."""

    commit: str
    date: str
    machine_id: str
    run_id: str


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def provenance(run: Run) -> Provenance:
    info = run.data.get("commit_info")
    info = info if isinstance(info, dict) else {}
    commit = str(info.get("id") or "")
    if commit and info.get("dirty"):
        commit += "-dirty"
    host = str(run.machine_info.get("node") or "")
    return Provenance(
        commit=commit,
        date=run.datetime,
        machine_id=_short_hash(f"{host}\n{run.machine}"),
        run_id=_short_hash(json.dumps(run.data, sort_keys=True, default=str)),
    )


def throughput(record: Record) -> tuple[float, float, float, str]:
    """Median throughput with its bounds at the quartiles, and its unit: items per second
    where the suite counted items, else steps per second (1 / median time per step)."""
    if record.throughput_per_s:
        value, unit = record.throughput_per_s, f"{record.item_unit}/s"
    else:
        value, unit = 1.0 / record.median_s, "steps/s"
    slowest, fastest = _quartiles_s(record)
    return value, value * record.median_s / slowest, value * record.median_s / fastest, unit


def _quartiles_s(record: Record) -> tuple[float, float]:
    """The slowest and fastest quartile of the time per step (the median where unknown)."""
    s = record.stats
    return (
        s.q3 if s.q3 is not None else s.median,
        s.q1 if s.q1 is not None else s.median,
    )


def _figure(value: float) -> str:
    """Four significant digits, without an exponent where the number is an ordinary size."""
    return f"{float(f'{value:.4g}'):.10g}"


def interquartile_range(low: float, high: float) -> str:
    """``"80000..160000"``: a throughput's bounds at the quartiles, as text."""
    return f"{_figure(low)}..{_figure(high)}"


def _extra(run: Run, record: Record, origin: Provenance) -> str:
    lines = [f"machine: {run.machine}", f"machine id: {origin.machine_id}"]
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
    lines += [
        f"commit: {origin.commit or 'unknown'}",
        f"date: {origin.date or 'unknown'}",
        f"run id: {origin.run_id}",
    ]
    return "\n".join(lines)


def github_action_benchmark(run: Run) -> str:
    names = _names(run)
    origin = provenance(run)
    out = []
    for r in run.records:
        value, low, high, unit = throughput(r)
        out.append(
            {
                "name": names[id(r)],
                "unit": unit,
                "value": value,
                "range": interquartile_range(low, high),
                "extra": _extra(run, r, origin),
            }
        )
    return json.dumps(out, indent=2) + "\n"


def _per_second(unit: str) -> str:
    return f"throughput-{unit.lower()}-per-s"


def _singular(unit: str) -> str:
    return unit[:-1] if unit.endswith("s") else unit


def _bounds(value: float, low: float, high: float) -> dict[str, float]:
    return {"value": value, "lower_value": low, "upper_value": high}


def bencher_measures(record: Record) -> Iterator[tuple[str, dict[str, float]]]:
    """A record's Bencher measures, one per unit, each named by its unit: its throughput
    (items or steps per second), FLOP/s and bytes/s where known, and latency per item."""
    value, low, high, unit = throughput(record)
    item = unit.removesuffix("/s")
    yield _per_second(item), _bounds(value, low, high)
    scale = value * record.median_s  # items per step (1 for steps)
    if record.tflops_per_s:
        flops = record.tflops_per_s * 1e12
        yield "flop-per-s", _bounds(flops, flops * low / value, flops * high / value)
    bytes_per_s = record.bytes_per_s
    if bytes_per_s and item != "bytes":
        yield (
            _per_second("bytes"),
            _bounds(bytes_per_s, bytes_per_s * low / value, bytes_per_s * high / value),
        )
    slowest, fastest = _quartiles_s(record)
    yield (
        f"latency-ns-per-{_singular(item)}",
        _bounds(record.median_s * 1e9 / scale, fastest * 1e9 / scale, slowest * 1e9 / scale),
    )


def bencher(run: Run) -> str:
    names = _names(run)
    out: dict[str, Any] = {names[id(r)]: dict(bencher_measures(r)) for r in run.records}
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
    "commit",
    "date",
    "machine_id",
    "run_id",
)

# A cell starting with one of these is a formula to a spreadsheet (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(text: str) -> str:
    """Text a spreadsheet shows as text: a leading single quote where it would start a
    formula (OWASP's advice for CSV injection)."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return f"{value:.6g}" if isinstance(value, float) else str(value)
    return escape_cell(str(value))


def csv_table(run: Run) -> str:
    names = _names(run)
    origin = provenance(run)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
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
            "commit": origin.commit,
            "date": origin.date,
            "machine_id": origin.machine_id,
            "run_id": origin.run_id,
        }
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
    return buffer.getvalue()


EXPORTERS = {
    "github-action-benchmark": github_action_benchmark,
    "bencher": bencher,
    "csv": csv_table,
    "llama-bench": llama_bench.jsonl,
    "llama-bench-md": llama_bench.markdown,
}


def export(run: Run, fmt: str) -> str:
    return EXPORTERS[fmt](run)
