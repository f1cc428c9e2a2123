"""The saved form of a case, pytest-benchmark's ``extra_info``: written and read here only.

Every key a case saves is declared once, in ``FIGURES`` (as pyperf's ``_metadata.py``
declares its metadata): its check (the type and bounds a loaded value must have, or None
for a fact kept as saved and not read back), its unit and how it prints. The runners write
through ``case_info`` and ``figures``, which refuse a name that is not declared; the read
side loads through ``read_case``, which checks every declared value once, so nothing
downstream meets a bad one, and prints a saved figure through ``format_saved``, so the
summary, the report and the exports show it alike. Writer and reader sit side by side, so
they cannot drift apart.

The identity is ``CaseSpec``'s fields, saved as they are; runs saved before a field
existed read with the value it stood for then (no mode: eager; layout "nchw" or none: "").

A workload's own figures sit in the saved ``shapes`` object (the workload's description of
its step); those the read side uses are declared in ``WORKLOAD_FIGURES`` and read into a
mapping of their own (``SavedCase.workload_figures``), not into fields of every record.

This module is ``core``: the runners write through it, and ``accelbench.results.record``
builds its ``Record`` from what it reads, without the write side importing the read side.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from accelbench.core.launch import parse_workers_variant
from accelbench.core.numbers import (
    format_compact,
    format_cube,
    format_figure,
    format_mebibytes,
    format_seconds,
    format_signed_share,
    format_throughput,
)
from accelbench.core.spec import EAGER, IDENTITY_FIELDS, REQUIRED_FIELDS, CaseSpec, layout_value
from accelbench.core.stability import UNSTABLE

MAX_SECONDS = 1e6  # a median of more than 11 days per step is not a measurement
MAX_FIGURE = 1e30  # throughput, FLOP/s, errors: anything larger is corrupt
MAX_COUNT = 10**30  # items, FLOPs, bytes per step, memory
MAX_TEXT = 1000


class Unusable(ValueError):
    """A saved entry that cannot be read as a result; the message is one line."""


# Checks: (where, value) -> the value read, or Unusable with a one-line reason -------------


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"a string ({clip(value)!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def number(where: str, value: Any, *, high: float = MAX_FIGURE, unit: str = "") -> float | None:
    """A finite number in [0, high], or None when absent; ``Unusable`` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Unusable(f"{where} is {kind(value)}, not a number")
    try:
        as_float = float(value)
    except OverflowError:
        digits = len(str(value))
        raise Unusable(f"{where} is an integer of {digits} digits, beyond {high:g}") from None
    if not math.isfinite(as_float):
        raise Unusable(f"{where} is not finite ({as_float})")
    if as_float < 0:
        raise Unusable(f"{where} is negative ({as_float:g})")
    if as_float > high:
        raise Unusable(f"{where} is {as_float:g}{unit}, beyond {high:g}{unit}")
    return as_float


def seconds(where: str, value: Any) -> float | None:
    return number(where, value, high=MAX_SECONDS, unit=" s")


def count(where: str, value: Any, *, high: int = MAX_COUNT) -> int | None:
    """A whole number in [0, high], or None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and 0 <= value <= high:
            return int(value)
        raise Unusable(f"{where} is {kind(value)}, not a whole number")
    if not 0 <= value <= high:
        shown = f"{value:g}" if abs(value) < 10**300 else f"an integer of {len(str(value))} digits"
        raise Unusable(f"{where} is {shown}, outside 0..{high:g}")
    return value


def text(where: str, value: Any, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise Unusable(f"{where} is {kind(value)}, not a string")
    if required and not value:
        raise Unusable(f"{where} is empty")
    if len(value) > MAX_TEXT:
        raise Unusable(f"{where} is a string of {len(value)} characters, over {MAX_TEXT}")
    return value


def signed_share(where: str, value: Any) -> float | None:
    """A finite number at most 1 (a share that noise can take below 0), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Unusable(f"{where} is {kind(value)}, not a number")
    if not math.isfinite(value) or not -MAX_FIGURE <= value <= 1:
        raise Unusable(f"{where} is {value:g}, not a share (at most 1)")
    return float(value)


def _positive_count(where: str, value: Any) -> int | None:
    """A count where 0 means none was recorded."""
    return count(where, value) or None


def _memory(where: str, raw: Any) -> Mapping[str, float]:
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, dict):
        raise Unusable(f"{where} is {kind(raw)}, not an object")
    out = {}
    for name, value in raw.items():
        checked = number(f"{where}.{name}", value, high=MAX_COUNT)
        if checked is not None:
            out[name] = checked
    return MappingProxyType(out)


def _flags(where: str, raw: Any) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list) or not all(isinstance(f, str) and f for f in raw):
        raise Unusable(f"{where} is {kind(raw)}, not a list of names")
    return frozenset(raw)


