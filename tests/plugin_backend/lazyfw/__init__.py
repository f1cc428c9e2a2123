"""A lazy framework without a device-wide barrier, for the plug-in test: its devices can
only wait on a result, as JAX's ``block_until_ready`` does.

A step queues its work and returns a ``Pending`` result at once. ``synchronize(result)``
runs the queued work up to and including ``result``, in the order it was queued (one
stream); ``synchronize()`` without a result has nothing to wait on and returns at once. Each
piece of work takes at least ``WORK_S`` (a planted sleep), so a timing loop that does not
hand the step's result to ``synchronize`` times the queueing alone, far under ``WORK_S``.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from accelbench.core.device import Device, SampledRss

WORK_S = 0.002


class Pending:
    """A step's result, computed when a device waits on it."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.work = work
        self.done = False
        self.value: Any = None

    def finish(self) -> None:
        time.sleep(WORK_S)
        self.value, self.done = self.work(), True


class LazyDevice(SampledRss, Device):
    def __init__(self, name: str) -> None:
        self.name = name
        self.queue: deque[Pending] = deque()

    def submit(self, work: Callable[[], Any]) -> Pending:
        """Queue ``work``; its result once the device is waited on."""
        pending = Pending(work)
        self.queue.append(pending)
        return pending

    def _probe(self) -> str | None:
        return None

    def synchronize(self, result: Any = None) -> None:
        if not isinstance(result, Pending):
            return  # no device-wide barrier: nothing to wait on
        while not result.done and self.queue:
            self.queue.popleft().finish()

    @property
    def label(self) -> str:
        return f"Lazy {self.name.upper()} (lazyfw)"


def import_error() -> str | None:
    return None


@functools.cache
def get_device(name: str) -> LazyDevice:
    return LazyDevice(name)


def environment(load: bool = True) -> dict[str, Any]:
    return {"lazyfw": "0.1"}
