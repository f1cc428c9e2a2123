"""The whole run's time budget (``--budget``): a case starts only when it is expected to fit.

A case is expected to take what it took in the newest saved run of this machine that holds
it (its ``case_wall_s``); else what the cases of the same framework and device took so far
in this run (their median), or what the cases of any framework took, or ``FIRST_CASE_S``
before any case ran. The cases the budget leaves out are
skipped with one reason, the same for all of them, so the summary folds them into one line.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

FIRST_CASE_S = 5.0
_DURATION = re.compile(r"(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>h|m|min|s)?", re.IGNORECASE | re.ASCII)
_UNIT_S = {"h": 3600.0, "m": 60.0, "min": 60.0, "s": 1.0}
UNLIMITED = ("none", "off", "0")
MAX_BUDGET_S = 7 * 24 * 3600.0


def parse_duration(text: str) -> float:
    """``5m``, ``90s``, ``90`` (seconds), ``1.5h``; ``none``/``off``/``0``: no limit (inf).
    ValueError with a one-line reason otherwise."""
    value = text.strip().lower()
    if value in UNLIMITED:
        return math.inf
    match = _DURATION.fullmatch(value)
    if match is None:
        raise ValueError(f"{text!r} is not a duration (e.g. 5m, 90s, 1h, or none)")
    seconds = float(match["value"]) * _UNIT_S[match["unit"] or "s"]
    if not 0 < seconds <= MAX_BUDGET_S:
        raise ValueError(f"{text!r} must be more than 0 and at most 7 days (or none)")
    return seconds


def format_duration(seconds: float) -> str:
    """``5 min``, ``90 s``, ``1.5 h``, ``no limit``."""
    if math.isinf(seconds):
        return "no limit"
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"


@dataclass
class RunBudget:
    """How much of ``total_s`` the run has spent, and whether the next case fits."""

    total_s: float
    clock: Callable[[], float] = time.monotonic
    started_at: float | None = None
    spent: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    known: dict[str, float] = field(default_factory=dict)  # case -> seconds, a saved run's

    @property
    def limited(self) -> bool:
        return not math.isinf(self.total_s)

    def elapsed_s(self) -> float:
        if self.started_at is None:
            self.started_at = self.clock()
        return self.clock() - self.started_at

    def expected_s(self, framework: str, device: str, case: str = "") -> float:
        """What a case of ``framework`` on ``device`` is expected to take: what it took in a
        saved run (``known``), else as explained above."""
        if case in self.known:
            return self.known[case]
        same = self.spent.get((framework, device))
        if same:
            return statistics.median(same)
        everything = [s for durations in self.spent.values() for s in durations]
        return statistics.median(everything) if everything else FIRST_CASE_S

    def refusal(self, framework: str, device: str, case: str = "") -> str | None:
        """Why a case of ``framework`` on ``device`` is not started, or None if it fits."""
        if not self.limited:
            return None
        if self.elapsed_s() + self.expected_s(framework, device, case) <= self.total_s:
            return None
        return f"not run within --budget {format_duration(self.total_s)} (--budget none lifts it)"

    def record(self, framework: str, device: str, seconds: float) -> None:
        self.spent.setdefault((framework, device), []).append(seconds)