def _object(where: str, raw: Any) -> Mapping[str, Any]:
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, dict):
        raise Unusable(f"{where} is {kind(raw)}, not an object")
    return MappingProxyType(raw)


@dataclass(frozen=True)
class Energy:
    """The energy of a case's timed rounds (``accelbench.core.energy``), or why there is none.

    ``measured`` False: ``reason`` says why (no NVML, macOS without sudo powermetrics, a CPU).
    ``counter_vs_power_*``: the energy counter's joules over the sampled board power
    integrated over the same rounds (near 1: the two agree); ``coarse``: a window under 1 s.
    """

    measured: bool
    reason: str = ""
    source: str = ""
    joules_per_step: float | None = None
    items_per_joule: float | None = None
    mean_power_w: float | None = None
    window_s: float | None = None
    coarse: bool = False
    counter_vs_power_usage: float | None = None
    counter_vs_power_instant: float | None = None

    @property
    def counter_check(self) -> float | None:
        """The counter against integrated power: the instantaneous reading where there is one."""
        return self.counter_vs_power_instant or self.counter_vs_power_usage


def _energy(where: str, raw: Any) -> Energy | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise Unusable(f"{where} is {kind(raw)}, not an object")
    measured, coarse = raw.get("measured", False), raw.get("coarse", False)
    for name, value in (("measured", measured), ("coarse", coarse)):
        if not isinstance(value, bool):
            raise Unusable(f"{where}.{name} is {kind(value)}, not true or false")
    figures = {
        f.name: number(f"{where}.{f.name}", raw.get(f.name))
        for f in dataclasses.fields(Energy)
        if f.type == "float | None"
    }
    if measured and not (figures["joules_per_step"] and figures["items_per_joule"]):
        raise Unusable(f"{where} is measured without joules_per_step or items_per_joule")
    return Energy(
        measured=measured,
        reason=text(f"{where}.reason", raw.get("reason")),
        source=text(f"{where}.source", raw.get("source")),
        coarse=coarse,
        **figures,
    )


