"""One typed, validated record per saved benchmark, read from pytest-benchmark's JSON here only.

Every reader of results (the end-of-run summary, ``compare``, ``report``, plots, exports and
the pytest ``--benchmark-compare`` path) works on ``Record`` values, never on the raw dicts.
An entry is checked once, when it is read: its statistics here, its extra_info through the
registry of saved figures (``accelbench.core.saved_form``); a field of the wrong type, a
number that is not finite or is absurd (a median beyond ``MAX_SECONDS``, a count beyond
``MAX_COUNT``) raises ``Unusable`` with a one-line reason, so nothing downstream meets a bad
value.

``Record.key`` is the case's ``CaseSpec``, its whole identity. Two records are comparable
only when their keys are equal; the views group records by keys with a field blanked
(``key.case`` is the case across devices).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from accelbench.core.conditions import FLAGS as CONDITION_FLAGS
from accelbench.core.saved_form import (
    MAX_SECONDS,
    DataParallelFigures,
    Energy,
    Unusable,
    clip,
    count,
    kind,
    number,
    read_case,
    text,
)
from accelbench.core.spec import (
    CaseSpec,
    device_order,
    execution_label,
    mode_order,
    natural_key,
)
from accelbench.core.stability import UNSTABLE  # rounds no verdict can rest on

__all__ = [
    "CONDITION_FLAGS",
    "NOISY",
    "NOISY_IQR_SHARE",
    "PARTIAL",
    "DataParallelFigures",  # declared with the saved form (accelbench.core.saved_form)
    "Energy",
    "Record",
    "Stats",
    "Unusable",
    "device_order",  # the identity's orders and labels (accelbench.core.spec)
    "execution_label",
    "is_noisy",
    "mode_order",
    "natural_key",
    "parse_entries",
    "parse_entry",
]

NOISY_IQR_SHARE = 0.10  # IQR above 10% of the median: noisy, as torch.utils.benchmark flags it
# A median below a picosecond per step is not a measurement either (no clock resolves it;
# a subnormal such as 5e-324 makes throughput infinite, which JSON cannot hold).
MIN_SECONDS = 1e-12
MAX_ROUNDS = 10**9

NOISY = "noisy"
PARTIAL = "partial"


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
    key: CaseSpec | None = None
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
    data_parallel: DataParallelFigures | None = None
    compile_time_s: float | None = None  # a compiled case: first call until steps were steady
    recompiles_timed: int | None = None  # a compiled case: compilations in the timed rounds
    graph_breaks: int | None = None  # torch.compile: where the graph fell back to Python
    flags: frozenset[str] = frozenset()
    energy: Energy | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    stability_reason: str = ""  # why the rounds are unstable (flag ``unstable``), or ""
    steps_per_round: int | None = None  # k: steps timed together between synchronizes
    case_wall_s: float | None = None  # the case start to end, setup and parity included
    # A workload's own figures (``saved_form.WORKLOAD_FIGURES``): the ceiling's ``matmul_n``,
    # a language model's ``generated_per_round`` (tokens per timed round of tg).
    workload_figures: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

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


def is_noisy(stats: Stats) -> bool:
    """The one rule for a noisy benchmark: its IQR is over ``NOISY_IQR_SHARE`` of its median."""
    share = stats.iqr_share
    return share is not None and share > NOISY_IQR_SHARE


# Reading ----------------------------------------------------------------------------------


def _stats(raw: Any) -> Stats:
    if not isinstance(raw, dict):
        raise Unusable(f"stats is {kind(raw)}, not an object")
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


def parse_entry(entry: Any, *, partial: bool = False) -> Record:
    """One entry of a saved run's ``benchmarks`` list -> a ``Record``; ``Unusable`` if bad.

    ``partial``: the run was interrupted, so the record carries the ``partial`` flag.
    """
    if not isinstance(entry, dict):
        raise Unusable(f"the entry is {kind(entry)}, not an object")
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
        raise Unusable(f"extra_info is {kind(info)}, not an object")
    if "device" not in info:  # another plugin's extra_info: statistics only
        return Record(fullname=fullname, name=name, stats=stats, flags=frozenset(flags))
    saved = read_case(info)
    figures = dict(saved.figures)
    flags |= figures.pop("flags")
    if figures["stability_reason"]:
        flags.add(UNSTABLE)
    figures["device_label"] = figures["device_label"] or None
    figures["item_unit"] = figures["item_unit"] or "items"
    return Record(
        fullname=fullname,
        name=name,
        stats=stats,
        key=saved.spec,
        **figures,
        flags=frozenset(flags),
        data_parallel=saved.data_parallel,
        workload_figures=saved.workload_figures,
        extra=saved.extra,
    )


def parse_entries(entries: list[Any], *, partial: bool = False) -> tuple[list[Record], list[str]]:
    """Every entry that reads, and one line per entry that does not (named by its fullname)."""
    records, problems = [], []
    for index, entry in enumerate(entries):
        try:
            records.append(parse_entry(entry, partial=partial))
        except Unusable as exc:
            name = entry.get("fullname") if isinstance(entry, dict) else None
            shown = clip(name, 120) if isinstance(name, str) and name else f"#{index + 1}"
            problems.append(f"benchmark {shown}: {exc}")
    return records, problems
