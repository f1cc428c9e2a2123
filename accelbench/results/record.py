"""One typed, validated record per saved benchmark, read from pytest-benchmark's JSON here only.

Every reader of results (the end-of-run summary, ``compare``, ``report``, plots, exports and
the pytest ``--benchmark-compare`` path) works on ``Record`` values, never on the raw dicts.
An entry is checked once, when it is read: a field of the wrong type, a number that is not
finite or is absurd (a median beyond ``MAX_SECONDS``, a count beyond ``MAX_COUNT``) raises
``Unusable`` with a one-line reason, so nothing downstream meets a bad value.

``CaseKey`` is a case's whole identity. Two records are comparable only when their keys are
equal; the views group records by keys with a field blanked (``key.replace(device="")`` is
the case across devices). How a case ran is part of it: ``mode`` (eager or compiled),
``memory_format`` ("" for the framework's default layout, else ``channels_last``) and
a batch other than the profile's is part of the variant (``batch=N``, from ``--batch`` or
``--sweep batch``); runs saved before these existed read as eager, default layout.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from accelbench.core.conditions import FLAGS as CONDITION_FLAGS
from accelbench.core.launch import parse_workers_variant
from accelbench.core.stability import UNSTABLE  # rounds no verdict can rest on

DEFAULT_MODE = "eager"  # runs saved before cases had a mode ran eagerly
DEFAULT_LAYOUTS = ("", "nchw")  # the default layout is saved as ""; "nchw" reads the same
NOISY_IQR_SHARE = 0.10  # IQR above 10% of the median: noisy, as torch.utils.benchmark flags it
MAX_SECONDS = 1e6  # a median of more than 11 days per step is not a measurement
# A median below a picosecond per step is not a measurement either (no clock resolves it;
# a subnormal such as 5e-324 makes throughput infinite, which JSON cannot hold).
MIN_SECONDS = 1e-12
MAX_FIGURE = 1e30  # throughput, FLOP/s, errors: anything larger is corrupt
MAX_COUNT = 10**30  # items, FLOPs, bytes per step, memory
MAX_ROUNDS = 10**9
MAX_TEXT = 1000
IDENTITY_FIELDS = (
    "framework",
    "workload",
    "phase",
    "variant",
    "device",
    "dtype",
    "size",
    "mode",
    "memory_format",
)
REQUIRED_IDENTITY = ("framework", "workload", "phase", "device")
DEVICE_ORDER = ("cpu", "mps", "cuda")

NOISY = "noisy"
PARTIAL = "partial"


class Unusable(ValueError):
    """A saved entry that cannot be read as a result; the message is one line."""


@dataclass(frozen=True)
class CaseKey:
    """What was measured: equal keys, and only equal keys, are comparable results."""

    framework: str
    workload: str
    phase: str
    variant: str = ""
    device: str = ""
    dtype: str = ""
    size: str = ""
    mode: str = DEFAULT_MODE
    memory_format: str = ""

    def replace(self, **changes: str) -> CaseKey:
        return dataclasses.replace(self, **changes)

    @property
    def case(self) -> CaseKey:
        """The same case on no particular device: the key that groups a case's devices."""
        return self.replace(device="")

    def differences(self, other: CaseKey) -> list[str]:
        """``["size smoke -> standard"]``: the fields where ``other`` differs from this key."""
        return [
            f"{name} {getattr(self, name) or '-'} -> {getattr(other, name) or '-'}"
            for name in IDENTITY_FIELDS
            if getattr(self, name) != getattr(other, name)
        ]

    @property
    def label(self) -> str:
        """``torch attention sdpa-L=128 infer``: framework, workload, variant and phase."""
        parts = (self.framework, self.workload, self.variant, self.phase)
        return " ".join(p for p in parts if p)

    @property
    def execution(self) -> str:
        """How the case ran: ``eager``, ``compile``, ``eager channels_last``, ..."""
        return execution_label(self.mode, self.memory_format)

    def sort_key(self) -> tuple[Any, ...]:
        """Workload order, lengths numerically (L=64 before L=128), eager before compiled,
        default layout first, devices cpu, mps, cuda."""
        return (
            self.framework,
            self.workload,
            self.phase,
            natural_key(self.variant),
            mode_order(self.mode),
            self.memory_format,
            self.dtype,
            self.size,
            device_order(self.device),
        )

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def natural_key(text: str) -> list[Any]:
    """Sort "L=64" before "L=128": digit runs compare as numbers."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p]


def device_order(device: str) -> tuple[int, str]:
    return (DEVICE_ORDER.index(device) if device in DEVICE_ORDER else len(DEVICE_ORDER), device)


def mode_order(mode: str) -> tuple[int, str]:
    """Eager first, then the compiled modes by name."""
    return (mode != DEFAULT_MODE, mode)


def execution_label(mode: str, memory_format: str = "", *, default: str = DEFAULT_MODE) -> str:
    """How a case ran: ``compile``, ``eager channels_last``, ...; eager execution in the
    default layout is ``default`` ("eager", or "" where only the exceptions are named)."""
    label = " ".join(x for x in (mode or DEFAULT_MODE, memory_format) if x)
    return default if label == DEFAULT_MODE else label


@dataclass(frozen=True)
class Stats:
    """pytest-benchmark's statistics of one benchmark, in seconds per step."""

    median: float
    q1: float | None = None
    q3: float | None = None
    iqr: float | None = None
    mean: float | None = None
    stddev: float | None = None
    min: float | None = None
    max: float | None = None
    rounds: int | None = None
    iterations: int | None = None

    @property
    def iqr_share(self) -> float | None:
        """The interquartile range as a share of the median (0.02 for 2%)."""
        return None if self.iqr is None else self.iqr / self.median


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


