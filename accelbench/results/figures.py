"""The rules every summary section shares: a speedup, the exponent of a scaling curve, the
order of frameworks. Each figure has one rule, so the summary, the saved ``accelbench``
block and ``report`` show the same value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import numpy as np

from accelbench.core.spec import SWEEP_KEYS, CaseSpec, Variant, VariantError
from accelbench.results.record import Record

FRAMEWORK_ORDER = ("torch", "tf", "mlx")
FRAMEWORK_NAMES = {"torch": "PyTorch", "tf": "TensorFlow", "mlx": "MLX"}
# A line through two points always fits, so an exponent through fewer than three says
# nothing (on a busy machine two-point exponents of -5.4 and -6.5 were printed).
MIN_FIT_POINTS = 3
MIN_LENGTHS_FOR_LONGER_HALF = 2 * MIN_FIT_POINTS - 1  # its longer half has MIN_FIT_POINTS


def speedup(reference: Record | None, record: Record | None) -> float | None:
    """How many times faster ``record`` ran than ``reference``: reference median / its median,
    per item where their steps hold different numbers of items (a language model's tg step
    is one token eagerly and a whole round of them in graph mode)."""
    if reference is None or record is None:
        return None
    ratio = reference.median_s / record.median_s
    items, reference_items = record.items_per_step, reference.items_per_step
    if items and reference_items and items != reference_items:
        ratio *= items / reference_items
    return ratio


def fit_exponent(lengths: Sequence[float], times: Sequence[float]) -> float | None:
    """The slope of the least-squares line through (log length, log time).

    ``time = c * length**p`` gives ``p``. None with fewer than two distinct lengths or a
    non-positive value, where no slope exists.
    """
    if len(set(lengths)) < 2 or any(t <= 0 for t in times) or any(n <= 0 for n in lengths):
        return None
    slope, _intercept = np.polyfit(np.log(lengths), np.log(times), 1)
    return float(slope)


def longer_half(
    lengths: Sequence[int], times: Sequence[float]
) -> tuple[Sequence[int], Sequence[float]]:
    """The points at the longer half of the (sorted) lengths; the middle one too, for an odd
    count."""
    start = len(lengths) // 2
    return lengths[start:], times[start:]


def trusted_exponent(
    lengths: Sequence[int], times: Sequence[float], flagged: Sequence[bool] = ()
) -> float | None:
    """``fit_exponent`` through the points not ``flagged`` (noisy, or measured while the
    machine was busy or throttled); None under ``MIN_FIT_POINTS`` distinct lengths."""
    flags = list(flagged) or [False] * len(lengths)
    kept = [(n, t) for n, t, bad in zip(lengths, times, flags) if not bad]
    if len({n for n, _ in kept}) < MIN_FIT_POINTS:
        return None
    return fit_exponent([n for n, _ in kept], [t for _, t in kept])


def longer_half_exponent(
    lengths: Sequence[int], times: Sequence[float], flagged: Sequence[bool] = ()
) -> float | None:
    """The exponent over the longer half of the lengths, past the launch-bound short ones.

    At short lengths a GPU step costs about its kernel launches whatever L is, which
    flattens the curve (an H200 ran naive attention at L=128, 256 and 512 in about 82 us
    each), so the longer half is where attention's L^2 shows. None under
    ``MIN_LENGTHS_FOR_LONGER_HALF`` lengths, whose half is too few points to fit, or where
    flagged points leave fewer than ``MIN_FIT_POINTS``.
    """
    if len(lengths) < MIN_LENGTHS_FOR_LONGER_HALF:
        return None
    flags = list(flagged) or [False] * len(lengths)
    half_lengths, half_times = longer_half(lengths, times)
    return trusted_exponent(half_lengths, half_times, flags[len(lengths) - len(half_lengths) :])


def framework_order(framework: str) -> tuple[int, str]:
    known = FRAMEWORK_ORDER.index(framework) if framework in FRAMEWORK_ORDER else 99
    return (known, framework)


def measured(records: Iterable[Record]) -> list[Record]:
    return [r for r in records if r.measured]


def key_of(record: Record) -> CaseSpec:
    assert record.key is not None
    return record.key


def sweep_points(key: CaseSpec) -> dict[tuple[str, CaseSpec], int]:
    """The sweeps a case is a point of, each with the point's value: per sweep field of its
    variant (``L``, ``batch``), (the field, the case with that field removed and on no
    device) -> the field's value. ``sdpa-L=1024-batch=16`` is a point of a length sweep (at
    1024) and of a batch sweep (at 16)."""
    try:
        variant = Variant.parse(key.variant)
    except VariantError:
        return {}
    points = {}
    for field_key in SWEEP_KEYS:
        value = variant.get_int(field_key)
        if value is not None:
            rest = str(variant.without(field_key))
            points[field_key, key.replace(variant=rest, device="")] = value
    return points


R = TypeVar("R")
Points = dict[int, Record]


def curve_rows(
    curves: dict[CaseSpec, Points], row: Callable[[CaseSpec, Points, Points | None], R]
) -> list[R]:
    """``row(curve, its points, the same curve's points on the CPU or None)`` of each curve
    (a case on a device, its points by length or batch), in case order."""
    ordered = sorted(curves.items(), key=lambda item: item[0].sort_key())
    return [
        row(curve, points, curves.get(curve.replace(device="cpu"))) for curve, points in ordered
    ]
