"""The report's PNG plots, drawn with matplotlib's object API on the Agg canvas.

No pyplot: figures are plain ``Figure`` objects, so nothing here touches global state or
needs a display. matplotlib is imported on first use, so ``compare`` never pays for it.
Each function returns the path it wrote, or None when there is nothing to draw.

Plots are drawn at the size the page shows them (``PAGE_WIDTH_IN`` wide at most; many cases
make a bar chart taller, not wider), so no label is scaled down. Text from a saved run goes
through ``plain``: matplotlib reads no mathtext in it. A series of one point is a marker,
not a line, and a plot where every series is one point is left to the table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accelbench.results.record import execution_label

if TYPE_CHECKING:
    from accelbench.core.spec import CaseSpec
    from accelbench.results.crossover import CrossoverRow
    from accelbench.results.views import CaseRow, MachineTable, Series

DPI = 120
WIDE_RATIO = 30  # a y range over this many-fold is drawn on a log axis
# The report page's text column is 70em, 1120 px at 16 px; a plot this wide fits it unscaled.
PAGE_WIDTH_IN = 9.0
MAX_HEIGHT_IN = 40.0


def plain(text: object) -> str:
    """Text from a saved run as matplotlib shows it literally: ``$`` escaped, so no
    ``$...$`` or backslash in a name is read as mathtext."""
    return str(text).replace("$", r"\$")


def line_style(points: int) -> dict[str, str]:
    """A series of one point is a marker alone: a line needs two."""
    return {"linestyle": "-" if points > 1 else "none"}


def _bars_figure(groups: int, per_group: int) -> Any:
    """A page-wide figure for horizontal bars: one row per bar, growing in height."""
    from matplotlib.figure import Figure

    height = min(MAX_HEIGHT_IN, 1.8 + 0.2 * groups * max(2, per_group))
    return Figure(figsize=(PAGE_WIDTH_IN, height), dpi=DPI, layout="constrained")


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def _legend(fig: Any, entries: int) -> None:
    """The legend under the plot, where it cannot hide a bar."""
    fig.legend(fontsize=8, loc="outside lower center", ncols=min(3, max(1, entries)))


def _plain_log_labels(axis: Any, low: float, high: float, fmt: Any = "{:g}".format) -> None:
    """Tick labels of a log axis as plain numbers (0.03, 20), not 3x10^-2; in between the
    decades, as many labels as fit."""
    from matplotlib.ticker import FuncFormatter

    decades = math.log10(high / low) if low > 0 else 10.0
    keep = range(2, 10) if decades <= 1.2 else (2, 5) if decades <= 3 else ()

    def minor(value: float, _position: Any) -> str:
        mantissa = round(value / 10 ** math.floor(math.log10(value) + 1e-9))
        return fmt(value) if mantissa in keep else ""

    axis.set_major_formatter(FuncFormatter(lambda value, _position: fmt(value)))
    axis.set_minor_formatter(FuncFormatter(minor))


def _short(value: float) -> str:
    for suffix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _grouped_bars(
    ax: Any,
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    label_fmt: Any,
    horizontal: bool = False,
) -> None:
    """One cluster of bars per group, one bar per series; missing values leave a gap.
    Horizontal clusters read top to bottom, for many groups with long names."""
    import matplotlib as mpl

    colors = mpl.colormaps["tab10"].colors
    groups = [plain(g) for g in groups]
    series = [(plain(name), values) for name, values in series]
    width = 0.8 / max(1, len(series))
    crowded = len(series) * len(groups) > 12
    for i, (name, values) in enumerate(series):
        offset = (i - (len(series) - 1) / 2) * width
        xs = [g + offset for g, v in enumerate(values) if v is not None]
        hs = [v for v in values if v is not None]
        if not hs:
            continue
        color = colors[i % len(colors)]
        draw = ax.barh if horizontal else ax.bar
        bars = draw(xs, hs, width * 0.95, label=name, color=color)
        for bar, value in zip(bars, hs):
            if horizontal:
                at, shift = (bar.get_width(), bar.get_y() + bar.get_height() / 2), (3, 0)
                align = {"ha": "left", "va": "center"}
            else:
                at, shift = (bar.get_x() + bar.get_width() / 2, bar.get_height()), (0, 2)
                align = {"ha": "center", "va": "bottom", "rotation": 90 if crowded else 0}
            ax.annotate(
                label_fmt(value), at, xytext=shift, textcoords="offset points", fontsize=7, **align
            )
    if horizontal:
        ax.set_yticks(range(len(groups)))
        ax.set_yticklabels(groups)
        ax.set_ylim(len(groups) - 0.5, -0.5)  # first group at the top
        ax.grid(axis="x", alpha=0.3)
    else:
        ax.set_xticks(range(len(groups)))
        rotate = len(groups) > 4
        ax.set_xticklabels(groups, rotation=30 if rotate else 0, ha="right" if rotate else "center")
        ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _log_if_wide(ax: Any, values: Sequence[float], headroom: float = 1.0, axis: str = "y") -> None:
    positive = [v for v in values if v and v > 0]
    if not positive:
        return
    low, high = min(positive), max(positive)
    set_scale, set_lim = (
        (ax.set_xscale, ax.set_xlim) if axis == "x" else (ax.set_yscale, ax.set_ylim)
    )
    if high / low > WIDE_RATIO:
        set_scale("log")
        set_lim(low / 3, high * 6 * headroom)
    else:
        set_lim(0, high * 1.25 * headroom)


def _case_names(keys: Sequence[CaseSpec]) -> list[str]:
    """Short case names: framework, dtype and size only where they vary between cases."""
    varying = [f for f in ("framework", "dtype", "size") if len({getattr(k, f) for k in keys}) > 1]
    names = []
    for k in keys:
        parts = [k.framework] if "framework" in varying else []
        parts += [k.workload, k.variant, k.phase]
        parts += [execution_label(k.mode, k.memory_format, default="")]
        parts += [getattr(k, f) for f in ("dtype", "size") if f in varying]
        names.append(" ".join(p for p in parts if p))
    return names


def speedup_plot(device_rows: list[CaseRow], path: Path, title: str) -> Path | None:
    """Bars of speedup over the CPU per case, one per accelerator (rows of
    ``views.case_rows``, whose speedups follow the summary's rule)."""
    rows = [r for r in device_rows if r.device != "cpu" and r.speedup]
    if not rows:
        return None
    names, table = _case_table(rows, lambda r: r.speedup)
    devices = list(table)
    fig = _bars_figure(len(names), len(devices))
    ax = fig.add_subplot()
    _grouped_bars(ax, names, list(table.items()), lambda v: f"{v:.3g}x", horizontal=True)
    _log_if_wide(ax, [r.speedup for r in rows] + [1.0], headroom=1.3, axis="x")
    ax.axvline(1.0, color="0.3", linewidth=1, linestyle="--", label="CPU (1x)")
    ax.set_xlabel("speedup over the CPU (x, higher is faster)")
    fig.suptitle(f"Speedup over the CPU, median time per step\n{plain(title)}", fontsize=10)
    _legend(fig, len(devices) + 1)
    return _save(fig, path)


def throughput_plot(device_rows: list[CaseRow], path: Path, title: str) -> Path | None:
    """Bars of throughput per case, one per device (log axis: units differ between cases)."""
    rows = [r for r in device_rows if r.items_per_s]
    if not rows:
        return None
    names, table = _case_table(rows, lambda r: r.items_per_s, unit="/s")
    devices = list(table)
    fig = _bars_figure(len(names), len(devices))
    ax = fig.add_subplot()
    _grouped_bars(ax, names, list(table.items()), _short, horizontal=True)
    ax.set_xscale("log")
    positive = [r.items_per_s for r in rows]
    ax.set_xlim(min(positive) / 3, max(positive) * 12)
    ax.set_xlabel("per second (log scale)")
    fig.suptitle(f"Throughput per device (unit beside each case)\n{plain(title)}", fontsize=10)
    _legend(fig, len(devices))
    return _save(fig, path)


def energy_plot(device_rows: list[CaseRow], path: Path, title: str) -> Path | None:
    """Bars of items per joule per case, one per device (``views.case_rows`` whose energy
    was measured)."""
    rows = [r for r in device_rows if r.energy and r.energy.items_per_joule]
    if not rows:
        return None
    names, table = _case_table(rows, lambda r: r.energy.items_per_joule, unit="/J")
    devices = list(table)
    fig = _bars_figure(len(names), len(devices))
    ax = fig.add_subplot()
    _grouped_bars(ax, names, list(table.items()), _short, horizontal=True)
    _log_if_wide(ax, [r.energy.items_per_joule for r in rows], headroom=1.3, axis="x")
    ax.set_xlabel("items per joule (higher is more efficient)")
    fig.suptitle(f"Energy efficiency over the timed rounds (NVML)\n{plain(title)}", fontsize=10)
    _legend(fig, len(devices))
    return _save(fig, path)


def _case_table(
    rows: Sequence[CaseRow], value: Callable[[CaseRow], float | None], unit: str = ""
) -> tuple[list[str], dict[str, list[float | None]]]:
    """The bars of a per-case plot: one name per case, in the order the rows first show it
    (with ``unit`` after the case's item unit, e.g. "images/s", where ``unit`` is given),
    and per device label the cases' ``value``s (None where the device has no row)."""
    cases: dict[CaseSpec, CaseRow] = {}
    for r in rows:
        cases.setdefault(r.key.case, r)
    keys = list(cases)
    names = _case_names(keys)
    if unit:
        names = [f"{n} ({r.item_unit}{unit})" for n, r in zip(names, cases.values())]
    devices = list(dict.fromkeys(r.device_label for r in rows))
    table: dict[str, list[float | None]] = {d: [None] * len(keys) for d in devices}
    for r in rows:
        table[r.device_label][keys.index(r.key.case)] = value(r)
    return names, table


def attention_plot(series: list[Series], path: Path, title: str) -> Path | None:
    """Median time per step against sequence length, log-log, one line per implementation
    and device, with the fitted exponent in the legend; None where no series has two
    lengths (the table beside it says all)."""
    import matplotlib as mpl
    from matplotlib.figure import Figure

    if all(len(set(s.lengths)) < 2 for s in series):
        return None
    fig = Figure(figsize=(8.0, 4.8 + 0.2 * len(series)), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    colors = mpl.colormaps["tab10"].colors
    markers = "osD^v<>ph*"
    for i, s in enumerate(series):
        slope = f"slope {s.slope:.2f}" if s.slope is not None else "too few points for a slope"
        if s.slope_longer_half is not None:
            slope += f", longer half {s.slope_longer_half:.2f}"
        ax.plot(
            s.lengths,
            [t * 1e3 for t in s.medians_s],
            marker=markers[i % len(markers)],
            color=colors[i % len(colors)],
            label=f"{plain(s.label)}: {slope}",
            **line_style(len(s.lengths)),
        )
    from matplotlib.ticker import ScalarFormatter

    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(ScalarFormatter())  # 128, 256, ... rather than 2^7, 2^8
    ax.set_yscale("log")
    times_ms = [t * 1e3 for s in series for t in s.medians_s]
    _plain_log_labels(ax.yaxis, min(times_ms), max(times_ms))
    ax.set_xlabel("sequence length L (log scale)")
    ax.set_ylabel("median time per step (ms, log scale)")
    ax.set_title(
        f"Attention time against sequence length (slope 2: time grows as L^2)\n{plain(title)}",
        fontsize=10,
    )
    ax.grid(which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1)
    return _save(fig, path)


def machines_plot(table: MachineTable, path: Path) -> Path | None:
    """Each case's figure on every machine relative to the reference column (the one with
    the most cases), so cases with different units share one axis. Horizontal bars: one
    cluster per case, one bar per machine's device."""
    from matplotlib.figure import Figure

    counts = [sum(row[c] is not None for row in table.values) for c in range(len(table.columns))]
    if not counts:
        return None
    ref = counts.index(max(counts))
    keep = [
        i
        for i, row in enumerate(table.values)
        if table.in_plot[i] and row[ref] and sum(v is not None for v in row) > 1
    ]
    if not keep:
        return None
    series = []
    for c, label in enumerate(table.columns):
        rel = [
            table.values[i][c] / table.values[i][ref]  # type: ignore[operator]
            if table.values[i][c]
            else None
            for i in keep
        ]
        series.append((label, rel))
    height = min(MAX_HEIGHT_IN, 1.6 + 0.16 * len(keep) * max(2, len(table.columns)))
    fig = Figure(figsize=(PAGE_WIDTH_IN, height), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    names = [table.cases[i] for i in keep]
    _grouped_bars(ax, names, series, lambda v: f"{v:.3g}x", horizontal=True)
    values = [v for _, rel in series for v in rel if v]
    _log_if_wide(ax, values, headroom=1.5, axis="x")
    ax.axvline(1.0, color="0.3", linewidth=1, linestyle="--")
    ax.set_xlabel(f"throughput relative to {plain(table.columns[ref])} (x, higher is faster)")
    ax.set_title("Across machines: the same cases side by side", fontsize=10)
    _legend(fig, len(series))
    return _save(fig, path)


# Batch sweeps -----------------------------------------------------------------------------


def _sweep_panels(rows: Sequence[CrossoverRow]) -> tuple[list[tuple[str, ...]], list[str]]:
    """One panel per workload (and variant, dtype, size) and phase; frameworks share a panel,
    so PyTorch and TensorFlow running the same network sit side by side."""
    keys = list(
        dict.fromkeys(
            (r.key.workload, r.key.variant, r.key.phase, r.key.dtype, r.key.size) for r in rows
        )
    )
    varying = [len({k[i] for k in keys}) > 1 for i in (3, 4)]
    names = []
    for workload, variant, phase, dtype, size in keys:
        extra = [v for v, vary in zip((dtype, size), varying) if vary]
        names.append(plain(" ".join(p for p in (workload, variant, phase, *extra) if p)))
    return keys, names


def _panel_key(row: CrossoverRow) -> tuple[str, ...]:
    return (row.key.workload, row.key.variant, row.key.phase, row.key.dtype, row.key.size)


def _panel_grid(count: int, height: float = 3.2) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    columns = 2 if count > 1 else 1
    grid_rows = math.ceil(count / columns)
    width = PAGE_WIDTH_IN / 2 * columns
    fig = Figure(figsize=(width, 1.2 + height * grid_rows), dpi=DPI, layout="constrained")
    axes = fig.subplots(grid_rows, columns, squeeze=False).ravel().tolist()
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]


def _batch_axis(ax: Any, batches: Sequence[int]) -> None:
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(sorted(set(batches))))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlabel("batch size (log scale)", fontsize=8)
    ax.tick_params(which="both", labelsize=7)
    ax.grid(which="both", alpha=0.3)


def _once(labelled: set[tuple[str, str]], line: tuple[str, str]) -> str | None:
    """A line's legend label the first time it is drawn; None (no legend entry) after."""
    if line in labelled:
        return None
    labelled.add(line)
    return plain(f"{line[0]}, {line[1]}")


def batch_speedup_plot(rows: list[CrossoverRow], path: Path, title: str) -> Path | None:
    """Speedup over the CPU against batch size (``crossover.crossover_rows``): one panel per
    workload and phase, one line per accelerator and framework, a dashed line at 1x and a
    mark at each interpolated crossover."""
    import matplotlib as mpl

    rows = [r for r in rows if r.key.device != "cpu" and r.speedup_over_cpu]
    if not rows:
        return None
    keys, names = _sweep_panels(rows)
    fig, axes = _panel_grid(len(keys))
    colors = mpl.colormaps["tab10"].colors
    lines = list(dict.fromkeys((r.device_label, r.key.framework) for r in rows))
    labelled: set[tuple[str, str]] = set()
    for ax, key, name in zip(axes, keys, names):
        here = [r for r in rows if _panel_key(r) == key]
        for r in here:
            line = (r.device_label, r.key.framework)
            i = lines.index(line)
            ax.plot(
                r.speedup_batches,
                r.speedup_over_cpu,
                marker="osD^v<>ph*"[i % 10],
                color=colors[i % len(colors)],
                label=_once(labelled, line),
                **line_style(len(r.speedup_batches)),
            )
            if r.crossover_batch:
                ax.plot([r.crossover_batch], [1.0], marker="|", markersize=14, color="0.2")
        ax.axhline(1.0, color="0.3", linewidth=1, linestyle="--")
        values = [s for r in here for s in r.speedup_over_cpu] + [1.0]
        ax.set_yscale("log")
        ax.set_ylim(min(values) / 1.6, max(values) * 1.6)
        _plain_log_labels(ax.yaxis, min(values), max(values))
        _batch_axis(ax, [b for r in here for b in r.speedup_batches])
        ax.set_ylabel("speedup over the CPU (x)", fontsize=8)
        ax.set_title(name, fontsize=9)
    fig.suptitle(
        "Speedup over the CPU against batch size (above the dashed line: the accelerator is "
        f"faster; |: crossover)\n{plain(title)}",
        fontsize=10,
    )
    _legend(fig, len(lines))
    return _save(fig, path)


def batch_throughput_plot(rows: list[CrossoverRow], path: Path, title: str) -> Path | None:
    """Throughput against batch size, log-log, one panel per workload and phase, one line
    per device and framework; a ring marks the first batch at 90% of the line's best."""
    import matplotlib as mpl

    rows = [r for r in rows if r.throughput_per_s]
    if not rows:
        return None
    keys, names = _sweep_panels(rows)
    fig, axes = _panel_grid(len(keys))
    colors = mpl.colormaps["tab10"].colors
    lines = list(dict.fromkeys((r.device_label, r.key.framework) for r in rows))
    labelled: set[tuple[str, str]] = set()
    for ax, key, name in zip(axes, keys, names):
        here = [r for r in rows if _panel_key(r) == key]
        for r in here:
            line = (r.device_label, r.key.framework)
            i = lines.index(line)
            color = colors[i % len(colors)]
            ax.plot(
                r.batches,
                r.throughput_per_s,
                marker="osD^v<>ph*"[i % 10],
                color=color,
                label=_once(labelled, line),
                **line_style(len(r.batches)),
            )
            if r.saturation_batch in r.batches:
                at = r.throughput_per_s[r.batches.index(r.saturation_batch)]
                ax.plot([r.saturation_batch], [at], "o", ms=13, mfc="none", color=color)
        values = [t for r in here for t in r.throughput_per_s]
        ax.set_yscale("log")
        ax.set_ylim(min(values) / 2, max(values) * 2)
        _plain_log_labels(ax.yaxis, min(values) / 2, max(values) * 2, _short)
        _batch_axis(ax, [b for r in here for b in r.batches])
        ax.set_ylabel(f"{here[0].item_unit}/s (log scale)", fontsize=8)
        ax.set_title(name, fontsize=9)
    fig.suptitle(
        f"Throughput against batch size (ring: first batch at 90% of the best)\n{plain(title)}",
        fontsize=10,
    )
    _legend(fig, len(lines))
    return _save(fig, path)
