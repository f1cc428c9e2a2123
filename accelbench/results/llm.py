"""The llm section: the language model's cases in llama-bench's names (``pp512``, ``tg128 @
d512``), tg's GB/s as a share of the copy ceiling and pp's TFLOP/s of the matmul ceiling.

A case belongs here by what its record carries: a phase of llama-bench's (``pp``, ``tg``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from accelbench.core.numbers import format_figure, format_seconds
from accelbench.core.saved_form import format_saved
from accelbench.core.spec import EAGER, LLM_PHASES, CaseSpec, parse_length_variant, weights_of
from accelbench.results.figures import key_of, measured, speedup
from accelbench.results.formats import (
    format_bounded_share,
    format_speedup,
    format_speedup_short,
    format_table,
    headline_block,
)
from accelbench.results.record import Record, device_order
from accelbench.results.section import Row, Section
from accelbench.results.shares import (
    CeilingFigures,
    Share,
    ceilings,
    copy_share,
    matmul_share,
    share_fields,
)

PROMPT, DECODE = LLM_PHASES


def llm_test_name(phase: str, context: int | None, generated: int | None) -> str:
    """llama-bench's name of a test: ``pp512`` (a 512-token prompt), ``tg128 @ d512`` (128
    tokens generated after a context of depth 512, llama-bench's ``tg128`` with ``-d 512``)."""
    depth = "?" if context is None else context
    if phase == PROMPT:
        return f"pp{depth}"
    return f"tg{'?' if generated is None else generated} @ d{depth}"


@dataclass(frozen=True)
class LlmRow(Row):
    """One language-model case (``key``: on no device; its workload is not saved).

    Decode (tg) reads every weight once per token, so its figure to look at is GB/s as a
    share of the copy ceiling (``copy_share``); prompt processing (pp) is compute-bound,
    so TFLOP/s as a share of the matmul ceiling (``matmul_share``): each with its mark and
    the ceiling it was taken against (``share_fields``). ``context``: the variant's length
    (``ctx-L=512``). ``speedup_over_cpu``: tokens/s over the CPU's eager tokens/s for the
    same test (eager is the CPU's only mode, so a graph case is set against it too: each
    device as it runs best)."""

    DROPPED = ("workload",)

    test: str
    context: int | None
    device: str
    device_label: str | None
    tokens_per_s: float | None
    time_per_token_s: float | None
    gb_per_s: float | None
    copy_share: float | None
    copy_share_mark: str | None
    copy_ceiling: float | None
    tflops_per_s: float | None
    matmul_share: float | None
    matmul_share_mark: str | None
    matmul_ceiling: float | None
    ceilings_measured: bool
    speedup_over_cpu: float | None

    def order(self) -> tuple[Any, ...]:
        key = self.key
        return (key.framework, key.size, key.dtype, key.mode, self.context or 0, key.phase)


def llm_rows(records: Iterable[Record]) -> list[LlmRow]:
    """One row per language-model case, with its shares of the same run's ceilings. Shares
    need ``benchmarks/test_ceiling.py`` in the run."""
    records = measured(records)
    index = {key_of(r): r for r in records}
    peaks = ceilings(records)
    rows = [_row(r, index, peaks) for r in records if key_of(r).phase in LLM_PHASES]
    return sorted(rows, key=lambda row: (*row.order(), device_order(row.device)))


def _row(
    r: Record, index: dict[CaseSpec, Record], peaks: dict[tuple[str, str], CeilingFigures]
) -> LlmRow:
    key = key_of(r)
    point = parse_length_variant(key.variant)
    context = point[1] if point else None
    decode = key.phase == DECODE
    rate = r.bytes_per_s if decode else None
    cpu = index.get(key.replace(device="cpu", mode=EAGER))
    return LlmRow(
        key.replace(device="", workload=""),
        test=llm_test_name(key.phase, context, r.workload_figures.get("generated_per_round")),
        context=context,
        device=r.device,
        device_label=r.device_label,
        tokens_per_s=r.throughput_per_s,
        # A step is one token, or in graph mode a round of them.
        time_per_token_s=1 / r.throughput_per_s if decode else None,
        gb_per_s=rate / 1e9 if rate else None,
        **share_fields("copy", copy_share(r, peaks) if decode else Share()),
        tflops_per_s=None if decode else r.tflops_per_s,
        **share_fields("matmul", Share() if decode else matmul_share(r, peaks)),
        ceilings_measured=(r.device, key.dtype) in peaks,
        speedup_over_cpu=None if r.device == "cpu" else speedup(cpu, r),
    )


