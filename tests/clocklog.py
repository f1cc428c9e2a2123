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
