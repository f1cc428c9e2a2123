"""A host clock that logs each read next to the device synchronizations, in order.

Given to pytest-benchmark as ``--benchmark-timer clocklog.clock``; fake devices append
"sync" to the same ``EVENTS`` list, so a test can read what happened between two clock
reads of a timed round.
"""

import time

EVENTS: list[str] = []


def clock() -> float:
    EVENTS.append("clock")
    return time.perf_counter()


def timed_intervals(events: list[str]) -> list[list[str]]:
    """The events between each pair of clock reads (start, end) of a timed round."""
    clocks = [i for i, e in enumerate(events) if e == "clock"]
    assert len(clocks) % 2 == 0, events
    return [events[a + 1 : b] for a, b in zip(clocks[::2], clocks[1::2])]