@dataclass(frozen=True)
class Record:
    """One saved benchmark: its identity, its statistics, its figures and its flags.

    ``key`` is None for an entry without this suite's extra_info (plain pytest-benchmark),
    which has statistics only. ``flags`` holds ``noisy`` (IQR over 10% of the median),
    ``partial`` (the run it belongs to was interrupted) and any flag the suite saved with
    the case (``extra_info["flags"]``): the conditions it ran under, ``busy``, ``battery``,
    ``low-power`` or ``throttled`` (``accelbench.core.conditions``), and ``unstable``
    (rounds no verdict can rest on, ``accelbench.core.stability``; the reason in
    ``stability_reason``).
    """

    fullname: str
    name: str
    stats: Stats
    key: CaseKey | None = None
    device_label: str | None = None
    item_unit: str = "items"
    items_per_step: float | None = None
    throughput_per_s: float | None = None
    flops_per_step: float | None = None
    tflops_per_s: float | None = None
    bytes_per_step: float | None = None
    device_time_median_s: float | None = None
    latency_batch1_s: float | None = None  # batch-1 inference of a batch sweep, isolated
    memory: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    parity_max_rel_error: float | None = None
    parity_tolerance: float | None = None
    matmul_n: int | None = None
    generated_per_round: int | None = None  # a language model's tg: tokens per timed round
    data_parallel: DataParallelFigures | None = None
    compile_time_s: float | None = None  # a compiled case: first call until steps were steady
    recompiles_timed: int | None = None  # a compiled case: compilations in the timed rounds
    graph_breaks: int | None = None  # torch.compile: where the graph fell back to Python
    flags: frozenset[str] = frozenset()
    energy: Energy | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    stability_reason: str = ""  # why the rounds are unstable (flag ``unstable``), or ""
    steps_per_round: int | None = None  # k: steps timed together between synchronizes

    @property
    def unstable(self) -> bool:
        """Rounds no regression verdict can rest on (``accelbench.core.stability``)."""
        return UNSTABLE in self.flags

    @property
    def measured(self) -> bool:
        """True for this suite's records (with an identity); False for plain entries."""
        return self.key is not None

    @property
    def median_s(self) -> float:
        return self.stats.median

    @property
    def device(self) -> str:
        return self.key.device if self.key else ""

    @property
    def label(self) -> str:
        """What a person calls the device this ran on."""
        return self.device_label or self.device

    @property
    def noisy(self) -> bool:
        return NOISY in self.flags

    @property
    def partial(self) -> bool:
        return PARTIAL in self.flags

    @property
    def condition_flags(self) -> tuple[str, ...]:
        """The conditions that make this figure unreliable, in ``CONDITION_FLAGS`` order."""
        return tuple(f for f in CONDITION_FLAGS if f in self.flags)

    @property
    def marks(self) -> tuple[str, ...]:
        """What a reader is warned of beside the figure: ``noisy``, then the conditions."""
        return ((NOISY,) if self.noisy else ()) + self.condition_flags

    @property
    def bytes_per_s(self) -> float | None:
        return self.bytes_per_step / self.median_s if self.bytes_per_step else None


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


