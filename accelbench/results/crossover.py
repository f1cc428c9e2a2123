"""From which batch size is the accelerator faster than the CPU? Batch sweeps, read back.

A case whose variant has a ``batch=N`` part (``--sweep batch``) is one point of a batch
sweep. This view groups such records into one curve per case and device (the case's whole
identity with the batch part of its variant removed), and gives per curve:

- the throughput at each batch and the first measured batch whose throughput reaches 90%
  of the curve's best (where the device saturates);
- at batch 1 inference, the isolated latency of one synchronized step
  (``Record.latency_batch1_s``);
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

Rows are ``CrossoverRow`` values, saved under ``accelbench.crossover`` (``Row.as_saved``); the
section's headline says from which batch each accelerator is faster.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from accelbench.core.numbers import format_compact
from accelbench.core.saved_form import format_saved
from accelbench.core.spec import CaseSpec, variant_batch, without_batch
from accelbench.results.figures import curve_rows
from accelbench.results.formats import case_words, format_table, headline_block
from accelbench.results.record import Record
from accelbench.results.section import Row, Section

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


def time_per_item(record: Record) -> float:
    """Median seconds per item (image, real token); per step where items are not known."""
    return record.median_s / (record.items_per_step or 1)


def sweep_curves(records: Iterable[Record]) -> dict[CaseSpec, dict[int, Record]]:
    """Per curve (the key with the batch part of its variant removed): batch -> record."""
    curves: dict[CaseSpec, dict[int, Record]] = {}
    for r in records:
        if r.key is None:
            continue
        batch = variant_batch(r.key.variant)
        if batch is not None:
            curve = r.key.replace(variant=without_batch(r.key.variant))
            curves.setdefault(curve, {})[batch] = r
    return curves


@dataclass(frozen=True)
class CrossoverRow(Row):
    """One curve (``key``: the case and device, the batch part of its variant removed):
    per measured batch its median, time per item and throughput; for an accelerator, its
    speedups over the CPU at the batches both measured and its crossover (``Crossover``)."""

    device_label: str | None
    item_unit: str
    batches: tuple[int, ...]
    median_s: tuple[float, ...]
    time_per_item_s: tuple[float, ...]
    throughput_per_s: tuple[float, ...]
    best_throughput_per_s: float
    saturation_batch: int | None
    latency_batch1_s: float | None
    speedup_batches: tuple[int, ...] = ()
    speedup_over_cpu: tuple[float, ...] = ()
    crossover_status: str | None = None
    crossover_batch: float | None = None
    crossover_between: tuple[int, int] | None = None
    faster_below_crossover: tuple[int, ...] = ()

    def best_cell(self) -> str:
        """The best throughput and the batch it was reached at: ``128k images/s (b=64)``."""
        best = max(range(len(self.batches)), key=lambda i: self.throughput_per_s[i])
        shown = format_saved("throughput_per_s", self.best_throughput_per_s, self.item_unit)
        return f"{shown} (b={self.batches[best]})"


def crossover_rows(records: Iterable[Record]) -> list[CrossoverRow]:
    """One row per curve (case and device) of every batch sweep in ``records``."""
    return curve_rows(sweep_curves(records), _row)


def _row(curve: CaseSpec, points: dict[int, Record], cpu: dict[int, Record] | None) -> CrossoverRow:
    batches = sorted(points)
    per_item = [time_per_item(points[b]) for b in batches]
    throughputs = [1 / t for t in per_item]
    return CrossoverRow(
        curve,
        device_label=points[batches[-1]].label,
        item_unit=points[batches[-1]].item_unit,
        batches=tuple(batches),
        median_s=tuple(points[b].median_s for b in batches),
        time_per_item_s=tuple(per_item),
        throughput_per_s=tuple(throughputs),
        best_throughput_per_s=max(throughputs),
        saturation_batch=saturation_batch(batches, throughputs),
        latency_batch1_s=points[1].latency_batch1_s if 1 in points else None,
        **_against_cpu(curve.device, points, cpu),
    )


def _against_cpu(
    device: str, points: dict[int, Record], cpu: dict[int, Record] | None
) -> dict[str, object]:
    """An accelerator's speedups over the CPU at the batches both measured, and its crossover
    (nothing for the CPU, or without a CPU sweep at a shared batch)."""
    shared = sorted(set(points) & set(cpu or {})) if device != "cpu" else []
    if not shared:
        return {}
    speedups = [time_per_item(cpu[b]) / time_per_item(points[b]) for b in shared]  # type: ignore[index]
    found = find_crossover(shared, speedups)
    return {
        "speedup_batches": tuple(shared),
        "speedup_over_cpu": tuple(speedups),
        "crossover_status": found.status,
        "crossover_batch": found.batch,
        "crossover_between": found.between,
        "faster_below_crossover": found.faster_below,
    }


def describe_crossover(row: CrossoverRow) -> str:
    """The crossover of one row in a few characters: ``11.3 (8-16)``, ``always faster (1-64)``;
    `` *`` after a crossing when the accelerator was faster at a smaller batch too."""
    status = row.crossover_status
    batches = row.speedup_batches
    measured = "-".join(str(b) for b in dict.fromkeys(batches[:1] + batches[-1:]))
    if status == CROSSES:
        low, high = row.crossover_between
        text = f"{row.crossover_batch:.3g} ({low}-{high})"
        return text + (" *" if row.faster_below_crossover else "")
    if status == ALWAYS:
        return f"always faster ({measured})"
    if status == NEVER:
        return f"never faster ({measured})"
    return "-" if row.key.device == "cpu" else "no CPU sweep"


def render(rows: list[CrossoverRow]) -> str:
    """One line per curve, one column per batch (throughput, and speedup over the CPU), with
    the crossover, the 90%-of-best batch and the batch-1 latency."""
    if not rows:
        return ""
    all_batches = sorted({b for r in rows for b in r.batches})
    header = ["case", "phase", "dtype", "device", "crossover", "90% at", "latency b=1"]
    header += [f"b={b}" for b in all_batches]
    body = []
    for r in rows:
        speedups = dict(zip(r.speedup_batches, r.speedup_over_cpu))
        cells = {
            b: format_compact(t) + (f" {speedups[b]:.2f}x" if b in speedups else "")
            for b, t in zip(r.batches, r.throughput_per_s)
        }
        body.append(
            [
                f"{case_words(r.key, 'framework', 'workload', 'variant', 'mode', 'memory_format')} "
                f"({r.item_unit}/s)",
                r.key.phase,
                r.key.dtype,
                r.key.device,
                describe_crossover(r),
                str(r.saturation_batch),
                format_saved("latency_batch1_s", r.latency_batch1_s),
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
    if any(r.faster_below_crossover for r in rows):
        text += (
            "\n* faster at some smaller batch too, then not: the crossover is taken past the "
            "last batch where the accelerator was not faster"
        )
    return text


def headline(rows: list[CrossoverRow]) -> list[str]:
    """``  torch cnn infer fp32 smoke  mps from batch 11.3 (8-16)``: per case of a batch
    sweep, from which batch each accelerator is faster than the CPU."""
    lines: dict[str, list[str]] = {}
    for r in rows:
        if r.crossover_status not in (CROSSES, ALWAYS, NEVER):
            continue
        name = case_words(r.key, "framework", "workload", "variant", "phase", "dtype", "size")
        found = describe_crossover(r)
        found = f"from batch {found}" if r.crossover_status == CROSSES else found
        lines.setdefault(name, []).append(f"{r.key.device} {found}")
    title = "headline: the accelerator is faster than the CPU (batch sweep, per item)"
    return headline_block(title, lines) if lines else []


CROSSOVER = Section("crossover", CrossoverRow, crossover_rows, render, headline)
