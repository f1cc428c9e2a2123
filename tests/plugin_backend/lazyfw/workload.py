"""The CNN's name on the lazy framework: fakefw's matmul in NumPy, queued and run when awaited."""

from __future__ import annotations

from typing import Any

import numpy as np
from fakefw.workload import FakeCNN


class LazyCNN(FakeCNN):
    framework = "lazyfw"

    def step(self) -> Any:
        return self.device.submit(lambda: self.x @ self.w)

    def parity_outputs(self) -> dict[str, np.ndarray]:
        result = self.step()
        self.device.synchronize(result)
        return {"output": result.value}