def is_noisy(stats: Stats) -> bool:
    """The one rule for a noisy benchmark: its IQR is over ``NOISY_IQR_SHARE`` of its median."""
    share = stats.iqr_share
    return share is not None and share > NOISY_IQR_SHARE


# Reading ----------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"a string ({_clip(value)!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def number(where: str, value: Any, *, high: float = MAX_FIGURE, unit: str = "") -> float | None:
    """A finite number in [0, high], or None when absent; ``Unusable`` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Unusable(f"{where} is {_kind(value)}, not a number")
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


def count(where: str, value: Any, *, high: int = MAX_COUNT) -> int | None:
    """A whole number in [0, high], or None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and 0 <= value <= high:
            return int(value)
        raise Unusable(f"{where} is {_kind(value)}, not a whole number")
    if not 0 <= value <= high:
        shown = f"{value:g}" if abs(value) < 10**300 else f"an integer of {len(str(value))} digits"
        raise Unusable(f"{where} is {shown}, outside 0..{high:g}")
    return value


def text(where: str, value: Any, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise Unusable(f"{where} is {_kind(value)}, not a string")
    if required and not value:
        raise Unusable(f"{where} is empty")
    if len(value) > MAX_TEXT:
        raise Unusable(f"{where} is a string of {len(value)} characters, over {MAX_TEXT}")
    return value


def _stats(raw: Any) -> Stats:
    if not isinstance(raw, dict):
        raise Unusable(f"stats is {_kind(raw)}, not an object")
    if raw.get("median") is None:
        raise Unusable("stats.median is missing")
    median = number("stats.median", raw["median"], high=MAX_SECONDS, unit=" s")
    assert median is not None
    if median <= 0:
        raise Unusable("stats.median is 0: no time was measured")
    if median < MIN_SECONDS:
        raise Unusable(
            f"stats.median is {median:g} s, below {MIN_SECONDS:g} s per step: not a measurement"
        )
    seconds = {
        name: number(f"stats.{name}", raw.get(name), high=MAX_SECONDS, unit=" s")
        for name in ("q1", "q3", "iqr", "mean", "stddev", "min", "max")
    }
    q1, q3 = seconds["q1"], seconds["q3"]
    if (q1 is None) != (q3 is None):
        raise Unusable("stats has one quartile without the other (q1 and q3 go together)")
    if q1 is not None and q3 is not None and not q1 <= median <= q3:
        raise Unusable(f"stats quartiles out of order: q1 {q1:g}, median {median:g}, q3 {q3:g}")
    return Stats(
        median=median,
        rounds=count("stats.rounds", raw.get("rounds"), high=MAX_ROUNDS),
        iterations=count("stats.iterations", raw.get("iterations"), high=MAX_ROUNDS),
        **seconds,
    )


def _memory(raw: Any) -> Mapping[str, float]:
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, dict):
        raise Unusable(f"extra_info.memory is {_kind(raw)}, not an object")
    out = {}
    for name, value in raw.items():
        checked = number(f"extra_info.memory.{name}", value, high=MAX_COUNT)
        if checked is not None:
            out[name] = checked
    return MappingProxyType(out)


def _flags(raw: Any) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list) or not all(isinstance(f, str) and f for f in raw):
        raise Unusable(f"extra_info.flags is {_kind(raw)}, not a list of names")
    return frozenset(raw)


