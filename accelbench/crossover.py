"""From which batch size is the accelerator faster than the CPU? Batch sweeps, read back.

A case whose variant ends in ``batch=N`` (``--sweep batch``) is one point of a batch sweep.
This module groups such records (shaped like the entries of pytest-benchmark's saved
JSON: ``{"stats": {"median": ...}, "extra_info": {...}}``) into one curve per framework,
workload, other variant parts, phase, dtype, size and device, and gives per curve:

- the throughput at each batch and the first measured batch whose throughput reaches 90%
  of the curve's best (where the device saturates);
- at batch 1 inference, the isolated latency of one synchronized step (``extra_info``);
- for an accelerator, its speedup over the CPU at each batch both measured (the CPU's
  time per item over the accelerator's), and **the crossover**: the smallest batch from
  which the accelerator's time per item stays below the CPU's.

How the crossover is decided. "Stays below" means: at that batch and at every larger
measured batch the accelerator is faster (speedup > 1). Let b_j be the smallest measured
batch with that property. If it is the first measured batch, the accelerator is *always
faster* in the measured range; if there is none (the largest batch is not faster), it is
*never faster in the measured range*. Otherwise the crossing lies between b_{j-1} (not
faster) and b_j (faster), and is interpolated there on log-log axes: log(speedup) is taken
as linear in log(batch) between the two points, and the crossover is where it is 0
(speedup 1). Both devices' time per item interpolated log-log and intersected give the same
batch. Noisy, non-monotonic data is decided by the same rule: a faster point followed by a
slower one does not count, so the crossover is past the last measured batch where the
accelerator was not faster; the faster batches below it are listed (``faster_below``) so
the reader sees the noise rather than a clean story.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from accelbench import backends
from accelbench.core.spec import variant_batch, without_batch

# The fields that, with the device, name one curve of a batch sweep.
CURVE_FIELDS = ("framework", "workload", "variant", "phase", "dtype", "size")
SATURATION_SHARE = 0.9

CROSSES = "crosses"
ALWAYS = "always faster"
NEVER = "never faster"


@dataclass(frozen=True)
class Crossover:
    """Where an accelerator's speedup over the CPU rises above 1 for good.

    ``status``: CROSSES, ALWAYS or NEVER. ``batch``: the interpolated crossover (CROSSES
    only). ``between``: the measured batches either side of it. ``faster_below``: measured
    batches below the crossover where the accelerator was faster anyway (noise or a dip).
    """

    status: str
    batch: float | None = None
    between: tuple[int, int] | None = None
    faster_below: tuple[int, ...] = ()


def find_crossover(batches: Sequence[int], speedups: Sequence[float]) -> Crossover:
    """The crossover of a speedup curve measured at ascending ``batches`` (see the module
    docstring for the rule). Needs at least one point."""
    if not batches or len(batches) != len(speedups):
        raise ValueError("a crossover needs one speedup per batch, at least one")
    if any(b2 <= b1 for b1, b2 in zip(batches, batches[1:])):
        raise ValueError(f"batches must ascend: {list(batches)}")
    last_not_faster = max((i for i, s in enumerate(speedups) if s <= 1), default=None)
    if last_not_faster is None:
        return Crossover(ALWAYS)
    if last_not_faster == len(batches) - 1:
        return Crossover(NEVER)
    low, high = last_not_faster, last_not_faster + 1
    crossing = interpolate_log_log(batches[low], speedups[low], batches[high], speedups[high])
    faster_below = tuple(b for b, s in zip(batches[:low], speedups[:low]) if s > 1)
    return Crossover(CROSSES, crossing, (batches[low], batches[high]), faster_below)


def interpolate_log_log(b1: float, s1: float, b2: float, s2: float, level: float = 1.0) -> float:
    """The x at which the straight line through (log b1, log s1) and (log b2, log s2)
    reaches log ``level``; ``s1 <= level < s2`` puts it in [b1, b2)."""
    x1, x2 = math.log(b1), math.log(b2)
    y1, y2, y = math.log(s1), math.log(s2), math.log(level)
    return math.exp(x1 + (y - y1) * (x2 - x1) / (y2 - y1))


def saturation_batch(
    batches: Sequence[int], throughputs: Sequence[float], share: float = SATURATION_SHARE
) -> int | None:
    """The first measured batch whose throughput reaches ``share`` of the best measured one
    (not interpolated: a measured point, and the only one a user can pick)."""
    if not throughputs:
        return None
    best = max(throughputs)
    return next(b for b, t in zip(batches, throughputs) if t >= share * best)


def crossover_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per curve (case and device) of every batch sweep in ``records``."""
    curves: dict[tuple[tuple[str, ...], str], dict[int, dict[str, Any]]] = {}
    for record in _measured(records):
        info = record["extra_info"]
        batch = variant_batch(str(info.get("variant", "")))
        if batch is None:
            continue
        case = tuple(
            without_batch(str(info.get(f, ""))) if f == "variant" else str(info.get(f, ""))
            for f in CURVE_FIELDS
        )
        curves.setdefault((case, str(info["device"])), {})[batch] = record

    rows = []
    for (case, device), points in sorted(curves.items(), key=_curve_order):
        batches = sorted(points)
        infos = [points[b]["extra_info"] for b in batches]
        per_item = [_time_per_item(points[b]) for b in batches]
        throughputs = [1 / t for t in per_item]
        row: dict[str, Any] = dict(zip(CURVE_FIELDS, case))
        row.update(
            device=device,
            device_label=infos[-1].get("device_label") or device,
            item_unit=infos[-1].get("item_unit", "items"),
            batches=batches,
            median_s=[points[b]["stats"]["median"] for b in batches],
            time_per_item_s=per_item,
            throughput_per_s=throughputs,
            best_throughput_per_s=max(throughputs),
            saturation_batch=saturation_batch(batches, throughputs),
            latency_batch1_s=infos[0].get("latency_batch1_s") if batches[0] == 1 else None,
            **_against_cpu(device, points, curves.get((case, "cpu"))),
        )
        rows.append(row)
    return rows


