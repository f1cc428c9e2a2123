"""Views across records that pytest-benchmark cannot give, each figure with one rule.

- speedups: per case, each accelerator's speedup over the CPU (CPU median / its median);
- scaling: per device and implementation of a sequence-length sweep, the median at each
  length, the exponent of time against length (over all lengths and over the longer half)
  and the speedup over the CPU at each length; the curve is the variant without its ``L``
  part (``sdpa-L=1024-batch=16`` lies on the curve ``sdpa-batch=16``);
- frameworks: a workload built the same in several frameworks, every framework on a device
  beside every other, each against its own CPU;
- modes: a case run in several ways on a device (compiled beside eager, channels_last beside
  the default layout), each way against the eager or default-layout one, with its
  compilation time;
- llm: the language model's cases in llama-bench's names (``pp512``, ``tg128 @ d512``),
  tg's GB/s as a share of the copy ceiling and pp's TFLOP/s of the matmul ceiling;
- crossover (``results.crossover``): per device of a batch sweep, throughput by batch, the
  batch at 90% of the best, the batch-1 latency and the CPU/accelerator crossover;
- data_parallel (``results.data_parallel``): per data-parallel case, the scaling efficiency
  of k workers over one, its baseline, the share of a step waiting for the all-reduce;
- energy: joules per step and items per joule where the run counted energy (NVML);
- the headline: the rows of each section worth a line at the top of the summary (a
  section's ``headline``: of the speedups, every accelerator's speedup per workload and
  phase, a sweep at its largest point; of the crossover, from which batch each
  accelerator is faster);
- ceilings and per-record rows (share of the matmul ceiling, share of the copy ceiling),
  attention series and the across-machines table, which ``report`` draws.

The end-of-run summary, the saved ``accelbench`` block of the JSON and ``report`` all call
these functions on the same ``Record`` values, so they show the same numbers. Rows of the
saved sections are plain dicts: they land in the JSON as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np

from accelbench.core.spec import (
    EAGER,
    IDENTITY_FIELDS,
    SWEEP_KEYS,
    CaseSpec,
    Variant,
    VariantError,
    parse_length_variant,
)
from accelbench.results.crossover import ALWAYS, CROSSES, NEVER, crossover_rows
from accelbench.results.data_parallel import data_parallel_rows
from accelbench.results.record import (
    Record,
    device_order,
    execution_label,
    mode_order,
    natural_key,
)
from accelbench.workloads.ceiling import BYTES_PER_ELEMENT, COPY, MATMUL, Ceiling, copy_bytes

if TYPE_CHECKING:
    from accelbench.results.runs import Run

FRAMEWORK_ORDER = ("torch", "tf", "mlx")
FRAMEWORK_NAMES = {"torch": "PyTorch", "tf": "TensorFlow", "mlx": "MLX"}
# A line through two points always fits, so an exponent through fewer than three says
# nothing (on a busy machine two-point exponents of -5.4 and -6.5 were printed).
MIN_FIT_POINTS = 3
MIN_LENGTHS_FOR_LONGER_HALF = 2 * MIN_FIT_POINTS - 1  # its longer half has MIN_FIT_POINTS
LLM_WORKLOAD = "llm"  # accelbench.workloads.llm.LanguageModel.name (that module imports torch)


# The rules --------------------------------------------------------------------------------


def speedup(reference: Record | None, record: Record | None) -> float | None:
    """How many times faster ``record`` ran than ``reference``: reference median / its median,
    per item where their steps hold different numbers of items (a language model's tg step
    is one token eagerly and a whole round of them in graph mode)."""
    if reference is None or record is None:
        return None
    ratio = reference.median_s / record.median_s
    items, reference_items = record.items_per_step, reference.items_per_step
    if items and reference_items and items != reference_items:
        ratio *= items / reference_items
    return ratio


def fit_exponent(lengths: Sequence[float], times: Sequence[float]) -> float | None:
    """The slope of the least-squares line through (log length, log time).

    ``time = c * length**p`` gives ``p``. None with fewer than two distinct lengths or a
    non-positive value, where no slope exists.
    """
    if len(set(lengths)) < 2 or any(t <= 0 for t in times) or any(n <= 0 for n in lengths):
        return None
    slope, _intercept = np.polyfit(np.log(lengths), np.log(times), 1)
    return float(slope)


def longer_half(
    lengths: Sequence[int], times: Sequence[float]
) -> tuple[Sequence[int], Sequence[float]]:
    """The points at the longer half of the (sorted) lengths; the middle one too, for an odd
    count."""
    start = len(lengths) // 2
    return lengths[start:], times[start:]


def trusted_exponent(
    lengths: Sequence[int], times: Sequence[float], flagged: Sequence[bool] = ()
) -> float | None:
    """``fit_exponent`` through the points not ``flagged`` (noisy, or measured while the
    machine was busy or throttled); None under ``MIN_FIT_POINTS`` distinct lengths."""
    flags = list(flagged) or [False] * len(lengths)
    kept = [(n, t) for n, t, bad in zip(lengths, times, flags) if not bad]
    if len({n for n, _ in kept}) < MIN_FIT_POINTS:
        return None
    return fit_exponent([n for n, _ in kept], [t for _, t in kept])


def longer_half_exponent(
    lengths: Sequence[int], times: Sequence[float], flagged: Sequence[bool] = ()
) -> float | None:
    """The exponent over the longer half of the lengths, past the launch-bound short ones.

    At short lengths a GPU step costs about its kernel launches whatever L is, which
    flattens the curve (an H200 ran naive attention at L=128, 256 and 512 in about 82 us
    each), so the longer half is where attention's L^2 shows. None under
    ``MIN_LENGTHS_FOR_LONGER_HALF`` lengths, whose half is too few points to fit, or where
    flagged points leave fewer than ``MIN_FIT_POINTS``.
    """
    if len(lengths) < MIN_LENGTHS_FOR_LONGER_HALF:
        return None
    flags = list(flagged) or [False] * len(lengths)
    half_lengths, half_times = longer_half(lengths, times)
    return trusted_exponent(half_lengths, half_times, flags[len(lengths) - len(half_lengths) :])


def framework_order(framework: str) -> tuple[int, str]:
    known = FRAMEWORK_ORDER.index(framework) if framework in FRAMEWORK_ORDER else 99
    return (known, framework)


def is_ceiling(record: Record) -> bool:
    key = record.key
    return key is not None and key.workload == Ceiling.name and key.variant in (MATMUL, COPY)


def measured(records: Iterable[Record]) -> list[Record]:
    return [r for r in records if r.measured]


def _key(record: Record) -> CaseSpec:
    assert record.key is not None
    return record.key


# Speedups ---------------------------------------------------------------------------------


def _case_fields(key: CaseSpec, *leave_out: str) -> dict[str, str]:
    fields = key.as_dict()
    for name in ("device", *leave_out):
        fields.pop(name)
    return fields


def speedup_rows(records: Iterable[Record]) -> list[dict[str, Any]]:
    """Per case and accelerator: the CPU's and the accelerator's median and throughput."""
    by_case: dict[CaseSpec, dict[str, Record]] = {}
    for r in measured(records):
        by_case.setdefault(_key(r).case, {})[r.device] = r
    rows = []
    for case, devices in sorted(by_case.items(), key=lambda item: item[0].sort_key()):
        cpu = devices.get("cpu")
        accelerators = sorted((d for d in devices if d != "cpu"), key=device_order) or [None]
        for name in accelerators:
            acc = devices.get(name) if name else None
            row: dict[str, Any] = _case_fields(case)
            row["item_unit"] = (cpu or acc).item_unit  # type: ignore[union-attr]
            row["cpu_median_s"] = cpu.median_s if cpu else None
            row["cpu_throughput_per_s"] = cpu.throughput_per_s if cpu else None
            row["cpu_tflops_per_s"] = cpu.tflops_per_s if cpu else None
            row["cpu_marks"] = list(cpu.marks) if cpu else []
            row["device"] = name
            row["device_median_s"] = acc.median_s if acc else None
            row["device_throughput_per_s"] = acc.throughput_per_s if acc else None
            row["device_tflops_per_s"] = acc.tflops_per_s if acc else None
            row["device_marks"] = list(acc.marks) if acc else []
            row["device_label"] = acc.device_label if acc else None
            row["speedup"] = speedup(cpu, acc)
            rows.append(row)
    return rows


# Scaling with sequence length -------------------------------------------------------------


def _curves(records: Iterable[Record]) -> dict[CaseSpec, dict[int, Record]]:
    """Per curve (the key with the variant naming only the implementation): length -> record."""
    curves: dict[CaseSpec, dict[int, Record]] = {}
    for r in measured(records):
        point = parse_length_variant(_key(r).variant)
        if point is not None:
            implementation, length = point
            curves.setdefault(_key(r).replace(variant=implementation), {})[length] = r
    return curves


def scaling_rows(records: Iterable[Record]) -> list[dict[str, Any]]:
    """One row per (case, device, implementation) with at least one length measured.

    ``flagged``: per length, whether the point is marked (noisy, or measured under bad
    conditions); the exponents are fitted through the unflagged points only."""
    curves = _curves(records)
    rows = []
    for curve, points in sorted(curves.items(), key=lambda item: item[0].sort_key()):
        lengths = sorted(points)
        medians = [points[n].median_s for n in lengths]
        flagged = [bool(points[n].marks) for n in lengths]
        row: dict[str, Any] = _case_fields(curve, "variant")
        cpu = curves.get(curve.replace(device="cpu"))
        row.update(
            device=curve.device,
            device_label=points[lengths[-1]].device_label,
            implementation=curve.variant,
            lengths=lengths,
            median_s=medians,
            tflops_per_s=[points[n].tflops_per_s for n in lengths],
            flagged=flagged,
            exponent=trusted_exponent(lengths, medians, flagged),
            exponent_long=longer_half_exponent(lengths, medians, flagged),
            speedup_over_cpu=None
            if curve.device == "cpu"
            else [speedup(cpu.get(n) if cpu else None, points[n]) for n in lengths],
        )
        rows.append(row)
    return rows


# Frameworks side by side ------------------------------------------------------------------


def pair_key(first: str, second: str) -> str:
    """``torch_vs_tf``: how many times faster ``first`` ran than ``second`` on a device."""
    return f"{first}_vs_{second}"


def framework_rows(records: Iterable[Record]) -> list[dict[str, Any]]:
    """For each workload measured in two or more frameworks, one row per device: every
    framework's median, throughput and speedup over its own CPU, and for every pair of
    frameworks how many times faster the first ran (``torch_vs_tf`` = tf median / torch
    median). A framework that did not run on a device leaves its figures None."""
    cases: dict[CaseSpec, dict[str, dict[str, Record]]] = {}
    for r in measured(records):
        case = _key(r).replace(framework="", device="")
        cases.setdefault(case, {}).setdefault(r.device, {})[_key(r).framework] = r
    rows = []
    for case, devices in sorted(cases.items(), key=lambda item: item[0].sort_key()):
        names = sorted({fw for by_fw in devices.values() for fw in by_fw}, key=framework_order)
        if len(names) < 2:
            continue
        cpu = devices.get("cpu", {})
        for device in sorted(devices, key=device_order):
            here = devices[device]
            row: dict[str, Any] = _case_fields(case, "framework")
            row["device"] = device
            row["frameworks"] = names
            row["item_unit"] = next(iter(here.values())).item_unit
            for fw in names:
                record = here.get(fw)
                row[f"{fw}_median_s"] = record.median_s if record else None
                row[f"{fw}_throughput_per_s"] = record.throughput_per_s if record else None
                row[f"{fw}_tflops_per_s"] = record.tflops_per_s if record else None
                row[f"{fw}_device_label"] = record.device_label if record else None
                row[f"{fw}_speedup_over_cpu"] = (
                    speedup(cpu.get(fw), record) if device != "cpu" else None
                )
            for first, second in combinations(names, 2):
                row[pair_key(first, second)] = speedup(here.get(second), here.get(first))
            rows.append(row)
    return rows


# Execution modes side by side ------------------------------------------------------------


# Compiling fuses kernels and drops launches, a different layout changes the kernels: either
# moves a step by a few times. A ratio outside this range (214x and 0.06x were printed on a
# busy 2-core VM) says more about the measurement than the mode.
PLAUSIBLE_MODE_RATIO = (0.1, 20.0)
IMPLAUSIBLE = "implausible"
RECOMPILED = "recompiled"


def mode_ratio_mark(reference: Record | None, record: Record) -> str | None:
    """Why a ratio of two ways of running a case deserves less trust: either side marked
    (noisy, busy, ...), recompiles in the timed rounds, or a ratio outside
    ``PLAUSIBLE_MODE_RATIO``; None when there is no ratio or nothing to say."""
    ratio = speedup(reference, record)
    if reference is None or ratio is None:
        return None
    marks = list(dict.fromkeys([*reference.marks, *record.marks]))
    if record.recompiles_timed:
        marks.append(RECOMPILED)
    low, high = PLAUSIBLE_MODE_RATIO
    if not low <= ratio <= high:
        marks.append(IMPLAUSIBLE)
    return ", ".join(marks) or None


def mode_rows(records: Iterable[Record]) -> list[dict[str, Any]]:
    """One row per record of a run that has any case compiled or in another layout (none
    otherwise), with three ratios of median times per step (above 1: faster):

    - ``speedup_over_cpu``: against the CPU running the same mode and layout (the speedup
      table's rule);
    - ``compile_over_eager``: a compiled case against the eager one, same device and layout;
    - ``layout_over_default``: a channels_last case against the default layout, same device
      and mode;

    each of the last two with its ``_mark`` (``mode_ratio_mark``),

    and the compilation time, measured apart from the timed rounds.
    """
    records = measured(records)
    if all(_key(r).execution == EAGER for r in records):
        return []
    index = {_key(r): r for r in records}

    def order(key: CaseSpec) -> tuple[Any, ...]:
        case = key.replace(device="", mode=EAGER, memory_format="")
        return (case.sort_key(), device_order(key.device), key.memory_format, mode_order(key.mode))

    rows = []
    for key in sorted(index, key=order):
        record = index[key]
        cpu = index.get(key.replace(device="cpu")) if key.device != "cpu" else None
        eager = index.get(key.replace(mode=EAGER)) if key.mode != EAGER else None
        default = index.get(key.replace(memory_format="")) if key.memory_format else None
        row: dict[str, Any] = _case_fields(key, "mode", "memory_format")
        row.update(
            device=key.device,
            device_label=record.device_label,
            mode=key.mode,
            memory_format=key.memory_format,
            item_unit=record.item_unit,
            median_s=record.median_s,
            throughput_per_s=record.throughput_per_s,
            tflops_per_s=record.tflops_per_s,
            speedup_over_cpu=speedup(cpu, record),
            compile_over_eager=speedup(eager, record),
            compile_over_eager_mark=mode_ratio_mark(eager, record),
            layout_over_default=speedup(default, record),
            layout_over_default_mark=mode_ratio_mark(default, record),
            compile_time_s=record.compile_time_s,
            recompiles_timed=record.recompiles_timed,
            graph_breaks=record.graph_breaks,
        )
        rows.append(row)
    return rows


# The language model (llama-bench's names) ------------------------------------------------


def share_fields(kind: str, share: Share, name: str = "") -> dict[str, Any]:
    """A share as saved row fields: ``<kind>_share`` (or ``name``), its ``_mark`` and the
    ``<kind>_ceiling`` it was taken against (TFLOP/s for the matmul, GB/s for the copy)."""
    name = name or f"{kind}_share"
    return {name: share.value, f"{name}_mark": share.mark, f"{kind}_ceiling": share.ceiling}


def llm_test_name(phase: str, context: int | None, generated: int | None) -> str:
    """llama-bench's name of a test: ``pp512`` (a 512-token prompt), ``tg128 @ d512`` (128
    tokens generated after a context of depth 512, llama-bench's ``tg128`` with ``-d 512``)."""
    depth = "?" if context is None else context
    if phase == "pp":
        return f"pp{depth}"
    return f"tg{'?' if generated is None else generated} @ d{depth}"


def llm_rows(records: Iterable[Record]) -> list[dict[str, Any]]:
    """One row per language-model case, with its shares of the same run's ceilings.

    Decode (tg) reads every weight once per token, so its figure to look at is GB/s as a
    share of the copy ceiling (``copy_share``); prompt processing (pp) is compute-bound,
    so TFLOP/s as a share of the matmul ceiling (``matmul_share``): each with its mark and
    the ceiling it was taken against (``share_fields``). The context length is
    the variant's (``ctx-L=512``). Shares need ``benchmarks/test_ceiling.py`` in the run.
    ``speedup_over_cpu``: an accelerator's tokens/s over the CPU's eager tokens/s for the same
    test (eager is the CPU's only mode, so a graph case is set against it too: each device as
    it runs best).
    """
    records = measured(records)
    peaks = ceilings(records)
    index = {_key(r): r for r in records}
    rows = []
    for r in records:
        key = _key(r)
        if key.workload != LLM_WORKLOAD:
            continue
        point = parse_length_variant(key.variant)
        decode = key.phase == "tg"
        rate = r.bytes_per_s if decode else None
        rows.append(
            {
                **_case_fields(key, "workload"),
                "test": llm_test_name(
                    key.phase,
                    point[1] if point else None,
                    r.workload_figures.get("generated_per_round"),
                ),
                "context": point[1] if point else None,
                "device": r.device,
                "device_label": r.device_label,
                "tokens_per_s": r.throughput_per_s,
                # A step is one token, or in graph mode a round of them.
                "time_per_token_s": 1 / r.throughput_per_s if decode else None,
                "gb_per_s": rate / 1e9 if rate else None,
                **share_fields("copy", copy_share(r, peaks) if decode else Share()),
                "tflops_per_s": None if decode else r.tflops_per_s,
                **share_fields("matmul", Share() if decode else matmul_share(r, peaks)),
                "ceilings_measured": (r.device, key.dtype) in peaks,
                "speedup_over_cpu": None
                if r.device == "cpu"
                else speedup(index.get(key.replace(device="cpu", mode=EAGER)), r),
            }
        )
    return sorted(rows, key=_llm_order)


def _llm_order(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["framework"],
        row["size"],
        row["dtype"],
        row["mode"],
        row["context"] or 0,
        row["phase"],
        device_order(row["device"]),
    )


# Energy -----------------------------------------------------------------------------------

ENERGY_FIELDS = (
    "measured",
    "reason",
    "source",
    "joules_per_step",
    "items_per_joule",
    "mean_power_w",
    "window_s",
    "coarse",
    "counter_vs_power_usage",
    "counter_vs_power_instant",
)


def energy_rows(records: Iterable[Record]) -> list[dict[str, Any]]:
    """Per record with energy measured, or an accelerator's reason why not: joules per step
    and items per joule (images/J, tokens/J). The CPU's "not measured" says nothing new."""
    rows = []
    for r in measured(records):
        energy = r.energy
        if energy is None or (not energy.measured and r.device == "cpu"):
            continue
        row: dict[str, Any] = _case_fields(_key(r))
        row["device"] = r.device
        row["device_label"] = r.device_label
        row["item_unit"] = r.item_unit
        row.update({f: getattr(energy, f) for f in ENERGY_FIELDS})
        rows.append(row)
    return rows


# The headline -----------------------------------------------------------------------------


def headline_speedups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The speedup rows a headline names: every measured speedup, but of a sweep (sequence
    length, batch) only its largest point that each accelerator has beside the CPU."""
    with_speedup = [r for r in rows if r["speedup"]]

    def points(row: dict[str, Any]) -> dict[tuple[Any, ...], int]:
        key = CaseSpec(device="", **{f: row[f] for f in IDENTITY_FIELDS if f != "device"})
        return {(*sweep, row["device"]): value for sweep, value in sweep_points(key).items()}

    largest: dict[tuple[Any, ...], int] = {}
    for row in with_speedup:
        for sweep, value in points(row).items():
            largest[sweep] = max(largest.get(sweep, 0), value)
    return [
        row
        for row in with_speedup
        if all(value == largest[sweep] for sweep, value in points(row).items())
    ]


def headline_llm(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The language-model rows a headline names beside the speedups: a case in a mode the
    CPU does not run (graph) against the CPU's eager. The speedups pair like modes only, so
    without these the accelerator's best decode would not reach the headline."""
    return [r for r in rows if r["mode"] != EAGER and r["speedup_over_cpu"]]


def headline_crossovers(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The crossover rows a headline names: every accelerator's curve with a verdict (from
    which batch it is faster than the CPU, or always, or never in the measured range)."""
    return [r for r in rows if r.get("crossover_status") in (CROSSES, ALWAYS, NEVER)]


# The saved sections -----------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One summary view: rows computed from records, saved under ``accelbench.<key>``.

    ``headline`` (optional): the section's rows worth a line at the top of the end-of-run
    summary; ``accelbench.results.text.HEADLINES`` words them.
    """

    key: str
    compute: Callable[[list[Record]], list[dict[str, Any]]]
    headline: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None


SECTIONS = (
    Section("speedups", speedup_rows, headline=headline_speedups),
    Section("scaling", scaling_rows),
    Section("frameworks", framework_rows),
    Section("llm", llm_rows, headline=headline_llm),
    Section("crossover", crossover_rows, headline=headline_crossovers),
    Section("data_parallel", data_parallel_rows),
    Section("modes", mode_rows),
    Section("energy", energy_rows),
)


def headline_rows(computed: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Per section with a headline, in ``SECTIONS`` order: its rows worth a headline line."""
    out = {}
    for section in SECTIONS:
        rows = computed.get(section.key) or []
        picked = section.headline(rows) if section.headline and rows else []
        if picked:
            out[section.key] = picked
    return out


def accelerator_measured(computed: dict[str, list[dict[str, Any]]]) -> bool:
    """Whether any accelerator case was measured (a speedup row names a device)."""
    return any(r.get("device") for r in computed.get("speedups") or [])


def compute_all(records: Iterable[Record]) -> dict[str, list[dict[str, Any]]]:
    """Every section, as saved in the run's ``accelbench`` block and printed at its end."""
    records = list(records)
    return {s.key: s.compute(records) for s in SECTIONS}


# Ceilings and per-record rows (report) ----------------------------------------------------


@dataclass(frozen=True)
class CeilingFigures:
    """The measured peaks of one device in one dtype, within one run: each from the ceiling
    case's fastest round (a round is a block of steps of one large op, so its rate was
    sustained over the block). ``*_mark``: why the peak may not bound the device's other
    cases (``ceiling_mark``), or None."""

    device: str
    dtype: str
    label: str
    matmul_tflops: float | None = None
    matmul_n: int | None = None
    matmul_mark: str | None = None
    copy_gb_per_s: float | None = None
    copy_bytes: float | None = None
    copy_mark: str | None = None


CEILING_BELOW = "ceiling below this case"
CEILING_TOO_SMALL = "ceiling too small"


def fastest_step_s(record: Record) -> float:
    """The time per step of a record's fastest round (its median where none was saved)."""
    return record.stats.min or record.median_s


def ceiling_too_small(record: Record) -> bool:
    """Whether a ceiling case ran below the standard size, the smallest one past the caches
    (``Ceiling.SIZES``): a smoke copy of 8 MB sits in a CPU's cache and outruns its memory."""
    standard = Ceiling.SIZES["standard"]
    if _key(record).variant == MATMUL:
        return record.workload_figures.get("matmul_n", 0) < standard.matmul_n
    dtype = _key(record).dtype
    if dtype not in BYTES_PER_ELEMENT:
        return False
    return (record.bytes_per_step or 0) < copy_bytes(standard.copy_elements, dtype)


def ceiling_mark(record: Record) -> str | None:
    """Why a ceiling case may not be the device's best: measured busy, noisy or otherwise
    marked (``ceiling busy``), or below the standard size (``ceiling too small``)."""
    if record.marks:
        return f"ceiling {', '.join(record.marks)}"
    return CEILING_TOO_SMALL if ceiling_too_small(record) else None


def ceilings(records: Iterable[Record]) -> dict[tuple[str, str], CeilingFigures]:
    """Per (device, dtype): the best matmul TFLOP/s and copy GB/s among the ceiling cases,
    each at its fastest round."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for r in measured(records):
        if not is_ceiling(r):
            continue
        key = (r.device, _key(r).dtype)
        entry = found.setdefault(key, {"label": r.label})
        fastest = fastest_step_s(r)
        if _key(r).variant == MATMUL and r.flops_per_step:
            tflops = r.flops_per_step / fastest / 1e12
            if tflops > entry.get("matmul_tflops", 0):
                entry.update(
                    matmul_tflops=tflops,
                    matmul_n=r.workload_figures.get("matmul_n"),
                    matmul_mark=ceiling_mark(r),
                )
        elif _key(r).variant == COPY and r.bytes_per_step:
            rate = r.bytes_per_step / fastest / 1e9
            if rate > entry.get("copy_gb_per_s", 0):
                entry.update(
                    copy_gb_per_s=rate, copy_bytes=r.bytes_per_step, copy_mark=ceiling_mark(r)
                )
    return {k: CeilingFigures(device=k[0], dtype=k[1], **v) for k, v in found.items()}


@dataclass(frozen=True)
class Share:
    """A figure as a share of a ceiling, by the one rule every table uses: ``value`` is the
    share, None where there is no ceiling or where it would be over 100% (a ceiling that
    does not bound the case is no ceiling); ``mark`` says why it deserves less trust or why
    it is missing (``ceiling busy``, ``ceiling too small``, ``ceiling below this case``);
    ``ceiling`` is the figure it was taken against."""

    value: float | None = None
    mark: str | None = None
    ceiling: float | None = None


def bounded_share(figure: float | None, ceiling: float | None, mark: str | None) -> Share:
    """``figure`` over ``ceiling``; over 100%, a mark with its reason instead of a figure."""
    if not figure or not ceiling:
        return Share()
    share = figure / ceiling
    if share > 1:
        return Share(None, mark or CEILING_BELOW, ceiling)
    return Share(share, mark, ceiling)


def _peak(record: Record, peaks: dict[tuple[str, str], CeilingFigures]) -> CeilingFigures | None:
    return None if is_ceiling(record) else peaks.get((record.device, _key(record).dtype))


def matmul_share(record: Record, peaks: dict[tuple[str, str], CeilingFigures]) -> Share:
    """The record's TFLOP/s over the matmul TFLOP/s of the same device and dtype in its run."""
    peak = _peak(record, peaks)
    if peak is None:
        return Share()
    return bounded_share(record.tflops_per_s, peak.matmul_tflops, peak.matmul_mark)


def copy_share(record: Record, peaks: dict[tuple[str, str], CeilingFigures]) -> Share:
    """A record's bytes/s (where it counts the bytes it moves: a decoded token) over the copy
    ceiling of the same device and dtype in its run, which counts the bytes a copy reads plus
    those it writes. Nothing for the ceiling cases themselves."""
    peak = _peak(record, peaks)
    if peak is None:
        return Share()
    rate = record.bytes_per_s / 1e9 if record.bytes_per_s else None
    return bounded_share(rate, peak.copy_gb_per_s, peak.copy_mark)


def case_rows(records: Iterable[Record]) -> list[dict[str, Any]]:
    """One row per measured record with every figure the report shows; the speedup over the
    CPU by the summary's rule (none for the CPU itself: it is the reference)."""
    records = measured(records)
    by_case: dict[CaseSpec, dict[str, Record]] = {}
    for r in records:
        by_case.setdefault(_key(r).case, {})[r.device] = r
    peaks = ceilings(records)
    rows = []
    for r in records:
        key = _key(r)
        rows.append(
            {
                **key.as_dict(),
                "key": key,
                "device_label": r.label,
                "median_s": r.median_s,
                "iqr_s": r.stats.iqr,
                "noisy": r.noisy,
                "flags": list(r.condition_flags),
                "energy": r.energy,
                "throughput_per_s": r.throughput_per_s,
                "item_unit": r.item_unit,
                "tflops_per_s": r.tflops_per_s,
                "bytes_per_s": r.bytes_per_s,
                **share_fields("matmul", matmul_share(r, peaks), "ceiling_share"),
                **share_fields("copy", copy_share(r, peaks), "bandwidth_share"),
                "speedup": None if r.device == "cpu" else speedup(by_case[key.case].get("cpu"), r),
                "ceiling": is_ceiling(r),
                "compile_time_s": r.compile_time_s,
                "recompiles_timed": r.recompiles_timed,
            }
        )
    return sorted(rows, key=row_order)


def row_order(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["ceiling"],
        row["workload"],
        row["framework"],
        row["phase"],
        natural_key(row["variant"]),
        mode_order(row["mode"]),
        row["memory_format"],
        row["dtype"],
        row["size"],
        device_order(row["device"]),
    )


def headline(row: dict[str, Any]) -> tuple[float | None, str]:
    """The one figure that says how fast a case ran: GB/s for a copy, TFLOP/s for a matmul
    ceiling, otherwise throughput; with its unit."""
    if row["ceiling"] and row["variant"] == COPY and row["bytes_per_s"]:
        return row["bytes_per_s"] / 1e9, "GB/s"
    if row["ceiling"] and row["variant"] == MATMUL and row["tflops_per_s"]:
        return row["tflops_per_s"], "TFLOP/s"
    return row["throughput_per_s"], f"{row['item_unit']}/s"


def sweep_points(key: CaseSpec) -> dict[tuple[str, CaseSpec], int]:
    """The sweeps a case is a point of, each with the point's value: per sweep field of its
    variant (``L``, ``batch``), (the field, the case with that field removed and on no
    device) -> the field's value. ``sdpa-L=1024-batch=16`` is a point of a length sweep (at
    1024) and of a batch sweep (at 16)."""
    try:
        variant = Variant.parse(key.variant)
    except VariantError:
        return {}
    points = {}
    for field_key in SWEEP_KEYS:
        value = variant.get_int(field_key)
        if value is not None:
            rest = str(variant.without(field_key))
            points[field_key, key.replace(variant=rest, device="")] = value
    return points


def bar_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows a bar chart shows: of a sequence-length sweep only its longest length (the
    attention plot shows them all), of a batch sweep only its largest batch (the batch
    plots show them all)."""
    largest: dict[tuple[str, CaseSpec], int] = {}
    for row in rows:
        for sweep, value in sweep_points(row["key"]).items():
            largest[sweep] = max(largest.get(sweep, 0), value)
    return [
        row
        for row in rows
        if all(value == largest[sweep] for sweep, value in sweep_points(row["key"]).items())
    ]


# Attention series (report) ----------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """Time per step against sequence length for one implementation on one device, with the
    exponents of the scaling section (the same rows, so the same values)."""

    label: str
    lengths: list[int]
    medians_s: list[float]
    slope: float | None
    slope_longer_half: float | None


def attention_series(records: Iterable[Record]) -> list[Series]:
    """One series per scaling row: ``<implementation> on <device label>``, with the
    framework, workload, phase, dtype, size, mode and layout where they vary between rows.
    The language model's context sweep (``ctx-L=512``) is no attention: its own section shows
    it."""
    rows = [r for r in scaling_rows(records) if r["workload"] != LLM_WORKLOAD]
    fields = [f for f in IDENTITY_FIELDS if f not in ("variant", "device")]
    varying = [f for f in fields if len({r[f] for r in rows}) > 1]
    series = []
    for r in rows:
        extras = [r[f] for f in varying if r[f]]
        label = f"{r['implementation']} on {r['device_label'] or r['device']}"
        label += f" ({', '.join(extras)})" if extras else ""
        series.append(Series(label, r["lengths"], r["median_s"], r["exponent"], r["exponent_long"]))
    return series


# Across machines (report) -----------------------------------------------------------------


@dataclass(frozen=True)
class MachineTable:
    columns: list[str]  # one per (run, device), labelled by chip or GPU
    cases: list[str]
    units: list[str]
    values: list[list[float | None]]  # [case][column]
    in_plot: list[bool]  # False for the shorter lengths of a sweep

    @property
    def shared_cases(self) -> int:
        return sum(sum(v is not None for v in row) > 1 for row in self.values)


def machine_table(runs: list[Run]) -> MachineTable:
    """Every case of every run, one column per device of each run; cases match on their
    whole identity but the device."""
    column_keys: list[tuple[int, str]] = []
    labels: list[str] = []
    cells: dict[CaseSpec, dict[tuple[int, str], float | None]] = {}
    case_info: dict[CaseSpec, tuple[str, str, dict[str, Any]]] = {}
    for index, run in enumerate(runs):
        for row in case_rows(run.records):
            col = (index, row["device"])
            if col not in column_keys:
                column_keys.append(col)
                labels.append(row["device_label"])
            value, unit = headline(row)
            case = row["key"].case
            cells.setdefault(case, {})[col] = value
            conditions = (
                row["dtype"],
                row["size"],
                execution_label(case.mode, case.memory_format, default=""),
            )
            name = f"{case.label} ({', '.join(c for c in conditions if c)})"
            case_info.setdefault(case, (name, unit, {**row, "device": "", "key": case}))
    shared = {label for label in labels if labels.count(label) > 1}
    labels = [  # the same chip in two runs: tell the columns apart
        f"{label} [run {key[0] + 1}]" if label in shared else label
        for label, key in zip(labels, column_keys)
    ]
    order = sorted(cells, key=lambda k: row_order(case_info[k][2]))
    pseudo = [case_info[k][2] for k in order]
    plotted = {id(r) for r in bar_rows(pseudo)}
    return MachineTable(
        columns=labels,
        cases=[case_info[k][0] for k in order],
        units=[case_info[k][1] for k in order],
        values=[[cells[k].get(col) for col in column_keys] for k in order],
        in_plot=[id(r) in plotted for r in pseudo],
    )
