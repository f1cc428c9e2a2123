"""The conditions a case ran under, recorded beside its figures and judged.

A busy machine, a laptop on battery or in Low Power Mode, or a throttled chip can move a
timing by far more than any regression threshold (on a 2-core machine with other programs
running, the same smoke case differed 150-fold between two runs). Nothing here needs root.

Recorded per case (``extra_info["conditions"]``, its flags also in ``extra_info["flags"]``,
which the read side loads as ``Record.flags``) and per run (the saved JSON's
``accelbench.conditions``):

- ``cpu``: over the case, from its start to the end of its timed rounds: the machine's CPU
  utilisation (``psutil.cpu_times`` deltas, the figure ``psutil.cpu_percent`` samples), this
  process's own CPU time against wall time (``own_cores``), and what is left, the cores
  other processes used (``others_cores``); the load average against the core count.
  ``cpu_timed``: the same over the timed rounds alone (a GPU case's own process should use
  about one core there; more means it competes with itself, e.g. a spinning thread pool).
- ``power`` (macOS): power source and battery from ``pmset -g batt``, Low Power Mode from
  ``pmset -g`` (``lowpowermode``, or ``powermode`` 1 on newer Macs), thermal and performance
  warning levels and the CPU speed limit from ``pmset -g therm``.
- ``gpu`` (NVIDIA, with ``nvidia-ml-py``): clocks, temperature, power limit, and the clock
  event reasons seen while the timed rounds ran (``accelbench.core.energy`` samples them).

The verdict, ``flags`` with one sentence each in ``notes``:

- ``busy``: other processes used more than ``busy_threshold_cores(cores)`` cores on average
  during the case or during its timed rounds: max(0.5 core, 10% of the cores). The case's
  own threads are not counted, however many it runs, so a CPU case using every core is not
  "busy" by itself.
- ``battery``, ``low-power``: on battery power, Low Power Mode on (from pmset).
- ``throttled``: pmset's CPU speed limit under 100% or a thermal/performance warning level
  above 0; on NVIDIA a thermal, hardware-slowdown or power-brake clock event reason.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psutil

from accelbench.core import nvml

BUSY = "busy"
ON_BATTERY = "battery"
LOW_POWER = "low-power"
THROTTLED = "throttled"
FLAGS = (BUSY, ON_BATTERY, LOW_POWER, THROTTLED)  # the order warnings are given in
# How each flag reads in a sentence: "the machine was busy, on battery in the current run".
FLAG_WORDS = {
    BUSY: "busy",
    ON_BATTERY: "on battery",
    LOW_POWER: "in Low Power Mode",
    THROTTLED: "throttled",
}

BUSY_MIN_CORES = 0.5
BUSY_SHARE_OF_CORES = 0.10
BUSY_RULE = (
    "busy: other processes used more than max(0.5, 10% of the cores) cores on average "
    "during the case or its timed rounds (the case's own CPU time is not counted)"
)


# A shorter CPU window is not judged: /proc/stat and process times count in 10 ms ticks,
# so over a 4 ms window one tick of anyone's reads as "2.0 of 2 cores".
MIN_JUDGED_WINDOW_S = 0.25


def busy_threshold_cores(cores: int) -> float:
    return max(BUSY_MIN_CORES, BUSY_SHARE_OF_CORES * cores)


def cpu_count() -> int:
    return psutil.cpu_count(logical=True) or 1


# CPU load ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CpuSnapshot:
    """Cumulative CPU seconds at one moment: the whole machine's (all cores) and ours."""

    wall_s: float
    machine_busy_s: float
    machine_total_s: float
    own_s: float

    @classmethod
    def take(cls) -> CpuSnapshot:
        times = psutil.cpu_times()
        idle = times.idle + getattr(times, "iowait", 0.0)
        # On Linux guest time is already counted in user and nice (as psutil does it).
        total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
        own = psutil.Process().cpu_times()
        own_s = own.user + own.system + own.children_user + own.children_system
        return cls(time.monotonic(), total - idle, total, own_s)