def _against_cpu(
    device: str, points: dict[int, dict[str, Any]], cpu: dict[int, dict[str, Any]] | None
) -> dict[str, Any]:
    """An accelerator's speedups over the CPU at the batches both measured, and its crossover."""
    empty: dict[str, Any] = {
        "speedup_batches": [],
        "speedup_over_cpu": [],
        "crossover_status": None,
        "crossover_batch": None,
        "crossover_between": None,
        "faster_below_crossover": [],
    }
    if device == "cpu" or not cpu:
        return empty
    shared = sorted(set(points) & set(cpu))
    if not shared:
        return empty
    speedups = [_time_per_item(cpu[b]) / _time_per_item(points[b]) for b in shared]
    found = find_crossover(shared, speedups)
    return {
        "speedup_batches": shared,
        "speedup_over_cpu": speedups,
        "crossover_status": found.status,
        "crossover_batch": found.batch,
        "crossover_between": list(found.between) if found.between else None,
        "faster_below_crossover": list(found.faster_below),
    }


def _measured(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in records
        if isinstance(r.get("extra_info"), dict)
        and "device" in r["extra_info"]
        and isinstance(r.get("stats"), dict)
        and r["stats"].get("median")
    ]


def _time_per_item(record: dict[str, Any]) -> float:
    """Median seconds per item (image, real token); per step where items are not known."""
    items = record["extra_info"].get("items_per_step") or 1
    return record["stats"]["median"] / items


def _curve_order(item: tuple[tuple[tuple[str, ...], str], Any]) -> tuple[Any, ...]:
    (case, device), _points = item
    order = backends.device_names()
    return (case, order.index(device) if device in order else len(order), device)


# Text -------------------------------------------------------------------------------------


def describe_crossover(row: dict[str, Any]) -> str:
    """The crossover of one row in a few characters: ``11.3 (8-16)``, ``always (1-64)``."""
    status = row.get("crossover_status")
    batches = row.get("speedup_batches") or []
    measured = "-".join(str(b) for b in dict.fromkeys(batches[:1] + batches[-1:]))
    if status == CROSSES:
        low, high = row["crossover_between"]
        text = f"{row['crossover_batch']:.3g} ({low}-{high})"
        return text + (" *" if row.get("faster_below_crossover") else "")
    if status == ALWAYS:
        return f"always faster ({measured})"
    if status == NEVER:
        return f"never faster ({measured})"
    return "-" if row["device"] == "cpu" else "no CPU sweep"


def compact(value: float | None) -> str:
    """3.2k, 41M, 0.107: a figure whose unit is said elsewhere."""
    if value is None:
        return "-"
    value = float(f"{value:.3g}")  # 999.9999 is 1k, not 1e+03
    for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def render_crossover(rows: list[dict[str, Any]]) -> str:
    """A table: one line per curve, one column per batch (throughput, and speedup over the
    CPU), with the crossover, the 90%-of-best batch and the batch-1 latency."""
    from accelbench.summary import format_seconds, format_table

    if not rows:
        return ""
    all_batches = sorted({b for r in rows for b in r["batches"]})
    header = ["case", "phase", "dtype", "device", "crossover", "90% at", "latency b=1"]
    header += [f"b={b}" for b in all_batches]
    body = []
    for r in rows:
        speedups = dict(zip(r["speedup_batches"], r["speedup_over_cpu"]))
        cells = {
            b: compact(t) + (f" {speedups[b]:.2f}x" if b in speedups else "")
            for b, t in zip(r["batches"], r["throughput_per_s"])
        }
        name = " ".join(x for x in (r["framework"], r["workload"], r["variant"]) if x)
        body.append(
            [
                f"{name} ({r['item_unit']}/s)",
                r["phase"],
                r["dtype"],
                r["device"],
                describe_crossover(r),
                str(r["saturation_batch"]),
                format_seconds(r["latency_batch1_s"]),
                *(cells.get(b, "-") for b in all_batches),
            ]
        )
    title = (
        "batch sweep: throughput per batch size (Nx: speedup over the CPU at that batch); "
        "crossover: the batch from which the accelerator stays faster than the CPU, "
        "interpolated log-log between the measured batches in brackets; 90% at: first batch "
        f"reaching {SATURATION_SHARE:.0%} of the device's best throughput; latency b=1: "
        "inference at batch 1, one step then synchronize (isolated, not steady state)"
    )
    text = f"{title}\n{format_table(header, body)}"
    if any(r.get("faster_below_crossover") for r in rows):
        text += (
            "\n* faster at some smaller batch too, then not: the crossover is taken past the "
            "last batch where the accelerator was not faster"
        )
    return text
