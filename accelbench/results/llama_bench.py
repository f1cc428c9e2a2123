"""The language model's cases as llama-bench reports them, so the suite's numbers sit beside
llama-bench's on the same machine.

llama-bench prints one row per (model, test): ``pp512`` (a 512-token prompt), ``tg128``
(128 generated tokens; ``tg128 @ d512`` after a context of depth 512, its ``-d 512``), with
tokens/s as ``avg ± stddev`` over its repetitions; ``-o jsonl`` writes the same as one JSON
object per line (``n_prompt``, ``n_gen``, ``n_depth``, ``avg_ts``, ``stddev_ts``,
``avg_ns``, ``stddev_ns``, ``model_type``, ``model_size``, ``model_n_params``, ...).

Here a row is one language-model record of a saved run: the model is its shape (``shape_of``,
e.g. Llama-3.2-1B, else the size profile) and its weights (a quantized variant part such as
``w4`` or ``w8`` where the case names one, else the dtype), the test its phase and lengths.
A repetition is a timed round: the mean and standard deviation are pytest-benchmark's,
per step, turned into tokens/s (``avg_ts`` = tokens per step / mean time per step;
``stddev_ts`` by first-order propagation, tokens * stddev / mean^2, since the rounds' own
times are not saved). ``avg_ns`` is the time of one test (n_prompt or n_gen tokens), as
llama-bench's. Every line also carries the suite's identity of the case and the run's
provenance (``accelbench.results.export.Provenance``).
"""

from __future__ import annotations

import json
from typing import Any

from accelbench.core.ceilings import BYTES_PER_ELEMENT
from accelbench.core.spec import LLM_PHASES, parse_length_variant, weights_of
from accelbench.results.llm import DECODE, llm_test_name
from accelbench.results.markdown import escape
from accelbench.results.record import Record
from accelbench.results.runs import Run

# llama.cpp's names of the unquantized types.
DTYPE_TYPES = {"fp32": "F32", "tf32": "F32", "fp16": "F16", "bf16": "BF16"}


def weights(record: Record) -> str:
    """The weights a case decodes with: its variant's quantization part (``w4``), else the
    dtype in llama.cpp's name (``BF16``)."""
    if record.key is None:
        return ""
    return weights_of(record.key.variant) or DTYPE_TYPES.get(record.key.dtype, record.key.dtype)


def llama_test_name(phase: str, context: int, generated: int) -> str:
    """llama-bench's test name: the summary's (``pp512``, ``tg128 @ d512``), but ``tg128`` at
    depth 0, as llama-bench prints it."""
    return llm_test_name(phase, context, generated).removesuffix(" @ d0")


def rows(run: Run) -> list[dict[str, Any]]:
    """One llama-bench row per language-model record of ``run`` that was measured."""
    from accelbench.results.export import provenance

    origin = provenance(run)
    out = []
    for r in run.measured:
        if r.key is None or r.key.phase not in LLM_PHASES or not r.throughput_per_s:
            continue
        point = parse_length_variant(r.key.variant)
        shapes = r.extra.get("shapes") if isinstance(r.extra.get("shapes"), dict) else {}
        context = point[1] if point else int(shapes.get("context") or 0)
        decode = r.key.phase == DECODE
        per_round = r.workload_figures.get("generated_per_round")
        generated = per_round or int(shapes.get("generate") or 0)
        n_tokens = generated if decode else context
        per_step = r.items_per_step or r.throughput_per_s * r.median_s
        mean_s = r.stats.mean or r.median_s
        stddev_s = r.stats.stddev or 0.0
        avg_ts = per_step / mean_s
        parameters = shapes.get("parameters")
        quantized = weights(r) not in DTYPE_TYPES.values()
        model_size = None
        if parameters and not quantized:
            model_size = parameters * BYTES_PER_ELEMENT.get(r.key.dtype, 0) or None
        model = shapes.get("shape_of") or f"llm {r.key.size}"
        out.append(
            {
                "model_type": f"{model} {weights(r)}",
                "model_size": model_size,
                "model_n_params": parameters,
                "backends": f"{r.key.framework} {r.key.device}",
                "gpu_info": r.label,
                "n_threads": r.extra.get("threads"),
                "n_prompt": 0 if decode else context,
                "n_gen": generated if decode else 0,
                "n_depth": context if decode else 0,
                "test": llama_test_name(r.key.phase, context, generated),
                "test_time": origin.date,
                "avg_ns": round(mean_s * n_tokens / per_step * 1e9),
                "stddev_ns": round(stddev_s * n_tokens / per_step * 1e9),
                "avg_ts": avg_ts,
                "stddev_ts": per_step * stddev_s / mean_s**2,
                "median_ts": r.throughput_per_s,
                "weights": weights(r),
                "dtype": r.key.dtype,
                "mode": r.key.mode,
                "gb_per_s": r.bytes_per_s / 1e9 if decode and r.bytes_per_s else None,
                "identity": r.key.as_dict(),
                "flags": sorted(r.flags),
                "build_commit": origin.commit,
                "machine_id": origin.machine_id,
                "run_id": origin.run_id,
            }
        )
    return out


def jsonl(run: Run) -> str:
    """The rows as llama-bench's ``-o jsonl``: one JSON object per line."""
    return "".join(json.dumps(row, sort_keys=False) + "\n" for row in rows(run))


MARKDOWN_HEADER = (
    "model",
    "size",
    "params",
    "backend",
    "mode",
    "threads",
    "test",
    "t/s",
    "median t/s",
)


def markdown(run: Run) -> str:
    """The rows as llama-bench's default table (``-o md``): model, size, params, backend,
    threads, test and ``t/s`` as ``avg ± stddev`` (llama-bench's), with the suite's mode beside
    the backend (llama-bench has one way of running; here eager, graph and compile are
    different rows) and the median tokens/s the suite's other tables give: a mean that
    outliers pulled down shows as a large ``±`` and a median far above it."""
    lines = [
        _md_row(MARKDOWN_HEADER),
        "| --- | ---: | ---: | --- | --- | ---: | --- | ---: | ---: |",
    ]
    for row in rows(run):
        lines.append(
            _md_row(
                (
                    row["model_type"],
                    _gib(row["model_size"]),
                    _billions(row["model_n_params"]),
                    row["backends"],
                    row["mode"],
                    "" if row["n_threads"] is None else row["n_threads"],
                    row["test"],
                    f"{row['avg_ts']:.2f} ± {row['stddev_ts']:.2f}",
                    f"{row['median_ts']:.2f}",
                )
            )
        )
    return "\n".join(lines) + "\n"


def _md_row(cells: tuple[object, ...]) -> str:
    return "| " + " | ".join(escape(cell) for cell in cells) + " |"


def _gib(size: object) -> str:
    return f"{size / 2**30:.2f} GiB" if isinstance(size, (int, float)) and size else ""


def _billions(count: object) -> str:
    return f"{count / 1e9:.2f} B" if isinstance(count, (int, float)) and count else ""
