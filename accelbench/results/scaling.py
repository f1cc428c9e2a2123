"""The scaling section: per device and implementation of a sequence-length sweep, the median
at each length, the exponent of time against length (over all lengths and over the longer
half) and the speedup over the CPU at each length; the curve is the variant without its
``L`` part (``sdpa-L=1024-batch=16`` lies on the curve ``sdpa-batch=16``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from accelbench.core.numbers import format_seconds
from accelbench.core.spec import CaseSpec, parse_length_variant
from accelbench.results.figures import (
    MIN_FIT_POINTS,
    curve_rows,
    key_of,
    longer_half_exponent,
    measured,
    speedup,
    trusted_exponent,
)
from accelbench.results.formats import case_words, format_exponent, format_table
from accelbench.results.record import Record
from accelbench.results.section import Row, Section


@dataclass(frozen=True)
class ScalingRow(Row):
    """One curve: ``key`` is its case on no device and with no variant, ``implementation``
    the variant without its length. ``flagged``: per length, whether the point is marked
    (noisy, or measured under bad conditions); the exponents leave those points out."""

    DROPPED = ("variant",)

    device: str
    device_label: str | None
    implementation: str
    lengths: tuple[int, ...]
    median_s: tuple[float, ...]
    tflops_per_s: tuple[float | None, ...]
    flagged: tuple[bool, ...]
    exponent: float | None
    exponent_long: float | None
    speedup_over_cpu: tuple[float | None, ...] | None


def _curves(records: Iterable[Record]) -> dict[CaseSpec, dict[int, Record]]:
    """Per curve (the key with the variant naming only the implementation): length -> record."""
    curves: dict[CaseSpec, dict[int, Record]] = {}
    for r in measured(records):
        point = parse_length_variant(key_of(r).variant)
        if point is not None:
            implementation, length = point
            curves.setdefault(key_of(r).replace(variant=implementation), {})[length] = r
    return curves


def scaling_rows(records: Iterable[Record]) -> list[ScalingRow]:
    """One row per (case, device, implementation) with at least one length measured."""
    return curve_rows(_curves(records), _row)


def _row(curve: CaseSpec, points: dict[int, Record], cpu: dict[int, Record] | None) -> ScalingRow:
    lengths = sorted(points)
    medians = [points[n].median_s for n in lengths]
    flagged = [bool(points[n].marks) for n in lengths]
    return ScalingRow(
        curve.replace(device="", variant=""),
        device=curve.device,
        device_label=points[lengths[-1]].device_label,
        implementation=curve.variant,
        lengths=tuple(lengths),
        median_s=tuple(medians),
        tflops_per_s=tuple(points[n].tflops_per_s for n in lengths),
        flagged=tuple(flagged),
        exponent=trusted_exponent(lengths, medians, flagged),
        exponent_long=longer_half_exponent(lengths, medians, flagged),
        speedup_over_cpu=None
        if curve.device == "cpu"
        else tuple(speedup(cpu.get(n) if cpu else None, points[n]) for n in lengths),
    )


def render(rows: list[ScalingRow]) -> str:
    """One line per curve, one column per length (median, and speedup over the CPU)."""
    if not rows:
        return ""
    all_lengths = sorted({n for r in rows for n in r.lengths})
    header = ["case", "phase", "dtype", "device", "impl", "exponent", "longer half"]
    header += [f"L={n}" for n in all_lengths]
    body = []
    for r in rows:
        speedups = r.speedup_over_cpu or [None] * len(r.lengths)
        cells = {
            n: format_seconds(t) + ("*" if bad else "") + (f" {s:.2f}x" if s else "")
            for n, t, s, bad in zip(r.lengths, r.median_s, speedups, r.flagged)
        }
        body.append(
            [
                case_words(r.key, "framework", "workload", "mode"),
                r.key.phase,
                r.key.dtype,
                r.device,
                r.implementation,
                format_exponent(r.exponent),
                format_exponent(r.exponent_long),
                *(cells.get(n, "-") for n in all_lengths),
            ]
        )
    title = (
        "scaling with sequence length (median time per step; exponent: least-squares slope "
        "of log time against log length, over all lengths and over the longer half; "
        "Nx: speedup over the CPU at that length)"
    )
    notes = (
        f"exponents are fitted through at least {MIN_FIT_POINTS} lengths, leaving out the "
        "points marked * (noisy, or measured while the machine was busy or throttled); "
        "'-': too few points"
    )
    return f"{title}\n{format_table(header, body)}\n{notes}"


SCALING = Section("scaling", ScalingRow, scaling_rows, render)
