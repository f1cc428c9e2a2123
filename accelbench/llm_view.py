"""Language-model figures as llama-bench names them, set against this run's own ceilings.

``pp<n>``: prompt tokens/s over an n-token prompt. ``tg<m> @ d<n>``: generated tokens/s
over m tokens after an n-token context (llama-bench's ``tg<m>`` with ``-d <n>``), and the
time per token. Decode reads every weight once per token, so tg's figure to look at is its
GB/s as a share of the copy ceiling of the same device and dtype in the same run; pp is
compute-bound, so its TFLOP/s as a share of the matmul ceiling. Shares need
``benchmarks/test_ceiling.py`` in the run.
"""

from __future__ import annotations

from typing import Any

from accelbench.scaling import parse_length_variant
from accelbench.spec import DEVICE_NAMES

WORKLOAD = "llm"


def llm_test_name(phase: str, shapes: dict[str, Any]) -> str:
    """llama-bench's name of a test: ``pp512``, ``tg128 @ d512``."""
    context = shapes.get("context", "?")
    return f"pp{context}" if phase == "pp" else f"tg{shapes.get('generate', '?')} @ d{context}"


def llm_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per measured language-model case, with its shares of this run's ceilings."""
    from accelbench import report  # report imports summary, which imports this module
    from accelbench.summary import measured

    peaks = report.ceilings(records)
    rows = []
    for record in measured(records):
        info = record["extra_info"]
        if info.get("workload") != WORKLOAD:
            continue
        phase, device, dtype = str(info.get("phase")), str(info["device"]), str(info.get("dtype"))
        peak = peaks.get((device, dtype))
        decode = phase == "tg"
        tflops = None if decode else info.get("tflops_per_s")
        rate = report.bytes_per_s(record) if decode else None
        rows.append(
            {
                **{f: info.get(f) for f in ("framework", "variant", "dtype", "size")},
                "phase": phase,
                "test": llm_test_name(phase, info.get("shapes") or {}),
                "device": device,
                "device_label": info.get("device_label"),
                "tokens_per_s": info.get("throughput_per_s"),
                "time_per_token_s": record["stats"]["median"] if decode else None,
                "gb_per_s": rate / 1e9 if rate else None,
                "copy_share": report.bandwidth_share(rate, peak),
                "tflops_per_s": tflops,
                "matmul_share": tflops / peak.matmul_tflops
                if tflops and peak and peak.matmul_tflops
                else None,
                "ceilings_measured": peak is not None,
            }
        )
    return sorted(rows, key=_order)


def _order(row: dict[str, Any]) -> tuple[Any, ...]:
    point = parse_length_variant(str(row["variant"])) or ("", 0)
    device = row["device"]
    rank = DEVICE_NAMES.index(device) if device in DEVICE_NAMES else len(DEVICE_NAMES)
    return (str(row["size"]), str(row["dtype"]), point[1], row["phase"], rank, device)


def render_llm(rows: list[dict[str, Any]]) -> str:
    from accelbench.report import format_figure, format_share
    from accelbench.summary import format_rate, format_seconds, format_table

    if not rows:
        return ""
    header = ["test", "dtype", "size", "device", "throughput", "per token", "GB/s", "of copy"]
    header += ["TFLOP/s", "of matmul"]
    body = [
        [
            r["test"],
            str(r["dtype"]),
            str(r["size"]),
            r["device"],
            format_rate(r["tokens_per_s"], "tokens"),
            format_seconds(r["time_per_token_s"]),
            format_figure(r["gb_per_s"]),
            format_share(r["copy_share"]),
            format_figure(r["tflops_per_s"]),
            format_share(r["matmul_share"]),
        ]
        for r in rows
    ]
    title = (
        "language model at batch 1, as llama-bench names it (pp<n>: an n-token prompt; "
        "tg<m> @ d<n>: m tokens generated after n; of copy / of matmul: share of this run's "
        "ceiling on the same device and dtype)"
    )
    lines = [title, format_table(header, body)]
    if not all(r["ceilings_measured"] for r in rows):
        lines.append(
            "no ceiling measured for some device or dtype: add benchmarks/test_ceiling.py "
            "to the run for the shares"
        )
    return "\n".join(lines)
