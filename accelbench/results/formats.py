"""Numbers and tables as text, for the summary, ``compare`` and the report's cells.

The formatters of the read side's derived figures (speedups, exponents, shares of a
ceiling); a saved figure's own formatters are ``accelbench.core.numbers``'.

Marks say which figures deserve less trust: ``noisy`` (IQR over 10% of the median) and the
conditions a case ran under (``busy``, ``battery``, ``low-power``, ``throttled``).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator

from accelbench.core.conditions import FLAG_WORDS
from accelbench.core.spec import EAGER, CaseSpec
from accelbench.results.record import NOISY, NOISY_IQR_SHARE

__all__ = [
    "case_words",
    "folded_columns",
    "format_bounded_share",
    "format_exponent",
    "format_share",
    "format_speedup",
    "format_speedup_short",
    "format_table",
    "headline_block",
    "marks_legend",
]

# Numbers (derived figures; a saved figure prints as ``core.saved_form.FIGURES`` says) ---


def format_speedup(value: float | None) -> str:
    return f"{value:.2f}x" if value else "-"


def format_speedup_short(value: float) -> str:
    return f"{value:.3g}x" + (" (slower)" if value < 1 else "")


def format_exponent(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{round(value, 2) + 0.0:.2f}"


def format_share(share: float | None) -> str:
    if share is None:
        return "-"
    pct = share * 100
    return f"{pct:.0f}%" if pct >= 10 else f"{pct:.2g}%"


def format_bounded_share(share: float | None, mark: str | None) -> str:
    """A share of a ceiling with its mark (``shares.bounded_share``): ``52%``, ``52% (ceiling
    busy)``, or where the case ran over the ceiling, no figure: ``over: ceiling busy``."""
    if share is None:
        return f"over: {mark}" if mark else "-"
    return format_share(share) + (f" ({mark})" if mark else "")


# Inside ``folded_columns()``, a table leaves out the columns no row has a value in.
_FOLD_EMPTY_COLUMNS = contextvars.ContextVar("fold_empty_columns", default=False)


@contextlib.contextmanager
def folded_columns() -> Iterator[None]:
    """Tables rendered inside leave out the columns whose every cell is "-" (a run where no
    accelerator was measured: its device, speedup and throughput columns)."""
    token = _FOLD_EMPTY_COLUMNS.set(True)
    try:
        yield
    finally:
        _FOLD_EMPTY_COLUMNS.reset(token)


def _fold_empty(header: list[str], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    keep = [i for i in range(len(header)) if not rows or any(r[i] != "-" for r in rows)]
    return [header[i] for i in keep], [[r[i] for i in keep] for r in rows]


def format_table(header: list[str], rows: list[list[str]]) -> str:
    if _FOLD_EMPTY_COLUMNS.get():
        header, rows = _fold_empty(header, rows)
    widths = [max(len(h), *(len(r[i]) for r in rows), 0) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


def case_words(key: CaseSpec, *fields: str) -> str:
    """The named fields of a case that are set; ``mode`` only when not eager (``compile``)."""
    values = [getattr(key, f) for f in fields if not (f == "mode" and key.mode == EAGER)]
    return " ".join(str(v) for v in values if v)


def marks_legend(found: set[str]) -> str:
    """One line saying what the marks in a table mean; "" when there are none."""
    if not found:
        return ""
    legend = []
    if NOISY in found:
        legend.append(
            f"noisy: IQR over {NOISY_IQR_SHARE:.0%} of the median; re-run before trusting a "
            "difference"
        )
    conditions = [f for f in FLAG_WORDS if f in found]
    if conditions:
        legend.append(f"{', '.join(conditions)}: see the WARNING after the tables")
    return "marks: " + "; ".join(legend)


def headline_block(title: str, lines: dict[str, list[str]]) -> list[str]:
    """A headline's title, then one line per case: its name, padded, and what it found."""
    width = max(len(name) for name in lines)
    return [title, *(f"  {name.ljust(width)}  {', '.join(v)}" for name, v in lines.items())]
