"""The CNN's name on the fake framework: a matmul in NumPy, the same numbers on every device."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from accelbench.core.workload import SEED, Workload


class FakeCNN(Workload):
    name = "cnn"
    framework = "fakefw"
    SIZES = {p: SimpleNamespace(batch=8) for p in ("smoke", "standard", "full")}

    def __init__(self, spec: Any, device: Any) -> None:
        super().__init__(spec, device)
        rng = np.random.RandomState(SEED)
        self.x = rng.standard_normal((self.size.batch, 64)).astype(np.float32)
        self.w = rng.standard_normal((64, 64)).astype(np.float32)

    def step(self) -> Any:
        return self.x @ self.w

    def parity_outputs(self) -> dict[str, np.ndarray]:
        return {"output": self.step()}

    @property
    def items_per_step(self) -> int:
        return self.size.batch

    def shapes(self) -> dict[str, Any]:
        return {"batch": self.size.batch}