def render(rows: list[LlmRow]) -> str:
    """The language model in llama-bench's names, with its shares of the run's ceilings."""
    if not rows:
        return ""
    modes = any(r.key.mode != EAGER for r in rows)
    quantized = any(weights_of(r.key.variant) for r in rows)
    header = ["test", "framework", "dtype", *(["weights"] if quantized else [])]
    header += ["size", "device", *(["mode"] if modes else [])]
    header += ["throughput", "per token", "GB/s", "of copy", "TFLOP/s", "of matmul"]
    versus = any(r.speedup_over_cpu for r in rows)
    header += ["vs cpu"] if versus else []
    body = [
        [
            r.test,
            r.key.framework,
            r.key.dtype,
            *([weights_of(r.key.variant) or r.key.dtype] if quantized else []),
            r.key.size,
            r.device,
            *([r.key.mode] if modes else []),
            format_saved("throughput_per_s", r.tokens_per_s, "tokens"),
            format_seconds(r.time_per_token_s),
            format_figure(r.gb_per_s),
            format_bounded_share(r.copy_share, r.copy_share_mark),
            format_saved("tflops_per_s", r.tflops_per_s),
            format_bounded_share(r.matmul_share, r.matmul_share_mark),
            *([format_speedup(r.speedup_over_cpu)] if versus else []),
        ]
        for r in rows
    ]
    title = (
        "language model at batch 1, as llama-bench names it (pp<n>: an n-token prompt; "
        "tg<m> @ d<n>: m tokens generated after n; of copy / of matmul: share of this run's "
        "ceiling on the same device and dtype; vs cpu: tokens/s over the CPU's, eager)"
    )
    lines = [title, format_table(header, body), *ceilings_used(rows)]
    if any(getattr(r, f"{k}_share_mark") for r in rows for k in ("copy", "matmul")):
        lines.append(SHARE_MARKS_LEGEND)
    if not all(r.ceilings_measured for r in rows):
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


def ceilings_used(rows: list[LlmRow]) -> list[str]:
    """One line naming the ceilings the shares were taken against, per device and dtype."""
    used: dict[tuple[str, str], dict[str, str]] = {}
    for r in rows:
        figures = used.setdefault((r.device, r.key.dtype), {})
        if r.copy_ceiling:
            figures["copy"] = f"copy {format_figure(r.copy_ceiling)} GB/s"
        if r.matmul_ceiling:
            figures["matmul"] = f"matmul {format_figure(r.matmul_ceiling)} TFLOP/s"
    parts = [
        f"{device} {dtype}: {', '.join(figures[k] for k in sorted(figures))}"
        for (device, dtype), figures in used.items()
        if figures
    ]
    if not parts:
        return []
    return ["ceilings used (the fastest round of each ceiling case): " + "; ".join(parts)]


def headline(rows: list[LlmRow]) -> list[str]:
    """``  torch llm tg128 @ d512 bf16 full graph  cuda 32.2x``: a language-model case in a
    mode the CPU does not run (graph) against the CPU's eager tokens/s. The speedups pair
    like modes only, so without these the accelerator's best decode would not reach the
    headline."""
    lines: dict[str, list[str]] = {}
    for r in rows:
        if r.key.mode == EAGER or not r.speedup_over_cpu:
            continue
        dtype = " ".join(x for x in (r.key.dtype, weights_of(r.key.variant)) if x)
        name = f"{r.key.framework} llm {r.test} {dtype} {r.key.size} {r.key.mode}"
        lines.setdefault(name, []).append(f"{r.device} {format_speedup_short(r.speedup_over_cpu)}")
    title = (
        "headline: the language model replayed as graphs against the CPU's eager "
        "(tokens/s over the CPU's; each device as it runs best)"
    )
    return headline_block(title, lines) if lines else []


LLM = Section("llm", LlmRow, llm_rows, render, headline)
