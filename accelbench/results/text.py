"""Numbers and tables as text: the end-of-run summary, ``compare`` and the report's cells.

The end-of-run summary reads at a glance: the headline first (``render_headline``: each
section's headline rows, or one line saying why there is no speedup), then every section
of ``views.SECTIONS`` through its renderer in ``RENDERERS``. In a run where no accelerator
was measured, the columns no row has a value in are folded away in every section's table,
so nobody reads rows of dashes. Marks say which figures deserve less trust: ``noisy``
(IQR over 10% of the median) and the conditions a case ran under (``busy``, ``battery``,
``low-power``, ``throttled``).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Callable, Iterator
from itertools import combinations
from typing import Any

from accelbench.core.conditions import FLAG_WORDS
from accelbench.results import views
from accelbench.results.crossover import ALWAYS, CROSSES, NEVER, SATURATION_SHARE
from accelbench.results.record import DEFAULT_MODE, NOISY, NOISY_IQR_SHARE, execution_label
from accelbench.results.views import (
    FRAMEWORK_NAMES,
    MIN_FIT_POINTS,
    accelerator_measured,
    framework_order,
    headline_rows,
    pair_key,
)
from accelbench.workloads.llm_weights import weights_of

# Numbers ----------------------------------------------------------------------------------


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


def format_throughput(value: float | None, unit: str, tflops: float | None = None) -> str:
    """A throughput in the unit people quote: TFLOP/s for the matmul ceiling, GB/s or TB/s
    for bytes, otherwise items per second."""
    if unit == "matmuls" and tflops:
        return f"{tflops:.3g} TFLOP/s"
    if unit == "bytes":
        return format_bandwidth(value)
    return format_rate(value, unit)


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
    """A share of a ceiling with its mark (``views.bounded_share``): ``52%``, ``52% (ceiling
    busy)``, or where the case ran over the ceiling, no figure: ``over: ceiling busy``."""
    if share is None:
        return f"over: {mark}" if mark else "-"
    return format_share(share) + (f" ({mark})" if mark else "")


def format_signed_share(share: float | None) -> str:
    """A signed percentage: +3.1%, -0.4% (a share below zero is noise, shown as measured)."""
    return "-" if share is None else f"{share * 100:+.1f}%"


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


def _case(row: dict[str, Any], *fields: str) -> str:
    """The named fields of a row that are set; ``mode`` only when not eager (``compile``)."""
    values = [row.get(f) for f in fields if not (f == "mode" and row.get(f) == DEFAULT_MODE)]
    return " ".join(str(v) for v in values if v)


# The summary sections ---------------------------------------------------------------------


def _marks_text(row: dict[str, Any]) -> str:
    """``cpu noisy; cuda busy``: whose figure is marked, and with what."""
    parts = [
        f"{who} {', '.join(row.get(f'{prefix}_marks') or [])}"
        for who, prefix in (("cpu", "cpu"), (row["device"] or "", "device"))
        if row.get(f"{prefix}_marks")
    ]
    return "; ".join(parts)


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


def render_speedups(rows: list[dict[str, Any]]) -> str:
    """Per case, the CPU's and each accelerator's figures and the speedup. Without any
    accelerator measured: the CPU's figures only, titled so, no columns of dashes."""
    if not rows:
        return ""
    if not any(r["device"] for r in rows):
        with folded_columns():
            return _render_speedups(rows, "CPU only (median time per step, steady state)")
    return _render_speedups(
        rows, "speedup over the CPU (median time per step, steady state; higher is faster)"
    )


