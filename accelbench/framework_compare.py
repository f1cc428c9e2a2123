"""TensorFlow beside PyTorch: one workload, built the same in both, on the same devices.

For every workload measured in both frameworks (the CNN), one row per device, phase, dtype
and size: each framework's median time per step and throughput, each framework's speedup
over its own CPU, and ``torch_vs_tf``, how many times faster PyTorch ran than TensorFlow on
that device (TensorFlow's median / PyTorch's median; below 1, TensorFlow was faster).
Records are shaped like the entries of pytest-benchmark's saved JSON, as in summary.py.
"""

from __future__ import annotations

from typing import Any

from accelbench import backends

FRAMEWORKS_COMPARED = ("tf", "torch")
NAMES = {"tf": "TensorFlow", "torch": "PyTorch"}
# What must match for two records to be the same measurement in two frameworks.
# memory_format "" is each framework's default layout: PyTorch's NCHW beside TensorFlow's NHWC.
KEY_FIELDS = ("workload", "variant", "phase", "mode", "memory_format", "batch", "dtype", "size")


def framework_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (workload, variant, phase, dtype, size, device) of workloads that have
    records in both frameworks; a framework that did not run on a device leaves its
    figures None."""
    from accelbench.summary import measured  # summary imports this module: import late

    cases: dict[tuple[str, ...], dict[str, dict[str, dict[str, Any]]]] = {}
    for record in measured(records):
        info = record["extra_info"]
        if info.get("framework") not in FRAMEWORKS_COMPARED:
            continue
        key = tuple(str(info.get(f) or ("eager" if f == "mode" else "")) for f in KEY_FIELDS)
        by_device = cases.setdefault(key, {}).setdefault(str(info["device"]), {})
        by_device[info["framework"]] = record
    rows = []
    for key, devices in sorted(cases.items()):
        if _frameworks_in(devices) != set(FRAMEWORKS_COMPARED):
            continue
        cpu = devices.get("cpu", {})
        for device in sorted(devices, key=_device_order):
            here = devices[device]
            row: dict[str, Any] = dict(zip(KEY_FIELDS, key))
            row["device"] = device
            row["item_unit"] = next(iter(here.values()))["extra_info"].get("item_unit", "items")
            for fw in FRAMEWORKS_COMPARED:
                record = here.get(fw)
                median = record["stats"]["median"] if record else None
                row[f"{fw}_median_s"] = median
                row[f"{fw}_throughput_per_s"] = (
                    record["extra_info"].get("throughput_per_s") if record else None
                )
                row[f"{fw}_device_label"] = (
                    record["extra_info"].get("device_label") if record else None
                )
                own_cpu = cpu.get(fw)
                row[f"{fw}_speedup_over_cpu"] = (
                    own_cpu["stats"]["median"] / median
                    if device != "cpu" and own_cpu and median
                    else None
                )
            tf_median, torch_median = row["tf_median_s"], row["torch_median_s"]
            row["torch_vs_tf"] = tf_median / torch_median if tf_median and torch_median else None
            rows.append(row)
    return rows


def _frameworks_in(devices: dict[str, dict[str, Any]]) -> set[str]:
    """The frameworks measured on any of ``devices`` (device -> framework -> record)."""
    return {fw for by_framework in devices.values() for fw in by_framework}


def _device_order(device: str) -> tuple[int, str]:
    return (
        order.index(device) if device in (order := backends.device_names()) else len(order),
        device,
    )


def _times(value: float | None) -> str:
    return f"{value:.2f}x" if value else "-"


def render_frameworks(rows: list[dict[str, Any]]) -> str:
    from accelbench.summary import format_rate, format_seconds, format_table

    if not rows:
        return ""
    header = ["case", "phase", "dtype", "device"]
    for fw in FRAMEWORKS_COMPARED:
        header += [f"{fw} median", f"{fw} throughput", f"{fw} vs own cpu"]
    header.append("torch/tf")
    body = []
    for r in rows:
        mode = r["mode"] if r["mode"] != "eager" else ""  # XLA beside torch.compile
        case = " ".join(
            x
            for x in (r["workload"], r["variant"], mode, r["batch"] and f"batch={r['batch']}")
            if x
        )
        line = [case, r["phase"], r["dtype"]]
        line.append(r["device"])
        for fw in FRAMEWORKS_COMPARED:
            line += [
                format_seconds(r[f"{fw}_median_s"]),
                format_rate(r[f"{fw}_throughput_per_s"], r["item_unit"]),
                _times(r[f"{fw}_speedup_over_cpu"]),
            ]
        line.append(_times(r["torch_vs_tf"]))
        body.append(line)
    title = (
        f"{NAMES['tf']} vs {NAMES['torch']}, same network and batch (median time per step; "
        "torch/tf above 1: PyTorch faster)"
    )
    return f"{title}\n{format_table(header, body)}"