def cpu_window(start: CpuSnapshot, end: CpuSnapshot, cores: int) -> dict[str, Any]:
    """What the machine's cores did between two snapshots, in cores (1.0 = one core busy)."""
    wall = max(end.wall_s - start.wall_s, 1e-9)
    busy = max(end.machine_busy_s - start.machine_busy_s, 0.0)
    total = end.machine_total_s - start.machine_total_s
    own = max(end.own_s - start.own_s, 0.0)
    return {
        "wall_s": wall,
        "cores": cores,
        "machine_cpu_percent": 100.0 * busy / total if total > 0 else None,
        "own_cores": own / wall,
        # At most every core: counters read a moment apart (or a VM's) can say more.
        "others_cores": min(max(busy - own, 0.0) / wall, float(cores)),
    }


def load_average() -> dict[str, Any] | None:
    """The 1, 5 and 15-minute load averages and the 1-minute one per core."""
    try:
        one, five, fifteen = psutil.getloadavg()
    except (AttributeError, OSError):
        return None
    return {"1min": one, "5min": five, "15min": fifteen, "1min_per_core": one / cpu_count()}


# macOS power and thermal state -------------------------------------------------------------


def pmset_output(*args: str) -> str | None:
    """``pmset <args>``'s output, or None where there is no pmset (not a Mac) or it failed."""
    if shutil.which("pmset") is None:
        return None
    try:
        done = subprocess.run(
            ["pmset", *args], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def parse_pmset_batt(text: str) -> dict[str, Any]:
    """``Now drawing from 'AC Power'`` / ``'Battery Power'``, and the battery's percentage."""
    facts: dict[str, Any] = {}
    source = re.search(r"drawing from '([^']+)'", text)
    if source:
        facts["power_source"] = source.group(1)
        facts["on_battery"] = "battery" in source.group(1).lower()
    percent = re.search(r"InternalBattery\S*\s+\([^)]*\)\s+(\d+)%", text)
    if percent:
        facts["battery_percent"] = int(percent.group(1))
    return facts


ENERGY_MODES = {0: "automatic", 1: "low power", 2: "high power"}


def parse_pmset_settings(text: str) -> dict[str, Any]:
    """Low Power Mode from ``pmset -g``: ``lowpowermode 1``, or ``powermode 1`` (the Energy
    Mode of newer Macs: 0 automatic, 1 low power, 2 high power). Only the settings in use
    count where the output has a ``Currently in use:`` section."""
    in_use = text.split("Currently in use:", 1)[-1]
    settings = dict(re.findall(r"^\s*(lowpowermode|powermode)\s+(\d+)\s*$", in_use, re.M))
    facts: dict[str, Any] = {}
    if "powermode" in settings:
        facts["energy_mode"] = ENERGY_MODES.get(int(settings["powermode"]), settings["powermode"])
    if "lowpowermode" in settings or "powermode" in settings:
        facts["low_power_mode"] = (
            settings.get("lowpowermode") == "1" or settings.get("powermode") == "1"
        )
    return facts


def parse_pmset_therm(text: str) -> dict[str, Any]:
    """Thermal and performance warning levels and the CPU limits from ``pmset -g therm``.

    An idle Mac prints only ``Note: No thermal warning level has been recorded`` (and the
    same for performance and CPU power); a recorded level or a ``CPU_Speed_Limit`` below
    100 means the system is slowing the CPU down.
    """
    facts: dict[str, Any] = {}
    for kind in ("thermal", "performance"):
        if re.search(rf"No {kind} warning level has been recorded", text, re.I):
            facts[f"{kind}_warning_level"] = 0
        level = re.search(rf"{kind} warning level\D{{0,20}}?(\d+)", text, re.I)
        if level:
            facts[f"{kind}_warning_level"] = int(level.group(1))
    for key in ("CPU_Speed_Limit", "CPU_Scheduler_Limit", "CPU_Available_CPUs"):
        found = re.search(rf"{key}\s*=\s*(\d+)", text)
        if found:
            facts[key.lower()] = int(found.group(1))
    return facts


def read_power() -> dict[str, Any]:
    """Power source, Low Power Mode and thermal state on macOS; {} elsewhere."""
    facts: dict[str, Any] = {}
    for args, parse in (
        (("-g", "batt"), parse_pmset_batt),
        (("-g",), parse_pmset_settings),
        (("-g", "therm"), parse_pmset_therm),
    ):
        text = pmset_output(*args)
        if text is not None:
            facts.update(parse(text))
    return facts


# The verdict -------------------------------------------------------------------------------


def judge(conditions: dict[str, Any]) -> list[tuple[str, str]]:
    """(flag, sentence) for each condition that makes a timing unreliable."""
    found: list[tuple[str, str]] = []
    for window, during in (("cpu", "the case"), ("cpu_timed", "the timed rounds")):
        cpu = conditions.get(window) or {}
        if (cpu.get("wall_s") or MIN_JUDGED_WINDOW_S) < MIN_JUDGED_WINDOW_S:
            continue  # CPU times tick every 10 ms: a few ms cannot tell who was busy
        others, cores = cpu.get("others_cores"), cpu.get("cores") or cpu_count()
        if others is not None and others > busy_threshold_cores(cores):
            found.append(
                (BUSY, f"other processes used {others:.1f} of {cores} cores during {during}")
            )
            break
    power = conditions.get("power") or {}
    if power.get("on_battery"):
        percent = power.get("battery_percent")
        found.append((ON_BATTERY, "on battery power" + (f" ({percent}%)" if percent else "")))
    if power.get("low_power_mode"):
        found.append((LOW_POWER, "Low Power Mode is on"))
    limits = []
    if power.get("cpu_speed_limit") is not None and power["cpu_speed_limit"] < 100:
        limits.append(f"CPU speed limit {power['cpu_speed_limit']}%")
    limits += [
        f"{kind} warning level {power[f'{kind}_warning_level']}"
        for kind in ("thermal", "performance")
        if (power.get(f"{kind}_warning_level") or 0) > 0
    ]
    gpu = conditions.get("gpu") or {}
    slow = [r for r in gpu.get("clock_event_reasons") or [] if r in nvml.THROTTLE_REASONS]
    if slow:
        limits.append(f"GPU clock event reasons {', '.join(slow)}")
    if limits:
        found.append((THROTTLED, "throttled: " + "; ".join(limits)))
    return found


def with_verdict(conditions: dict[str, Any]) -> dict[str, Any]:
    verdict = judge(conditions)
    return {**conditions, "flags": [f for f, _ in verdict], "notes": [n for _, n in verdict]}


def without_sibling_workers(
    conditions: dict[str, Any], case_cores: float, timed_cores: float
) -> dict[str, Any]:
    """One worker's conditions in a data-parallel case: the case's other workers on the same
    machine used ``case_cores`` over the case and ``timed_cores`` over its timed rounds, and
    that is the case's own work, not other processes'. Re-judged."""
    out = {k: v for k, v in conditions.items() if k not in ("flags", "notes")}
    for window, cores in (("cpu", case_cores), ("cpu_timed", timed_cores)):
        if window in out:
            cpu = dict(out[window])
            cpu["others_cores"] = max(cpu["others_cores"] - cores, 0.0)
            cpu["sibling_workers_cores"] = cores
            out[window] = cpu
    return with_verdict(out)


# Per case and per run ----------------------------------------------------------------------


class CaseWatch:
    """Started when a case starts; ``finish`` returns the case's conditions with a verdict."""

    def __init__(self) -> None:
        self.cores = cpu_count()
        self.power = read_power()
        self.start = CpuSnapshot.take()
        self.timed_start: CpuSnapshot | None = None
        self.timed_end: CpuSnapshot | None = None

    def busy_note(self) -> str:
        """'' or why the machine is busy now (for a skip reason given mid-case)."""
        cpu = cpu_window(self.start, CpuSnapshot.take(), self.cores)
        if cpu["others_cores"] <= busy_threshold_cores(self.cores):
            return ""
        return (
            f"the machine is busy (other processes used {cpu['others_cores']:.1f} of "
            f"{self.cores} cores)"
        )

    def timed_rounds_start(self) -> None:
        self.timed_start = CpuSnapshot.take()

    def timed_rounds_end(self) -> None:
        self.timed_end = CpuSnapshot.take()

    def finish(self, gpu: dict[str, Any] | None = None) -> dict[str, Any]:
        conditions: dict[str, Any] = {"cpu": cpu_window(self.start, CpuSnapshot.take(), self.cores)}
        if self.timed_start is not None and self.timed_end is not None:
            # The timed rounds alone: a launch-bound GPU case whose own process keeps more
            # than one core busy here is competing with itself (e.g. a spinning thread pool).
            conditions["cpu_timed"] = cpu_window(self.timed_start, self.timed_end, self.cores)
        conditions["cpu"]["load_average_1min"] = (load_average() or {}).get("1min")
        if self.power:
            conditions["power"] = self.power
        if gpu:
            conditions["gpu"] = gpu
        return with_verdict(conditions)


class RunWatch:
    """The whole run: the load before the first case, and a summary over the cases."""

    def __init__(self, cooldown_s: float = 0.0) -> None:
        self.cores = cpu_count()
        self.cooldown_s = cooldown_s
        self.load_before = load_average()
        self.power_before = read_power()
        self.start = CpuSnapshot.take()
        self.first_case: CpuSnapshot | None = None

    def case_starts(self) -> None:
        if self.first_case is None:
            self.first_case = CpuSnapshot.take()

    def summary(self, case_conditions: Iterable[dict[str, Any]]) -> dict[str, Any]:
        """The run's conditions: before, during, power, and how many cases each flag hit."""
        cases = [c for c in case_conditions if isinstance(c, dict)]
        counts = {f: sum(f in (c.get("flags") or []) for c in cases) for f in FLAGS}
        others = [
            c["cpu"]["others_cores"] for c in cases if (c.get("cpu") or {}).get("others_cores")
        ]
        summary: dict[str, Any] = {
            "cores": self.cores,
            "busy_threshold_cores": busy_threshold_cores(self.cores),
            "busy_rule": BUSY_RULE,
            "cooldown_s": self.cooldown_s,
            "load_average_before": self.load_before,
            "load_average_after": load_average(),
            "cases": len(cases),
            "flagged_cases": {f: n for f, n in counts.items() if n},
            "others_cores_max": max(others) if others else None,
        }
        if self.first_case is not None:
            summary["before_first_case"] = cpu_window(self.start, self.first_case, self.cores)
            summary["during"] = cpu_window(self.first_case, CpuSnapshot.take(), self.cores)
        if self.power_before:
            summary["power_before"] = self.power_before
        notes = [n for c in cases for n in c.get("notes") or []]
        summary["flags"] = [f for f in FLAGS if counts[f]]
        summary["warnings"] = warnings(summary, notes)
        return summary


def warnings(summary: dict[str, Any], notes: list[str]) -> list[str]:
    """One line per flag raised in the run, for the terminal and the report."""
    flagged, total = summary["flagged_cases"], summary["cases"]
    lines = []
    if flagged.get(BUSY):
        lines.append(
            f"the machine was busy during {flagged[BUSY]} of {total} cases (marked '{BUSY}'): "
            f"other processes used up to {summary['others_cores_max']:.1f} of "
            f"{summary['cores']} cores; those figures can be off by far more than any "
            "regression threshold. Close other programs and re-run; --cooldown SECONDS "
            "lets the machine settle between cases"
        )
    if flagged.get(ON_BATTERY):
        lines.append(
            f"on battery power during {flagged[ON_BATTERY]} of {total} cases: "
            "plug in the power adapter"
        )
    if flagged.get(LOW_POWER):
        lines.append(
            f"Low Power Mode was on during {flagged[LOW_POWER]} of {total} cases: turn it "
            "off (System Settings > Battery, or: sudo pmset -a lowpowermode 0)"
        )
    if flagged.get(THROTTLED):
        detail = next((n for n in notes if n.startswith("throttled")), "throttled")
        lines.append(
            f"throttled during {flagged[THROTTLED]} of {total} cases ({detail}): let the "
            "machine cool down (--cooldown SECONDS) and re-run"
        )
    return lines
