"""How time grows with sequence length: a fitted exponent and the speedup at each length.

A case whose variant reads ``<implementation>-L=<length>`` (``naive-L=128``, ``sdpa-L=4096``)
is one point on a scaling curve. This module groups such records (shaped like the entries
of pytest-benchmark's saved JSON) per device and implementation, and gives per group the
median at each length, the least-squares slope of log(time) against log(length), and each
accelerator's speedup over the CPU at each length.

The slope is fitted twice: over every length, and over the longer half of the lengths.
At short lengths a GPU step costs about its kernel launches whatever L is, which flattens
the curve (an H200 ran naive attention at L=128, 256 and 512 in about 82 us each), so the
longer half is where attention's L^2 shows (about 2).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

_LENGTH_VARIANT = re.compile(r"^(?P<implementation>[A-Za-z0-9_.]+)-L=(?P<length>[0-9]+)$")

# The fields that, with the device and the implementation, name one curve.
CURVE_FIELDS = ("framework", "workload", "phase", "mode", "batch", "dtype", "size")


def length_variant(implementation: str, length: int) -> str:
    """The variant string of one point: ``length_variant("sdpa", 4096) == "sdpa-L=4096"``."""
    variant = f"{implementation}-L={length}"
    if parse_length_variant(variant) != (implementation, length):
        raise ValueError(f"{implementation!r} cannot name an implementation in a variant")
    return variant


def parse_length_variant(variant: str) -> tuple[str, int] | None:
    """``"naive-L=128"`` -> ``("naive", 128)``; None for a variant that names no length."""
    match = _LENGTH_VARIANT.match(variant)
    if match is None:
        return None
    return match["implementation"], int(match["length"])


def fit_exponent(lengths: Sequence[float], times: Sequence[float]) -> float | None:
    """The slope of the least-squares line through (log length, log time).

    ``time = c * length**p`` gives ``p``. None with fewer than two distinct lengths or a
    non-positive time, where no slope exists.
    """
    if len(set(lengths)) < 2 or any(t <= 0 for t in times) or any(n <= 0 for n in lengths):
        return None
    slope, _intercept = np.polyfit(np.log(lengths), np.log(times), 1)
    return float(slope)


def longer_half(
    lengths: Sequence[int], times: Sequence[float]
) -> tuple[Sequence[int], Sequence[float]]:
    """The points at the longer half of the (sorted) lengths; the middle one too, for an odd
    count. Two lengths have one point there, and so no slope."""
    start = len(lengths) // 2
    return lengths[start:], times[start:]


def scaling_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (case, device, implementation) with at least one length measured."""
    from accelbench.summary import measured  # summary imports this module: import late

    curves: dict[tuple[Any, ...], dict[int, dict[str, Any]]] = {}
    for record in measured(records):
        info = record["extra_info"]
        point = parse_length_variant(str(info.get("variant", "")))
        if point is None:
            continue
        implementation, length = point
        case = tuple(str(info.get(f) or ("eager" if f == "mode" else "")) for f in CURVE_FIELDS)
        curves.setdefault((case, str(info["device"]), implementation), {})[length] = record

    rows = []
    for (case, device, implementation), points in sorted(curves.items()):
        lengths = sorted(points)
        medians = [points[n]["stats"]["median"] for n in lengths]
        row: dict[str, Any] = dict(zip(CURVE_FIELDS, case))
        row.update(
            device=device,
            device_label=points[lengths[-1]]["extra_info"].get("device_label"),
            implementation=implementation,
            lengths=lengths,
            median_s=medians,
            tflops_per_s=[points[n]["extra_info"].get("tflops_per_s") for n in lengths],
            exponent=fit_exponent(lengths, medians),
            exponent_long=fit_exponent(*longer_half(lengths, medians)),
            speedup_over_cpu=None,
        )
        cpu = curves.get((case, "cpu", implementation))
        if device != "cpu":
            row["speedup_over_cpu"] = [
                cpu[n]["stats"]["median"] / points[n]["stats"]["median"]
                if cpu and n in cpu
                else None
                for n in lengths
            ]
        rows.append(row)
    return rows


def render_scaling(rows: list[dict[str, Any]]) -> str:
    """A table: one line per curve, one column per length (median, and speedup over the CPU)."""
    from accelbench.summary import format_seconds, format_table

    if not rows:
        return ""
    all_lengths = sorted({n for r in rows for n in r["lengths"]})
    header = ["case", "phase", "dtype", "device", "impl", "exponent", "longer half"]
    header += [f"L={n}" for n in all_lengths]
    body = []
    for r in rows:
        speedups = r["speedup_over_cpu"] or [None] * len(r["lengths"])
        cells = {
            n: format_seconds(t) + (f" {s:.2f}x" if s else "")
            for n, t, s in zip(r["lengths"], r["median_s"], speedups)
        }
        body.append(
            [
                " ".join(
                    x
                    for x in (
                        r["framework"],
                        r["workload"],
                        r.get("mode") if r.get("mode") != "eager" else "",
                        f"batch={r['batch']}" if r.get("batch") else "",
                    )
                    if x
                ),
                r["phase"],
                r["dtype"],
                r["device"],
                r["implementation"],
                format_exponent(r["exponent"]),
                format_exponent(r["exponent_long"]),
                *(cells.get(n, "-") for n in all_lengths),
            ]
        )
    title = (
        "scaling with sequence length (median time per step; exponent: least-squares slope "
        "of log time against log length, over all lengths and over the longer half; "
        "Nx: speedup over the CPU at that length)"
    )
    return f"{title}\n{format_table(header, body)}"


def format_exponent(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.2f}"
