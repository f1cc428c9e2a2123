"""How a number prints: the formatters the registry of saved figures (``core.saved_form``)
declares for its figures, and that the read side's tables share. Each takes a value or None
(absent: "-") and returns text; none knows where the number came from.
"""

from __future__ import annotations

import math


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


def format_throughput(value: float | None, unit: str = "", tflops: float | None = None) -> str:
    """A throughput in the unit people quote: TFLOP/s for the matmul ceiling (``tflops``,
    where given), GB/s or TB/s for bytes, otherwise ``unit`` (the items) per second."""
    if unit == "matmuls" and tflops:
        return f"{tflops:.3g} TFLOP/s"
    if unit == "bytes":
        return format_bandwidth(value)
    return format_rate(value, unit)


def format_figure(value: float | None) -> str:
    """Three significant digits without an exponent: 0.0000219, 0.107, 4.2, 765, 4210."""
    if not value:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".")


def format_compact(value: float | None) -> str:
    """A figure whose unit is said elsewhere: 6.97k, 41M, 4200, 0.107."""
    if value is None:
        return "-"
    for suffix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= 10 * scale or (value >= scale and suffix != "k"):
            return f"{value / scale:.3g}{suffix}"
    return format_figure(value)


def format_signed_share(share: float | None) -> str:
    """A signed percentage: +3.1%, -0.4% (a share below zero is noise, shown as measured)."""
    return "-" if share is None else f"{share * 100:+.1f}%"


def format_mebibytes(value: float | None) -> str:
    """A size in binary megabytes: 256 MiB."""
    return f"{value / 2**20:.4g} MiB" if value else "-"


def format_cube(n: int | None) -> str:
    """The size of an n x n x n matmul: 8192^3."""
    return f"{n}^3" if n else "-"