def _energy(raw: Any) -> Energy | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise Unusable(f"extra_info.energy is {_kind(raw)}, not an object")
    measured, coarse = raw.get("measured", False), raw.get("coarse", False)
    for name, value in (("measured", measured), ("coarse", coarse)):
        if not isinstance(value, bool):
            raise Unusable(f"extra_info.energy.{name} is {_kind(value)}, not true or false")
    figures = {
        name: number(f"extra_info.energy.{name}", raw.get(name))
        for name in (
            "joules_per_step",
            "items_per_joule",
            "mean_power_w",
            "window_s",
            "counter_vs_power_usage",
            "counter_vs_power_instant",
        )
    }
    if measured and not (figures["joules_per_step"] and figures["items_per_joule"]):
        raise Unusable("extra_info.energy is measured without joules_per_step or items_per_joule")
    return Energy(
        measured=measured,
        reason=text("extra_info.energy.reason", raw.get("reason")),
        source=text("extra_info.energy.source", raw.get("source")),
        coarse=coarse,
        **figures,
    )


def signed_share(where: str, value: Any) -> float | None:
    """A finite number at most 1 (a share that noise can take below 0), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Unusable(f"{where} is {_kind(value)}, not a number")
    if not math.isfinite(value) or not -MAX_FIGURE <= value <= 1:
        raise Unusable(f"{where} is {value:g}, not a share (at most 1)")
    return float(value)


def _data_parallel(info: dict[str, Any], variant: str) -> DataParallelFigures | None:
    """The data-parallel figures of a case whose variant names a worker count; None for
    any other case."""
    workers = parse_workers_variant(variant)
    if workers is None:
        return None
    saved = count("extra_info.workers", info.get("workers"))
    if saved != workers:
        raise Unusable(
            f"extra_info.workers is {saved!r} but the variant is {_clip(variant)!r} "
            "(a data-parallel case's variant is workers=<its worker count>)"
        )
    communication = info.get("communication")
    if communication is not None and not isinstance(communication, dict):
        raise Unusable(f"extra_info.communication is {_kind(communication)}, not an object")
    backend = (communication or {}).get("backend")
    return DataParallelFigures(
        model=text("extra_info.model", info.get("model"), required=True),
        workers=workers,
        hosts=count("extra_info.hosts", info.get("hosts")),
        backend=text("extra_info.communication.backend", backend) or None,
        throughput_per_worker_per_s=number(
            "extra_info.throughput_per_worker_per_s", info.get("throughput_per_worker_per_s")
        ),
        allreduce_exposed_share=signed_share(
            "extra_info.allreduce_exposed_share", info.get("allreduce_exposed_share")
        ),
    )


KNOWN_EXTRA = {
    *IDENTITY_FIELDS,
    "device_label",
    "item_unit",
    "items_per_step",
    "throughput_per_s",
    "flops_per_step",
    "tflops_per_s",
    "bytes_per_step",
    "device_time_median_s",
    "latency_batch1_s",
    "memory",
    "parity_max_rel_error",
    "parity_tolerance",
    "compile_time_s",
    "recompiles_timed",
    "graph_breaks",
    "flags",
    "energy",
    "stability",
    "steps_per_round",
}


def _stability(raw: Any, flags: frozenset[str]) -> str:
    """The saved reason a case's rounds are unstable ("" when stable or not judged); a saved
    ``unstable`` flag needs a judgement that says so."""
    if raw is None:
        if UNSTABLE in flags:
            raise Unusable("extra_info.flags says unstable but extra_info.stability is missing")
        return ""
    if not isinstance(raw, dict):
        raise Unusable(f"extra_info.stability is {_kind(raw)}, not an object")
    stable = raw.get("stable")
    if not isinstance(stable, bool):
        raise Unusable(f"extra_info.stability.stable is {_kind(stable)}, not true or false")
    reason = text("extra_info.stability.reason", raw.get("reason"))
    if stable == bool(reason) or (stable and UNSTABLE in flags):
        raise Unusable(
            "extra_info.stability contradicts itself (stable with a reason, unstable without "
            "one, or disagreeing with the unstable flag)"
        )
    return reason


def parse_entry(entry: Any, *, partial: bool = False) -> Record:
    """One entry of a saved run's ``benchmarks`` list -> a ``Record``; ``Unusable`` if bad.

    ``partial``: the run was interrupted, so the record carries the ``partial`` flag.
    """
    if not isinstance(entry, dict):
        raise Unusable(f"the entry is {_kind(entry)}, not an object")
    fullname = text("fullname", entry.get("fullname"), required=True)
    name = text("name", entry.get("name")) or fullname
    stats = _stats(entry.get("stats"))
    flags = {NOISY} if is_noisy(stats) else set()
    if partial:
        flags.add(PARTIAL)
    info = entry.get("extra_info")
    if info is None or info == {}:
        return Record(fullname=fullname, name=name, stats=stats, flags=frozenset(flags))
    if not isinstance(info, dict):
        raise Unusable(f"extra_info is {_kind(info)}, not an object")
    if "device" not in info:  # another plugin's extra_info: statistics only
        return Record(fullname=fullname, name=name, stats=stats, flags=frozenset(flags))

    identity = {
        f: text(f"extra_info.{f}", info.get(f), required=f in REQUIRED_IDENTITY)
        for f in IDENTITY_FIELDS
    }
    identity["mode"] = identity["mode"] or DEFAULT_MODE
    if identity["memory_format"] in DEFAULT_LAYOUTS:
        identity["memory_format"] = ""
    shapes = info.get("shapes")
    if not isinstance(shapes, dict):
        shapes = {}
    matmul_n = count("extra_info.shapes.n", shapes.get("n"))
    generated = count("extra_info.shapes.generate", shapes.get("generate"))
    saved_flags = _flags(info.get("flags"))
    stability_reason = _stability(info.get("stability"), saved_flags)
    return Record(
        fullname=fullname,
        name=name,
        stats=stats,
        key=CaseKey(**identity),
        device_label=text("extra_info.device_label", info.get("device_label")) or None,
        item_unit=text("extra_info.item_unit", info.get("item_unit")) or "items",
        items_per_step=number("extra_info.items_per_step", info.get("items_per_step")),
        throughput_per_s=number("extra_info.throughput_per_s", info.get("throughput_per_s")),
        flops_per_step=number("extra_info.flops_per_step", info.get("flops_per_step")),
        tflops_per_s=number("extra_info.tflops_per_s", info.get("tflops_per_s")),
        bytes_per_step=number("extra_info.bytes_per_step", info.get("bytes_per_step")),
        device_time_median_s=number(
            "extra_info.device_time_median_s",
            info.get("device_time_median_s"),
            high=MAX_SECONDS,
            unit=" s",
        ),
        latency_batch1_s=number(
            "extra_info.latency_batch1_s",
            info.get("latency_batch1_s"),
            high=MAX_SECONDS,
            unit=" s",
        ),
        memory=_memory(info.get("memory")),
        parity_max_rel_error=number(
            "extra_info.parity_max_rel_error", info.get("parity_max_rel_error")
        ),
        parity_tolerance=number("extra_info.parity_tolerance", info.get("parity_tolerance")),
        matmul_n=matmul_n,
        generated_per_round=generated or None,
        data_parallel=_data_parallel(info, identity["variant"]),
        compile_time_s=number(
            "extra_info.compile_time_s", info.get("compile_time_s"), high=MAX_SECONDS, unit=" s"
        ),
        recompiles_timed=count("extra_info.recompiles_timed", info.get("recompiles_timed")),
        graph_breaks=count("extra_info.graph_breaks", info.get("graph_breaks")),
        flags=frozenset(flags | saved_flags | ({UNSTABLE} if stability_reason else set())),
        energy=_energy(info.get("energy")),
        extra=MappingProxyType({k: v for k, v in info.items() if k not in KNOWN_EXTRA}),
        stability_reason=stability_reason,
        steps_per_round=count("extra_info.steps_per_round", info.get("steps_per_round")) or None,
    )


def parse_entries(entries: list[Any], *, partial: bool = False) -> tuple[list[Record], list[str]]:
    """Every entry that reads, and one line per entry that does not (named by its fullname)."""
    records, problems = [], []
    for index, entry in enumerate(entries):
        try:
            records.append(parse_entry(entry, partial=partial))
        except Unusable as exc:
            name = entry.get("fullname") if isinstance(entry, dict) else None
            shown = _clip(name, 120) if isinstance(name, str) and name else f"#{index + 1}"
            problems.append(f"benchmark {shown}: {exc}")
    return records, problems
