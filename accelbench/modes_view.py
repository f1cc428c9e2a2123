"""Execution modes side by side: compiled against eager, channels_last against NCHW.

For every case measured in more than one way on a device, one row per way (mode and
memory format), with three ratios of median times per step (above 1: faster):

- ``speedup_over_cpu``: against the CPU running the same mode and layout (as the speedup
  table computes it);
- ``compile_over_eager``: a compiled case against the eager one, same device and layout;
- ``layout_over_default``: a channels_last case against the default layout (NCHW), same
  device and mode;

and the compilation time, measured apart from the timed rounds. Records are shaped like the
entries of pytest-benchmark's saved JSON, as in summary.py.
"""

from __future__ import annotations

from typing import Any

from accelbench import backends
from accelbench.core.spec import EAGER, MODES

# What must match, besides device, mode and memory format, for two records to be two ways
# of running the same case.
KEY_FIELDS = ("framework", "workload", "phase", "variant", "batch", "dtype", "size")


def execution_label(row: dict[str, Any]) -> str:
    """How a case ran: "eager", "compile", "eager channels_last", ... (the default layout
    is not named)."""
    mode = str(row.get("mode") or EAGER)
    return " ".join(x for x in (mode, str(row.get("memory_format") or "")) if x)


def is_default_execution(info: dict[str, Any]) -> bool:
    return execution_label(info) == EAGER


def mode_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per record of a run that has any case compiled or in another layout."""
    from accelbench.summary import measured, natural_key  # summary imports this module

    records = measured(records)
    if all(is_default_execution(r["extra_info"]) for r in records):
        return []
    index: dict[tuple[tuple[str, ...], str, str, str], dict[str, Any]] = {}
    for r in records:
        info = r["extra_info"]
        key = tuple(str(info.get(f) or "") for f in KEY_FIELDS)
        mode, layout = str(info.get("mode") or EAGER), str(info.get("memory_format") or "")
        index[(key, str(info["device"]), mode, layout)] = r

    def order(entry: tuple[tuple[str, ...], str, str, str]) -> tuple[Any, ...]:
        key, device, mode, layout = entry
        mode_rank = MODES.index(mode) if mode in MODES else len(MODES)
        return (natural_key(key), _device_order(device), layout, mode_rank, mode)

    rows = []
    for entry in sorted(index, key=order):
        key, device, mode, layout = entry
        record = index[entry]
        info, median = record["extra_info"], record["stats"]["median"]
        cpu = index.get((key, "cpu", mode, layout)) if device != "cpu" else None
        eager = index.get((key, device, EAGER, layout)) if mode != EAGER else None
        default = index.get((key, device, mode, "")) if layout else None
        rows.append(
            {
                **dict(zip(KEY_FIELDS, key)),
                "device": device,
                "device_label": info.get("device_label"),
                "mode": mode,
                "memory_format": layout,
                "item_unit": info.get("item_unit", "items"),
                "median_s": median,
                "throughput_per_s": info.get("throughput_per_s"),
                "speedup_over_cpu": _ratio(cpu, median),
                "compile_over_eager": _ratio(eager, median),
                "layout_over_default": _ratio(default, median),
                "compile_time_s": info.get("compile_time_s"),
                "recompiles_timed": info.get("recompiles_timed"),
                "graph_breaks": info.get("graph_breaks"),
            }
        )
    return rows


def _ratio(baseline: dict[str, Any] | None, median: float) -> float | None:
    return baseline["stats"]["median"] / median if baseline else None


def _device_order(device: str) -> tuple[int, str]:
    order = backends.device_names()
    return (order.index(device) if device in order else len(order), device)


def render_modes(rows: list[dict[str, Any]]) -> str:
    from accelbench.summary import format_rate, format_seconds, format_table

    if not rows:
        return ""
    layouts = any(r["memory_format"] for r in rows)
    compiled = any(r["mode"] != EAGER for r in rows)
    header = ["case", "phase", "dtype", "device", "mode", "median", "throughput", "vs cpu"]
    header += ["compile/eager"] if compiled else []
    header += ["layout/nchw"] if layouts else []
    header += ["compile time", "recompiles"] if compiled else []
    body = []
    for r in rows:
        case = [r["framework"], r["workload"], r["variant"]]
        case.append(f"batch={r['batch']}" if r["batch"] else "")
        line = [" ".join(x for x in case if x), r["phase"], r["dtype"], r["device"]]
        line += [
            execution_label(r),
            format_seconds(r["median_s"]),
            format_rate(r["throughput_per_s"], r["item_unit"]),
            _times(r["speedup_over_cpu"]),
        ]
        line += [_times(r["compile_over_eager"])] if compiled else []
        line += [_times(r["layout_over_default"])] if layouts else []
        if compiled:
            recompiles = r["recompiles_timed"]
            line += [
                format_seconds(r["compile_time_s"]),
                "-" if recompiles is None else str(recompiles),
            ]
        body.append(line)
    title = (
        "execution modes, same device (median time per step; ratios above 1 are faster: "
        "vs cpu = the CPU in the same mode and layout, compile/eager = eager over compiled, "
        "layout/nchw = NCHW over channels_last; compile time: first call until compiled "
        "steps were steady, outside the timed rounds)"
    )
    return f"{title}\n{format_table(header, body)}"


def _times(value: float | None) -> str:
    return f"{value:.2f}x" if value else "-"
