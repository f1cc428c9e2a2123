"""The workload contract, framework-neutral.

A workload builds its model and a synthetic batch for one device (TorchBench's model
interface), exposes one ``step`` for its phase, and says how many items a step processes
and how many FLOPs it does. It knows nothing of pytest or timing.

The contract is what every workload has. What only some need is an optional part, declared
by inheriting it:

- ``accelbench.core.compiled.Compilable``: a step that can run compiled (``modes`` beyond
  eager: torch.compile, TensorFlow's XLA, mx.compile, a CUDA graph);
- ``FixedRounds``: steps that move through state and rounds of a set number of steps (the
  language model's token generation);
- ``strategy``: a workload measured other than as one process on one device names its
  ``accelbench.core.strategy.CaseStrategy`` (the data-parallel workloads do).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from accelbench.core.spec import EAGER, PHASES, CaseSpec, variant_batch
from accelbench.core.strategy import CaseStrategy

SEED = 1234


class Workload(ABC):
    """One model (or op) on one device in one phase, ready to be stepped."""

    name: ClassVar[str]
    framework: ClassVar[str]
    item_unit: ClassVar[str] = "images"
    phases: ClassVar[tuple[str, ...]] = PHASES
    SIZES: ClassVar[dict[str, Any]]
    # The largest batch of ``--sweep batch`` per size profile; None: no batch sweep (the
    # workload's batch means nothing to sweep, or another axis is swept instead).
    MAX_SWEEP_BATCH: ClassVar[dict[str, int] | None] = None
    # Execution modes this workload has (accelbench.core.spec.MODES); a ``Compilable`` one
    # adds its compiled modes.
    modes: ClassVar[tuple[str, ...]] = (EAGER,)
    # Layouts it can run in, as --memory-format names them (NCHW, CHANNELS_LAST); () for a
    # workload without a choice of layout.
    memory_formats: ClassVar[tuple[str, ...]] = ()
    # How the runner measures it; None: one process on one device (the default strategy).
    strategy: ClassVar[type[CaseStrategy] | None] = None
    # The ceiling each phase is read against (phase -> accelbench.core.ceilings.COPY or
    # MATMUL): a selected case brings that ceiling into the run, so its share is never
    # missing. Empty: no share of a ceiling.
    yardsticks: ClassVar[dict[str, str]] = {}

    def __init__(self, spec: CaseSpec, device: Any) -> None:
        self.spec = spec
        self.device = device
        self.size = self.SIZES[spec.size]
        batch = variant_batch(spec.variant)
        if batch is not None:
            self.size = self.at_batch(self.size, batch)

    @classmethod
    def has_batch(cls) -> bool:
        """Whether every size profile has a batch that ``--batch`` can set (``at_batch``)."""
        return all(
            dataclasses.is_dataclass(s) and "batch" in {f.name for f in dataclasses.fields(s)}
            for s in cls.SIZES.values()
        )

    @classmethod
    def variants(cls, size: str) -> list[str]:
        """Extra parameter values per size profile (e.g. ``naive-L=128``); one empty by default."""
        return [""]

    @classmethod
    def batch_sizes(cls, size: str) -> list[int]:
        """The batches of ``--sweep batch`` at ``size``: 1, 2, 4, ... up to and including
        ``MAX_SWEEP_BATCH[size]``; empty for a workload without a batch sweep."""
        if not cls.MAX_SWEEP_BATCH or size not in cls.MAX_SWEEP_BATCH:
            return []
        batches = [1]
        while batches[-1] * 2 <= cls.MAX_SWEEP_BATCH[size]:
            batches.append(batches[-1] * 2)
        return batches

    @classmethod
    def at_batch(cls, size: Any, batch: int) -> Any:
        """The size profile ``size`` with its batch replaced: the shapes of one sweep point.
        The default replaces the ``batch`` field of a size dataclass."""
        if not dataclasses.is_dataclass(size) or "batch" not in {
            f.name for f in dataclasses.fields(size)
        }:
            raise ValueError(f"{cls.name}: its size profile has no batch to set")
        return dataclasses.replace(size, batch=batch)

    @property
    def batch(self) -> int | None:
        """Samples (images, sequences) per step, where the workload has a batch."""
        return getattr(self.size, "batch", None)

    @abstractmethod
    def step(self) -> Any:
        """Run one step of ``spec.phase``; returns something the device can wait on: the
        loop hands it to ``Device.synchronize(result)`` at the end of each timed round."""

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

        By default the same workload on the CPU in fp32, eager, in the default layout
        (``spec.reference()``), for every accelerator, compiled step and other layout (the
        CPU's own eager case is the reference). A workload of another framework may name its
        PyTorch twin instead, on every device (MLX does).
        """
        return (cls, spec.reference()) if spec.needs_parity else None

    def flops_per_step(self) -> int | None:
        """Floating-point operations in one step, or None where they cannot be counted."""
        return None

    def bytes_per_step(self) -> int | None:
        """Bytes read plus bytes written by one step, where counted (memory-bound ops)."""
        return None

    def dtype_ran(self) -> str:
        """The dtype the computation actually used (autocast may silently disable itself)."""
        return self.spec.dtype

    @classmethod
    def estimated_step_s(cls, spec: CaseSpec, device: Any) -> tuple[float, str] | None:
        """Seconds one step of ``spec`` would take and how that was estimated, from
        something far cheaper than the step, before the case is built, checked or stepped:
        for cases whose one step can take minutes (a 4096^3 fp16 matmul on a CPU without
        fp16 kernels). None: the first step is timed instead (``measure.time_first_step``)."""
        return None

    def threads(self) -> int | None:
        """CPU threads the framework uses for its kernels."""
        return None


class FixedRounds:
    """Optional part of the Workload contract: steps that move through state (a
    generation's cache position), and rounds that must hold a set number of steps."""

    def round_start(self) -> None:
        """Called before the first step of every timed round. A workload whose steps move
        through state (a generation's cache position) puts it back here, so that every round
        does the same work. It runs inside the round's timing: keep it to a few assignments."""

    def steps_per_round(self) -> int | None:
        """The steps every timed round must have, where the workload fixes them (a round of
        text generation produces a set number of tokens); None lets the timing plan choose."""
        return None