def _render_speedups(rows: list[dict[str, Any]], title: str) -> str:
    found = {m for r in rows for p in ("cpu", "device") for m in r.get(f"{p}_marks") or []}
    header = ["case", "phase", "mode", "dtype", "cpu median", "cpu throughput", "device"]
    header += ["median", "throughput", "speedup"] + (["marks"] if found else [])
    body = []
    for r in rows:
        unit = r["item_unit"]
        body.append(
            [
                _case(r, "framework", "workload", "variant"),
                r["phase"],
                execution_label(r["mode"], r["memory_format"]),
                r["dtype"],
                format_seconds(r["cpu_median_s"]),
                format_throughput(r["cpu_throughput_per_s"], unit, r.get("cpu_tflops_per_s")),
                r["device"] or "-",
                format_seconds(r["device_median_s"]),
                format_throughput(r["device_throughput_per_s"], unit, r.get("device_tflops_per_s")),
                format_speedup(r["speedup"]),
                *([_marks_text(r)] if found else []),
            ]
        )
    legend = marks_legend(found)
    return f"{title}\n{format_table(header, body)}" + (f"\n{legend}" if legend else "")


def render_scaling(rows: list[dict[str, Any]]) -> str:
    """One line per curve, one column per length (median, and speedup over the CPU)."""
    if not rows:
        return ""
    all_lengths = sorted({n for r in rows for n in r["lengths"]})
    header = ["case", "phase", "dtype", "device", "impl", "exponent", "longer half"]
    header += [f"L={n}" for n in all_lengths]
    body = []
    for r in rows:
        speedups = r["speedup_over_cpu"] or [None] * len(r["lengths"])
        flagged = r.get("flagged") or [False] * len(r["lengths"])
        cells = {
            n: format_seconds(t) + ("*" if bad else "") + (f" {s:.2f}x" if s else "")
            for n, t, s, bad in zip(r["lengths"], r["median_s"], speedups, flagged)
        }
        body.append(
            [
                _case(r, "framework", "workload", "mode"),
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
    notes = (
        f"exponents are fitted through at least {MIN_FIT_POINTS} lengths, leaving out the "
        "points marked * (noisy, or measured while the machine was busy or throttled); "
        "'-': too few points"
    )
    return f"{title}\n{format_table(header, body)}\n{notes}"


def render_frameworks(rows: list[dict[str, Any]]) -> str:
    """Every framework's median, throughput and speedup over its own CPU, then a column per
    pair of frameworks (``torch/tf`` above 1: PyTorch faster on that device)."""
    if not rows:
        return ""
    names = sorted({fw for r in rows for fw in r["frameworks"]}, key=framework_order)
    header = ["case", "phase", "dtype", "device"]
    for fw in names:
        header += [f"{fw} median", f"{fw} throughput", f"{fw} vs own cpu"]
    pairs = list(combinations(names, 2))
    header += [f"{a}/{b}" for a, b in pairs]
    body = []
    for r in rows:
        case = _case(r, "workload", "variant", "mode", "memory_format")
        line = [case, r["phase"], r["dtype"], r["device"]]
        for fw in names:
            line += [
                format_seconds(r.get(f"{fw}_median_s")),
                format_throughput(
                    r.get(f"{fw}_throughput_per_s"), r["item_unit"], r.get(f"{fw}_tflops_per_s")
                ),
                format_speedup(r.get(f"{fw}_speedup_over_cpu")),
            ]
        line += [format_speedup(r.get(pair_key(a, b))) for a, b in pairs]
        body.append(line)
    shown = " vs ".join(FRAMEWORK_NAMES.get(fw, fw) for fw in names)
    first, second = pairs[0]
    title = (
        f"{shown}, same network and batch (median time per step; {first}/{second} above 1: "
        f"{FRAMEWORK_NAMES.get(first, first)} faster)"
    )
    return f"{title}\n{format_table(header, body)}"


def render_llm(rows: list[dict[str, Any]]) -> str:
    """The language model in llama-bench's names, with its shares of the run's ceilings."""
    if not rows:
        return ""
    modes = any(r["mode"] != DEFAULT_MODE for r in rows)
    quantized = any(weights_of(r["variant"]) for r in rows)
    header = ["test", "framework", "dtype", *(["weights"] if quantized else [])]
    header += ["size", "device", *(["mode"] if modes else [])]
    header += ["throughput", "per token", "GB/s", "of copy", "TFLOP/s", "of matmul"]
    versus = any(r["speedup_over_cpu"] for r in rows)
    header += ["vs cpu"] if versus else []
    body = [
        [
            r["test"],
            r["framework"],
            r["dtype"],
            *([weights_of(r["variant"]) or r["dtype"]] if quantized else []),
            r["size"],
            r["device"],
            *([r["mode"]] if modes else []),
            format_rate(r["tokens_per_s"], "tokens"),
            format_seconds(r["time_per_token_s"]),
            format_figure(r["gb_per_s"]),
            format_bounded_share(r["copy_share"], r.get("copy_share_mark")),
            format_figure(r["tflops_per_s"]),
            format_bounded_share(r["matmul_share"], r.get("matmul_share_mark")),
            *([format_speedup(r["speedup_over_cpu"])] if versus else []),
        ]
        for r in rows
    ]
    title = (
        "language model at batch 1, as llama-bench names it (pp<n>: an n-token prompt; "
        "tg<m> @ d<n>: m tokens generated after n; of copy / of matmul: share of this run's "
        "ceiling on the same device and dtype; vs cpu: tokens/s over the CPU's, eager)"
    )
    lines = [title, format_table(header, body), *ceilings_used(rows)]
    if any(r.get(f"{k}_share_mark") for r in rows for k in ("copy", "matmul")):
        lines.append(SHARE_MARKS_LEGEND)
    if not all(r["ceilings_measured"] for r in rows):
        lines.append(
            "no ceiling measured for some device or dtype: add benchmarks/test_ceiling.py "
            "to the run for the shares (with eager among --mode: the ceilings run eagerly only)"
        )
    return "\n".join(lines)


SHARE_MARKS_LEGEND = (
    "share marks: over: the case ran faster than the ceiling, so the ceiling does not bound "
    "it and no share is given; ceiling busy/noisy: the ceiling was measured while the "
    "machine was busy or with noisy rounds; ceiling too small: measured below the standard "
    "size, inside the caches; ceiling below this case: re-run the ceiling on a quiet machine"
)


def ceilings_used(rows: list[dict[str, Any]]) -> list[str]:
    """One line naming the ceilings the shares were taken against, per device and dtype."""
    used: dict[tuple[str, str], dict[str, str]] = {}
    for r in rows:
        figures = used.setdefault((r["device"], r["dtype"]), {})
        if r.get("copy_ceiling"):
            figures["copy"] = f"copy {format_figure(r['copy_ceiling'])} GB/s"
        if r.get("matmul_ceiling"):
            figures["matmul"] = f"matmul {format_figure(r['matmul_ceiling'])} TFLOP/s"
    parts = [
        f"{device} {dtype}: {', '.join(figures[k] for k in sorted(figures))}"
        for (device, dtype), figures in used.items()
        if figures
    ]
    if not parts:
        return []
    return ["ceilings used (the fastest round of each ceiling case): " + "; ".join(parts)]


def describe_crossover(row: dict[str, Any]) -> str:
    """The crossover of one row in a few characters: ``11.3 (8-16)``, ``always faster (1-64)``;
    `` *`` after a crossing when the accelerator was faster at a smaller batch too."""
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


def render_crossover(rows: list[dict[str, Any]]) -> str:
    """One line per curve, one column per batch (throughput, and speedup over the CPU), with
    the crossover, the 90%-of-best batch and the batch-1 latency."""
    if not rows:
        return ""
    all_batches = sorted({b for r in rows for b in r["batches"]})
    header = ["case", "phase", "dtype", "device", "crossover", "90% at", "latency b=1"]
    header += [f"b={b}" for b in all_batches]
    body = []
    for r in rows:
        speedups = dict(zip(r["speedup_batches"], r["speedup_over_cpu"]))
        cells = {
            b: format_compact(t) + (f" {speedups[b]:.2f}x" if b in speedups else "")
            for b, t in zip(r["batches"], r["throughput_per_s"])
        }
        body.append(
            [
                f"{_case(r, 'framework', 'workload', 'variant', 'mode', 'memory_format')} "
                f"({r['item_unit']}/s)",
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


def render_energy(rows: list[dict[str, Any]]) -> str:
    """Joules per step and items per joule; without a measurement, why not, in one line."""
    done = [r for r in rows if r["measured"]]
    if not done:
        return "; ".join(sorted({str(r["reason"]) for r in rows if r.get("reason")}))
    header = ["case", "phase", "dtype", "device", "J/step", "per joule", "mean power", "counter"]
    body = []
    for r in done:
        check = r.get("counter_vs_power_instant") or r.get("counter_vs_power_usage")
        body.append(
            [
                _case(r, "framework", "workload", "variant"),
                r["phase"],
                r["dtype"],
                str(r["device"]),
                format_figure(r["joules_per_step"]) + (" (coarse)" if r.get("coarse") else ""),
                f"{format_compact(r['items_per_joule'])} {r['item_unit']}/J",
                f"{r['mean_power_w']:.0f} W" if r.get("mean_power_w") else "-",
                f"{check:.2f}x integrated" if check else "-",
            ]
        )
    title = (
        "energy over the timed rounds (NVML's energy counter, whole board; counter: its "
        "joules over the sampled power integrated over the same rounds; coarse: a window "
        "under 1 s)"
    )
    return f"{title}\n{format_table(header, body)}"


def render_data_parallel(rows: list[dict[str, Any]]) -> str:
    """One line per data-parallel case: its figures, scaling efficiency and baseline."""
    if not rows:
        return ""
    header = ["case", "phase", "dtype", "device", "backend", "workers", "median"]
    header += ["throughput", "per worker", "efficiency", "baseline", "all-reduce"]
    header.append("vs single device")
    body = []
    for r in rows:
        unit = r["item_unit"]
        body.append(
            [
                _case(r, "framework", "workload", "variant"),
                r["phase"],
                r["dtype"],
                r["device"],
                r["backend"] or "-",
                str(r["workers"]),
                format_seconds(r["median_s"]),
                format_rate(r["throughput_per_s"], unit),
                format_rate(r["throughput_per_worker_per_s"], unit),
                f"{r['efficiency']:.0%}" if r["efficiency"] else "-",
                r["baseline"] or "-",
                format_signed_share(r["allreduce_exposed_share"]),
                format_signed_share(r["vs_single_device"]),
            ]
        )
    title = (
        "data-parallel scaling (same batch per worker; efficiency: the baseline's median "
        "time per step over k workers'; all-reduce: share of the step waiting for the "
        "gradient all-reduce; vs single device: DDP's cost at one worker)"
    )
    return f"{title}\n{format_table(header, body)}"


def _marked_ratio(row: dict[str, Any], name: str) -> str:
    """``2.00x``, or with its mark: ``214.02x (noisy, implausible)``."""
    mark = row.get(f"{name}_mark")
    return format_speedup(row[name]) + (f" ({mark})" if mark and row[name] else "")


MODE_MARKS_LEGEND = (
    "ratio marks: noisy, busy, ...: one of the two cases was; recompiled: the compiled case "
    "recompiled in its timed rounds; implausible: outside "
    f"{views.PLAUSIBLE_MODE_RATIO[0]:g}x-{views.PLAUSIBLE_MODE_RATIO[1]:g}x, more likely the "
    "measurement than the mode: re-run before trusting it"
)


def render_modes(rows: list[dict[str, Any]]) -> str:
    """Per device, each way a case ran: its median, throughput and speedup over the CPU run
    the same way, then compile/eager and layout/nchw where the run has them, and the
    compilation time and timed recompiles of compiled cases."""
    if not rows:
        return ""
    layouts = any(r["memory_format"] for r in rows)
    compiled = any(r["mode"] != DEFAULT_MODE for r in rows)
    header = ["case", "phase", "dtype", "device", "mode", "median", "throughput", "vs cpu"]
    header += ["compile/eager"] if compiled else []
    header += ["layout/nchw"] if layouts else []
    header += ["compile time", "recompiles"] if compiled else []
    body = []
    for r in rows:
        line = [_case(r, "framework", "workload", "variant"), r["phase"], r["dtype"]]
        line += [
            r["device"],
            execution_label(r["mode"], r["memory_format"]),
            format_seconds(r["median_s"]),
            format_throughput(r["throughput_per_s"], r["item_unit"], r["tflops_per_s"]),
            format_speedup(r["speedup_over_cpu"]),
        ]
        line += [_marked_ratio(r, "compile_over_eager")] if compiled else []
        line += [_marked_ratio(r, "layout_over_default")] if layouts else []
        if compiled:
            recompiles = r["recompiles_timed"]
            line += [
                format_seconds(r["compile_time_s"]),
                "-" if recompiles is None else str(recompiles),
            ]
        body.append(line)
    title = (
        "execution modes, same device (median time per step; ratios above 1 are faster: "
        "vs cpu = the CPU in the same mode and layout, compile/eager = eager over compiled "
        "or graph, per item where a step holds more (graph mode's tg step is a round), "
        "layout/nchw = NCHW over channels_last; compile time: first call until compiled "
        "steps were steady, outside the timed rounds)"
    )
    text = f"{title}\n{format_table(header, body)}"
    if any(r.get("compile_over_eager_mark") or r.get("layout_over_default_mark") for r in rows):
        text += "\n" + MODE_MARKS_LEGEND
    return text


RENDERERS: dict[str, Callable[[list[dict[str, Any]]], str]] = {
    "speedups": render_speedups,
    "scaling": render_scaling,
    "frameworks": render_frameworks,
    "llm": render_llm,
    "crossover": render_crossover,
    "data_parallel": render_data_parallel,
    "modes": render_modes,
    "energy": render_energy,
}


def render_generic(rows: list[dict[str, Any]]) -> str:
    """A section without a renderer of its own: its rows as a plain table."""
    header = list(dict.fromkeys(str(k) for r in rows for k in r))
    body = [[_generic_cell(r.get(k)) for k in header] for r in rows]
    return format_table(header, body)


def _generic_cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return f"{value!s:.60}"


def render_all(computed: dict[str, list[dict[str, Any]]]) -> str:
    """Every section with rows, in ``views.SECTIONS`` order, then any other computed one; in a
    run where no accelerator was measured, each table without its empty columns."""
    order = [s.key for s in views.SECTIONS if s.key in computed]
    order += [key for key in computed if key not in order]
    fold = folded_columns() if not accelerator_measured(computed) else contextlib.nullcontext()
    parts = []
    with fold:
        for key in order:
            rows = computed[key]
            if rows:
                renderer = RENDERERS.get(key)
                parts.append(renderer(rows) if renderer else f"{key}\n{render_generic(rows)}")
    return "\n\n".join(p for p in parts if p)


# The headline -----------------------------------------------------------------------------


def _headline_block(title: str, lines: dict[str, list[str]]) -> list[str]:
    """A headline's title, then one line per case: its name, padded, and what it found."""
    width = max(len(name) for name in lines)
    return [title, *(f"  {name.ljust(width)}  {', '.join(v)}" for name, v in lines.items())]


def _headline_speedups(rows: list[dict[str, Any]]) -> list[str]:
    """``  torch resnet18 train fp32 smoke  cuda 36.8x, mps 4.1x (noisy)``: per case (a
    sweep at its largest point), each accelerator's speedup over the CPU and its marks."""
    lines: dict[str, list[str]] = {}
    for r in rows:
        name = _case(r, "framework", "workload", "phase", "dtype", "size")
        name += " " + execution_label(r["mode"], r.get("memory_format", ""), default="")
        who = f"{r['variant']} " if r["variant"] else ""
        flagged = [m for m in (NOISY, *FLAG_WORDS) if m in {*r["cpu_marks"], *r["device_marks"]}]
        note = f" ({', '.join(flagged)})" if flagged else ""
        lines.setdefault(name.strip(), []).append(
            f"{who}{r['device']} {format_speedup_short(r['speedup'])}{note}"
        )
    title = (
        "headline: speedup over the CPU (CPU median / accelerator median time per step; "
        "higher is faster; a sweep at its longest length or largest batch)"
    )
    return _headline_block(title, lines)


def _headline_llm(rows: list[dict[str, Any]]) -> list[str]:
    """``  torch llm tg128 @ d512 bf16 full graph  cuda 32.2x``: a language-model case in a
    mode the CPU does not run, against the CPU's eager tokens/s."""
    lines: dict[str, list[str]] = {}
    for r in rows:
        dtype = " ".join(x for x in (r["dtype"], weights_of(r["variant"])) if x)
        name = f"{r['framework']} llm {r['test']} {dtype} {r['size']} {r['mode']}"
        lines.setdefault(name, []).append(
            f"{r['device']} {format_speedup_short(r['speedup_over_cpu'])}"
        )
    title = (
        "headline: the language model replayed as graphs against the CPU's eager "
        "(tokens/s over the CPU's; each device as it runs best)"
    )
    return _headline_block(title, lines)


def _headline_crossovers(rows: list[dict[str, Any]]) -> list[str]:
    """``  torch cnn infer fp32 smoke  mps from batch 11.3 (8-16)``: per case of a batch
    sweep, from which batch each accelerator is faster than the CPU."""
    lines: dict[str, list[str]] = {}
    for r in rows:
        name = _case(r, "framework", "workload", "variant", "phase", "dtype", "size")
        found = describe_crossover(r)
        found = f"from batch {found}" if r["crossover_status"] == CROSSES else found
        lines.setdefault(name, []).append(f"{r['device']} {found}")
    title = "headline: the accelerator is faster than the CPU (batch sweep, per item)"
    return _headline_block(title, lines)


# Per section key: its headline rows (``views.Section.headline``) -> lines, in SECTIONS order.
HEADLINES: dict[str, Callable[[list[dict[str, Any]]], list[str]]] = {
    "speedups": _headline_speedups,
    "llm": _headline_llm,
    "crossover": _headline_crossovers,
}


def render_headline(
    computed: dict[str, list[dict[str, Any]]],
    accelerators_asked: tuple[str, ...] | list[str] = (),
    unusable: dict[str, list[str]] | None = None,
) -> str:
    """The answer first: each section's headline lines (the speedups: per workload and phase,
    each accelerator's speedup over the CPU); or one line saying why there is none (only the
    CPU asked for, or no accelerator usable, and why)."""
    picked = headline_rows(computed)
    lines = [
        line for key, rows in picked.items() if key in HEADLINES for line in HEADLINES[key](rows)
    ]
    if lines:
        return "\n".join(lines)
    measured_any = any(rows for rows in computed.values())
    if not measured_any:
        return ""
    if not accelerators_asked:
        return "headline: only the CPU was asked for (--devices cpu): no speedup to give"
    if not accelerator_measured(computed):
        reasons = [
            f"{device}: {'; '.join(sorted(set(why)))}"
            for device, why in sorted((unusable or {}).items())
            if device != "cpu" and why
        ]
        detail = f": {' | '.join(reasons)}" if reasons else ""
        return f"headline: no accelerator was usable, so no speedup{detail}"
    return "headline: no CPU case ran beside the accelerator, so no speedup"