def _stability(where: str, raw: Any) -> tuple[bool, str] | None:
    """(stable, the reason it is not) as saved; None when the rounds were not judged."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise Unusable(f"{where} is {kind(raw)}, not an object")
    stable = raw.get("stable")
    if not isinstance(stable, bool):
        raise Unusable(f"{where}.stable is {kind(stable)}, not true or false")
    return stable, text(f"{where}.reason", raw.get("reason"))


# The registry -----------------------------------------------------------------------------


def plain(value: Any) -> str:
    return "" if value is None else str(value)


def _with_unit(unit: str, digits: int = 4) -> Callable[[Any], str]:
    def shown(value: Any) -> str:
        return "" if value is None else f"{value:.{digits}g} {unit}".rstrip()

    return shown


Check = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Figure:
    """One saved key: ``check`` reads it (None: a fact kept as saved, not read back), in
    ``unit``; ``format`` prints a value read (with what else it needs: a throughput its item
    unit); ``parts``: the figures of an object's fields, by name. ``data_parallel``: read only
    for a case whose variant names a worker count, into ``DataParallelFigures``."""

    check: Check | None = None
    unit: str = ""
    format: Callable[..., str] = plain
    doc: str = ""
    data_parallel: bool = False
    parts: Mapping[str, Figure] = dataclasses.field(default_factory=lambda: MappingProxyType({}))


def _figure(
    check: Check | None,
    unit: str = "",
    doc: str = "",
    format: Callable[..., str] | None = None,
    **parts: Figure,
) -> Figure:
    shown = format or (_with_unit(unit) if unit else plain)
    return Figure(check, unit, shown, doc, parts=MappingProxyType(parts))


def _ddp(
    check: Check, unit: str = "", doc: str = "", format: Callable[..., str] | None = None
) -> Figure:
    return dataclasses.replace(_figure(check, unit, doc, format), data_parallel=True)


_IDENTITY = Figure(doc="a field of the case's identity (CaseSpec)")
_FACT = Figure(doc="saved as measured, for people and tools; not read back")

FIGURES: Mapping[str, Figure] = MappingProxyType(
    {
        **dict.fromkeys(IDENTITY_FIELDS, _IDENTITY),
        # What the case measured: read into Record fields.
        "device_label": _figure(text, doc="what a person calls the device"),
        "item_unit": _figure(text, doc="what items_per_step counts (images, tokens, ...)"),
        "items_per_step": _figure(number, "items"),
        "throughput_per_s": _figure(
            number, "items/s", "items_per_step / the median step", format_throughput
        ),
        "flops_per_step": _figure(number, "FLOP"),
        "tflops_per_s": _figure(number, "TFLOP/s", format=format_figure),
        "bytes_per_step": _figure(
            number, "B", "bytes a step moves (the copy ceiling)", format_mebibytes
        ),
        "device_time_median_s": _figure(seconds, "s", "device events, per step", format_seconds),
        "latency_batch1_s": _figure(
            seconds, "s", "batch-1 inference, one step at a time", format_seconds
        ),
        "memory": _figure(_memory, "B", "the device's memory figures, by name"),
        "parity_max_rel_error": _figure(number, doc="against the CPU reference"),
        "parity_tolerance": _figure(number, doc="the dtype's tolerance for parity"),
        "compile_time_s": _figure(
            seconds, "s", "first compiled call until steps were steady", format_seconds
        ),
        "recompiles_timed": _figure(count, doc="compilations during the timed rounds"),
        "graph_breaks": _figure(count, doc="torch.compile: where the graph fell back"),
        "flags": _figure(_flags, doc="the conditions the case ran under (busy, ...)"),
        "energy": _figure(
            _energy,
            doc="energy of the timed rounds (core.energy)",
            joules_per_step=_figure(number, "J", format=format_figure),
            items_per_joule=_figure(number, "items/J", format=format_compact),
            mean_power_w=_figure(number, "W", format=format_figure),
        ),
        "stability": _figure(_stability, doc="the judgement of the rounds (core.stability)"),
        "steps_per_round": _figure(_positive_count, doc="k: steps timed between synchronizes"),
        "case_wall_s": _figure(
            seconds, "s", "the case start to end (the next run's time budget)", format_seconds
        ),
        # What a data-parallel case (variant workers=<k>) adds: read into DataParallelFigures.
        "model": _ddp(text, doc="the single-device workload trained data-parallel"),
        "workers": _ddp(count, doc="processes, one per device"),
        "hosts": _ddp(count),
        "communication": _ddp(_object, doc="the collective backend and its facts"),
        "throughput_per_worker_per_s": _ddp(number, "items/s", format=format_throughput),
        "allreduce_exposed_share": _ddp(
            signed_share,
            doc="share of a step waiting for the all-reduce; below 0 is noise",
            format=format_signed_share,
        ),
        # The workload's own description of its step (WORKLOAD_FIGURES reads from it).
        "shapes": _FACT,
        # Facts of how the case ran, kept for people and tools.
        **dict.fromkeys(
            (
                "dtype_ran",
                "timing_mode",
                "rounds",
                "warmup_steps",
                "warmup_rounds",
                "harness_overhead_per_step_s",
                "threads",
                "first_step_s",
                "conditions",
                "omp_wait_policy",
                "parity_errors",
                "parity_reference",
                "parity_tokens",
                "compile_steps",
                "compilations_warmup",
                "compile_steady",
                "compile_backend",
                "compile_mode",
                "cudagraph_skips",
                "compiled_graphs",
                "fx_graph_cache_hits",
                "fx_graph_cache_misses",
                "latency_batch1_repeats",
                "latency_mode",
                "world_size",
                "launcher",
                "ddp",
                "items_per_worker",
                "flops_per_worker_step",
                "gradient_bytes",
                "barrier_median_s",
                "allreduce_pairs",
                "step_sync_median_s",
                "step_no_sync_median_s",
            ),
            _FACT,
        ),
    }
)

# A workload's own figures: read name -> (its key in the saved ``shapes``, its figure).
WORKLOAD_FIGURES: Mapping[str, tuple[str, Figure]] = MappingProxyType(
    {
        "matmul_n": (
            "n",
            _figure(count, doc="the ceiling's matmul size (n x n x n)", format=format_cube),
        ),
        "generated_per_round": (
            "generate",
            _figure(_positive_count, "tokens", "a language model's tg: tokens per round"),
        ),
    }
)


def figure(name: str) -> Figure:
    """The declaration of a saved figure: ``energy.joules_per_step`` names a part of one,
    ``matmul_n`` a workload's own."""
    whole, _, part = name.partition(".")
    declared = FIGURES.get(whole) or WORKLOAD_FIGURES[whole][1]
    return declared.parts[part] if part else declared


def format_saved(name: str, value: Any, *context: Any) -> str:
    """A saved figure's value as text, as its declaration says (``context``: what its
    formatter needs besides the value, e.g. a throughput's item unit)."""
    return figure(name).format(value, *context)


# Writing ----------------------------------------------------------------------------------


def figures(**values: Any) -> dict[str, Any]:
    """``values`` as extra_info holds them; a name not in ``FIGURES`` is a programming error
    (declare it there first)."""
    unknown = sorted(set(values) - set(FIGURES))
    if unknown:
        raise ValueError(
            f"{', '.join(unknown)}: not a saved figure; declare it in "
            "accelbench.core.saved_form.FIGURES"
        )
    return values


