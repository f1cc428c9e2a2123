"""The CNN's name on the lazy framework: a matmul in NumPy, queued and run when awaited."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from accelbench.core.workload import SEED, Workload


class LazyCNN(Workload):
    name = "cnn"
    framework = "lazyfw"
    SIZES = {p: SimpleNamespace(batch=8) for p in ("smoke", "standard", "full")}

    def __init__(self, spec: Any, device: Any) -> None:
        super().__init__(spec, device)
        rng = np.random.RandomState(SEED)
        self.x = rng.standard_normal((self.size.batch, 64)).astype(np.float32)
        self.w = rng.standard_normal((64, 64)).astype(np.float32)

    def step(self) -> Any:
        return self.device.submit(lambda: self.x @ self.w)

    def parity_outputs(self) -> dict[str, np.ndarray]:
        result = self.step()
        self.device.synchronize(result)
        return {"output": result.value}

    @property
    def items_per_step(self) -> int:
        return self.size.batch

    def shapes(self) -> dict[str, Any]:
        return {"batch": self.size.batch}
