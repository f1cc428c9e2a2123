"""The workload contract, framework-neutral.

A workload builds its model and a synthetic batch for one device (TorchBench's model
interface), exposes one ``step`` for its phase, and says how many items a step processes
and how many FLOPs it does. It knows nothing of pytest or timing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from accelbench.core.spec import PHASES, CaseSpec

SEED = 1234


class Workload(ABC):
    """One model (or op) on one device in one phase, ready to be stepped."""

    name: ClassVar[str]
    framework: ClassVar[str]
    item_unit: ClassVar[str] = "images"
    phases: ClassVar[tuple[str, ...]] = PHASES
    SIZES: ClassVar[dict[str, Any]]

    def __init__(self, spec: CaseSpec, device: Any) -> None:
        self.spec = spec
        self.device = device
        self.size = self.SIZES[spec.size]

    @classmethod
    def variants(cls, size: str) -> list[str]:
        """Extra parameter values per size profile (e.g. ``naive-L=128``); one empty by default."""
        return [""]

    @abstractmethod
    def step(self) -> Any:
        """Run one step of ``spec.phase``; returns something the device can wait on."""

    @abstractmethod
    def parity_outputs(self) -> dict[str, np.ndarray]:
        """Outputs of one step from the freshly built state, for comparison with the CPU."""

    @property
    @abstractmethod
    def items_per_step(self) -> int:
        """Images, sequences or real (non-pad) tokens processed by one step."""

    @abstractmethod
    def shapes(self) -> dict[str, Any]:
        """Batch size and input shapes, as JSON-friendly values."""

    @classmethod
    def parity_reference(cls, spec: CaseSpec) -> tuple[type[Workload], CaseSpec] | None:
        """The case whose outputs this one must reproduce before it is timed, or None.

        By default the same workload on the CPU in fp32, for every accelerator (the CPU's
        own case is the reference). A workload of another framework may name its PyTorch
        twin instead, on every device (MLX does).
        """
        return None if spec.device == "cpu" else (cls, spec.on("cpu", "fp32"))

    def flops_per_step(self) -> int | None:
        """Floating-point operations in one step, or None where they cannot be counted."""
        return None

    def bytes_per_step(self) -> int | None:
        """Bytes read plus bytes written by one step, where counted (memory-bound ops)."""
        return None

    def dtype_ran(self) -> str:
        """The dtype the computation actually used (autocast may silently disable itself)."""
        return self.spec.dtype

    def threads(self) -> int | None:
        """CPU threads the framework uses for its kernels."""
        return None
