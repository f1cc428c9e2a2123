"""Whether a case's timed rounds are stable enough for a regression verdict.

A median is robust to a few wild rounds, not to rounds that come in two kinds. On a shared
machine a tiny CPU step either runs at once or waits for a time slice (a thread of the
intra-op pool, or the process itself, descheduled): its rounds split into a fast and a slow
cluster, tens of times apart, and the share of slow rounds changes from run to run. While
fewer than half are slow the median is a fast round; a few more and it is a slow one. The
interquartile range can be tight in both runs (all of q1..q3 inside one cluster), so the
usual gate (median beyond the threshold, IQRs apart) reads the flip as a 100x regression.

The rule, on the timed rounds as time per step, sorted (n of them):

- a verdict needs at least ``MIN_ROUNDS`` (5) rounds: with fewer, there is no middle of
  the rounds to judge, and nothing to tell one odd round from a mode;
- *bimodal*: the widest ratio between neighbouring rounds is at least ``GAP_RATIO`` (2x),
  and each side of that gap holds at least ``MIN_CLUSTER_SHARE`` (20%) of the rounds and at
  least 2 of them. One or two wild rounds in ten do not count (the median ignores them);
  a second cluster of a fifth of the rounds does, since the next run may hold half;
- *spread*: the middle 60% of the rounds (from the 20th to the 80th percentile, nearest
  rank, so up to a fifth of the rounds at either end are left out) span more than
  ``MAX_CENTRAL_SPREAD`` (1.5x): the median of such rounds moves by tens of percent when
  the mix of rounds changes, even where the quartiles overlap by chance.

A case that fails any of these is *unstable*: saved with the reason (``extra_info``'s
``stability``; its record carries the ``unstable`` flag) and never handed to a gate as a
regression or an improvement. It says nothing about the code, only that this run cannot
tell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MIN_ROUNDS = 5
GAP_RATIO = 2.0
MIN_CLUSTER_SHARE = 0.2
MIN_CLUSTER_ROUNDS = 2
CENTRAL_SHARE = 0.6  # the middle 60%: the 20th to the 80th percentile
MAX_CENTRAL_SPREAD = 1.5
UNSTABLE = "unstable"  # the flag a case is saved with (``Record.flags``)


@dataclass(frozen=True)
class Stability:
    """The judgement of one case's rounds: ``reason`` is "" for stable rounds."""

    rounds: int
    central_spread: float | None  # the 80th percentile over the 20th (1.0: all alike)
    reason: str = ""

    @property
    def stable(self) -> bool:
        return not self.reason

    def as_extra_info(self) -> dict[str, Any]:
        return {
            "stable": self.stable,
            "reason": self.reason,
            "rounds": self.rounds,
            "central_spread": self.central_spread,
        }


def _time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def central_range(times: Sequence[float]) -> tuple[float, float]:
    """The 20th and 80th percentiles of ``times`` (sorted), by nearest rank: the rounds
    ``round(0.2 * (n - 1))`` from either end."""
    trim = round((1 - CENTRAL_SHARE) / 2 * (len(times) - 1))
    return times[trim], times[len(times) - 1 - trim]


def widest_gap(times: Sequence[float]) -> tuple[int, float]:
    """Where the sorted ``times`` split at their widest ratio: (rounds below, ratio)."""
    best, ratio = 0, 1.0
    for i in range(1, len(times)):
        step = times[i] / times[i - 1] if times[i - 1] > 0 else math.inf
        if step > ratio:
            best, ratio = i, step
    return best, ratio


def judge(round_times_s: Sequence[float]) -> Stability:
    """The stability of rounds given as time per step (any order)."""
    times = sorted(t for t in round_times_s if math.isfinite(t))
    n = len(times)
    if n < MIN_ROUNDS:
        return Stability(n, None, f"too few rounds for a verdict ({n}, at least {MIN_ROUNDS})")
    low, high = central_range(times)
    spread = high / low if low > 0 else math.inf
    split, ratio = widest_gap(times)
    smaller = min(split, n - split)
    if ratio >= GAP_RATIO and smaller >= max(MIN_CLUSTER_ROUNDS, MIN_CLUSTER_SHARE * n):
        fast, slow = times[:split], times[split:]
        reason = (
            f"bimodal rounds: {len(fast)} of {n} near {_time(fast[len(fast) // 2])}, "
            f"{len(slow)} near {_time(slow[len(slow) // 2])}"
        )
        return Stability(n, spread, reason)
    if spread > MAX_CENTRAL_SPREAD:
        reason = (
            f"rounds spread {spread:.2g}x over their middle 60% ({_time(low)} to "
            f"{_time(high)}; at most {MAX_CENTRAL_SPREAD:g}x for a verdict)"
        )
        return Stability(n, spread, reason)
    return Stability(n, spread)


def mark(info: dict[str, Any], round_times_s: Sequence[float]) -> Stability:
    """Judge a case's timed rounds and save the judgement in its ``info`` (extra_info) as
    ``stability``; reading it back gives the record the ``unstable`` flag (the saved
    ``flags`` stay the conditions' own)."""
    judged = judge(round_times_s)
    info["stability"] = judged.as_extra_info()
    return judged
