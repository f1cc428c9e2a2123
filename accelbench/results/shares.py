"""A run's ceilings and the shares of them: per device and dtype, the measured matmul
TFLOP/s and copy GB/s (``benchmarks/test_ceiling.py``), and a case's figure as a share of
the ceiling of its own device and dtype, by the one rule every table uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from accelbench.core.ceilings import (
    BYTES_PER_ELEMENT,
    CEILING_SIZES,
    CEILING_VARIANTS,
    COPY,
    MATMUL,
    PEAK,
    copy_bytes,
)
from accelbench.results.figures import key_of, measured
from accelbench.results.record import Record


def is_ceiling(record: Record) -> bool:
    """A ceiling case, by what its record carries: the peak phase, a matmul or a copy."""
    key = record.key
    return key is not None and key.phase == PEAK and key.variant in CEILING_VARIANTS


@dataclass(frozen=True)
class CeilingFigures:
    """The measured peaks of one device in one dtype, within one run: each from the ceiling
    case's fastest round (a round is a block of steps of one large op, so its rate was
    sustained over the block). ``*_mark``: why the peak may not bound the device's other
    cases (``ceiling_mark``), or None."""

    device: str
    dtype: str
    label: str
    matmul_tflops: float | None = None
    matmul_n: int | None = None
    matmul_mark: str | None = None
    copy_gb_per_s: float | None = None
    copy_bytes: float | None = None
    copy_mark: str | None = None


CEILING_BELOW = "ceiling below this case"
CEILING_TOO_SMALL = "ceiling too small"


def fastest_step_s(record: Record) -> float:
    """The time per step of a record's fastest round (its median where none was saved)."""
    return record.stats.min or record.median_s


def ceiling_too_small(record: Record) -> bool:
    """Whether a ceiling case ran below the standard size, the smallest one past the caches
    (``CEILING_SIZES``): a smoke copy of 8 MB sits in a CPU's cache and outruns its memory."""
    standard = CEILING_SIZES["standard"]
    if key_of(record).variant == MATMUL:
        return record.workload_figures.get("matmul_n", 0) < standard.matmul_n
    dtype = key_of(record).dtype
    if dtype not in BYTES_PER_ELEMENT:
        return False
    return (record.bytes_per_step or 0) < copy_bytes(standard.copy_elements, dtype)


def ceiling_mark(record: Record) -> str | None:
    """Why a ceiling case may not be the device's best: measured busy, noisy or otherwise
    marked (``ceiling busy``), or below the standard size (``ceiling too small``)."""
    if record.marks:
        return f"ceiling {', '.join(record.marks)}"
    return CEILING_TOO_SMALL if ceiling_too_small(record) else None


def ceilings(records: Iterable[Record]) -> dict[tuple[str, str], CeilingFigures]:
    """Per (device, dtype): the best matmul TFLOP/s and copy GB/s among the ceiling cases,
    each at its fastest round."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for r in measured(records):
        if not is_ceiling(r):
            continue
        key = (r.device, key_of(r).dtype)
        entry = found.setdefault(key, {"label": r.label})
        fastest = fastest_step_s(r)
        if key_of(r).variant == MATMUL and r.flops_per_step:
            tflops = r.flops_per_step / fastest / 1e12
            if tflops > entry.get("matmul_tflops", 0):
                entry.update(
                    matmul_tflops=tflops,
                    matmul_n=r.workload_figures.get("matmul_n"),
                    matmul_mark=ceiling_mark(r),
                )
        elif key_of(r).variant == COPY and r.bytes_per_step:
            rate = r.bytes_per_step / fastest / 1e9
            if rate > entry.get("copy_gb_per_s", 0):
                entry.update(
                    copy_gb_per_s=rate, copy_bytes=r.bytes_per_step, copy_mark=ceiling_mark(r)
                )
    return {k: CeilingFigures(device=k[0], dtype=k[1], **v) for k, v in found.items()}


@dataclass(frozen=True)
class Share:
    """A figure as a share of a ceiling, by the one rule every table uses: ``value`` is the
    share, None where there is no ceiling or where it would be over 100% (a ceiling that
    does not bound the case is no ceiling); ``mark`` says why it deserves less trust or why
    it is missing (``ceiling busy``, ``ceiling too small``, ``ceiling below this case``);
    ``ceiling`` is the figure it was taken against."""

    value: float | None = None
    mark: str | None = None
    ceiling: float | None = None


def bounded_share(figure: float | None, ceiling: float | None, mark: str | None) -> Share:
    """``figure`` over ``ceiling``; over 100%, a mark with its reason instead of a figure."""
    if not figure or not ceiling:
        return Share()
    share = figure / ceiling
    if share > 1:
        return Share(None, mark or CEILING_BELOW, ceiling)
    return Share(share, mark, ceiling)


def _peak(record: Record, peaks: dict[tuple[str, str], CeilingFigures]) -> CeilingFigures | None:
    return None if is_ceiling(record) else peaks.get((record.device, key_of(record).dtype))


def matmul_share(record: Record, peaks: dict[tuple[str, str], CeilingFigures]) -> Share:
    """The record's TFLOP/s over the matmul TFLOP/s of the same device and dtype in its run."""
    peak = _peak(record, peaks)
    if peak is None:
        return Share()
    return bounded_share(record.tflops_per_s, peak.matmul_tflops, peak.matmul_mark)


def copy_share(record: Record, peaks: dict[tuple[str, str], CeilingFigures]) -> Share:
    """A record's bytes/s (where it counts the bytes it moves: a decoded token) over the copy
    ceiling of the same device and dtype in its run, which counts the bytes a copy reads plus
    those it writes. Nothing for the ceiling cases themselves."""
    peak = _peak(record, peaks)
    if peak is None:
        return Share()
    rate = record.bytes_per_s / 1e9 if record.bytes_per_s else None
    return bounded_share(rate, peak.copy_gb_per_s, peak.copy_mark)


def share_fields(kind: str, share: Share, name: str = "") -> dict[str, Any]:
    """A share as saved row fields: ``<kind>_share`` (or ``name``), its ``_mark`` and the
    ``<kind>_ceiling`` it was taken against (TFLOP/s for the matmul, GB/s for the copy)."""
    name = name or f"{kind}_share"
    return {name: share.value, f"{name}_mark": share.mark, f"{kind}_ceiling": share.ceiling}
