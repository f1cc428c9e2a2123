"""A benchmark timer that moves only when a planted step moves it.

Given to pytest-benchmark as ``--benchmark-timer fakeclock.clock``: every timed round then
lasts exactly the steps' planted durations, whatever the machine's speed or load, so a test
can plant a slowdown as a multiple of the baseline and know the gate must see it.
"""

NOW = [0.0]
STEP_S = [0.001]


def clock() -> float:
    return NOW[0]


def step_taken() -> None:
    NOW[0] += STEP_S[0]
