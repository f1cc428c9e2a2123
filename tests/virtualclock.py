"""A clock that moves only when told: time that a fake step "takes", exactly.

Given to pytest-benchmark as ``--benchmark-timer virtualclock.clock``, a fake workload whose
step calls ``advance(seconds)`` is measured at exactly that many seconds per step, whatever
the machine is doing: a test can state the expected medians from its own inputs.
"""

NOW = [0.0]


def clock() -> float:
    return NOW[0]


def advance(seconds: float) -> None:
    NOW[0] += seconds
