"""A framework that is not one: NumPy behind the backend contract, for the plug-in test.

It declares a device of its own, "npu", an accelerator whose queued work is logged.
"""

from __future__ import annotations

import functools
from typing import Any

from accelbench.core.device import Device, SampledRss

SYNCS: list[str] = []


class FakeDevice(SampledRss, Device):
    def __init__(self, name: str) -> None:
        self.name = name

    def _probe(self) -> str | None:
        return None

    def synchronize(self, result: Any = None) -> None:
        SYNCS.append(self.name)

    @property
    def label(self) -> str:
        return f"Fake {self.name.upper()} (fakefw)"


def import_error() -> str | None:
    return None


@functools.cache
def get_device(name: str) -> FakeDevice:
    return FakeDevice(name)


def environment(load: bool = True) -> dict[str, Any]:
    return {"fakefw": "0.1"}