def case_info(spec: CaseSpec, **values: Any) -> dict[str, Any]:
    """A case's extra_info to begin with: its identity, then ``values``."""
    return {**dataclasses.asdict(spec), **figures(**values)}


# Reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataParallelFigures:
    """What a data-parallel case (variant ``workers=<k>``) saves beside its statistics."""

    model: str  # the single-device workload it trains data-parallel
    workers: int  # processes, one per device; the same count as the variant's
    hosts: int | None = None
    backend: str | None = None  # the collective backend of the gradients: gloo, nccl
    throughput_per_worker_per_s: float | None = None
    # The share of a step spent waiting for the gradient all-reduce; below 0 is noise (a
    # step without the all-reduce measured slower), kept as measured.
    allreduce_exposed_share: float | None = None


@dataclass(frozen=True)
class SavedCase:
    """What a case's extra_info reads into: its identity, the figures of ``FIGURES`` with a
    check (by name), its workload's own figures, and the rest as saved."""

    spec: CaseSpec
    figures: Mapping[str, Any]
    data_parallel: DataParallelFigures | None
    workload_figures: Mapping[str, Any]
    extra: Mapping[str, Any]


def read(info: Mapping[str, Any], name: str) -> Any:
    """The saved figure ``name`` of ``info``, checked through its declaration."""
    check = FIGURES[name].check
    assert check is not None, f"{name} is kept as saved, not read"
    return check(f"extra_info.{name}", info.get(name))


def read_identity(info: Mapping[str, Any]) -> CaseSpec:
    """The case a saved extra_info names; runs saved before a field existed read with the
    value it stood for then."""
    fields = {
        f: text(f"extra_info.{f}", info.get(f), required=f in REQUIRED_FIELDS)
        for f in IDENTITY_FIELDS
    }
    fields["mode"] = fields["mode"] or EAGER
    fields["memory_format"] = layout_value(fields["memory_format"])
    return CaseSpec(**fields)


# The figures every case reads back into its record (not the data-parallel ones).
_CASE_FIGURES = tuple(n for n, f in FIGURES.items() if f.check is not None and not f.data_parallel)


def _case_figures(info: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared figure of the case itself, checked."""
    out = {name: read(info, name) for name in _CASE_FIGURES}
    stability = out.pop("stability")
    if stability is None:
        if UNSTABLE in out["flags"]:
            raise Unusable("extra_info.flags says unstable but extra_info.stability is missing")
        out["stability_reason"] = ""
        return out
    stable, reason = stability
    if stable == bool(reason) or (stable and UNSTABLE in out["flags"]):
        raise Unusable(
            "extra_info.stability contradicts itself (stable with a reason, unstable without "
            "one, or disagreeing with the unstable flag)"
        )
    out["stability_reason"] = reason
    return out


def _data_parallel(info: Mapping[str, Any], variant: str) -> DataParallelFigures | None:
    """The data-parallel figures of a case whose variant names a worker count; None for
    any other case."""
    workers = parse_workers_variant(variant)
    if workers is None:
        return None
    saved = read(info, "workers")
    if saved != workers:
        raise Unusable(
            f"extra_info.workers is {saved!r} but the variant is {clip(variant)!r} "
            "(a data-parallel case's variant is workers=<its worker count>)"
        )
    backend = read(info, "communication").get("backend")
    return DataParallelFigures(
        model=text("extra_info.model", info.get("model"), required=True),
        workers=workers,
        hosts=read(info, "hosts"),
        backend=text("extra_info.communication.backend", backend) or None,
        throughput_per_worker_per_s=read(info, "throughput_per_worker_per_s"),
        allreduce_exposed_share=read(info, "allreduce_exposed_share"),
    )


def _workload_figures(info: Mapping[str, Any]) -> Mapping[str, Any]:
    shapes = info.get("shapes")
    if not isinstance(shapes, dict):
        shapes = {}
    found = {}
    for name, (key, figure) in WORKLOAD_FIGURES.items():
        assert figure.check is not None
        value = figure.check(f"extra_info.shapes.{key}", shapes.get(key))
        if value is not None:
            found[name] = value
    return MappingProxyType(found)


def read_case(info: Mapping[str, Any]) -> SavedCase:
    """A case's extra_info, checked: ``Unusable`` with a one-line reason for a bad value."""
    spec = read_identity(info)
    read_back = {*_CASE_FIGURES, *IDENTITY_FIELDS}
    return SavedCase(
        spec=spec,
        figures=MappingProxyType(_case_figures(info)),
        data_parallel=_data_parallel(info, spec.variant),
        workload_figures=_workload_figures(info),
        extra=MappingProxyType({k: v for k, v in info.items() if k not in read_back}),
    )
