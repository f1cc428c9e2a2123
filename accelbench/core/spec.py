"""The identity of one benchmark case, and the vocabularies its fields come from.

Every field is a plain string so that it can be a pytest parameter id, a group name and a
value in pytest-benchmark's saved JSON alike.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

PHASES = ("train", "infer")
DTYPES = ("fp32", "tf32", "fp16", "bf16")
# How a step runs (accelbench.core.compiled): "eager" op by op, as written; "compile" through
# the framework's compiler (torch.compile, XLA's jit_compile=True, mx.compile).
EAGER = "eager"
MODES = (EAGER, "compile")
# Layouts of the convolutional workloads, as --memory-format names them. NCHW is PyTorch's
# default and is recorded as "" (like the empty variant): only a non-default layout is named.
NCHW = "nchw"
CHANNELS_LAST = "channels_last"
MEMORY_FORMATS = (NCHW, CHANNELS_LAST)


@dataclass(frozen=True)
class CaseSpec:
    """What is measured: one workload, on one device, in one phase, at one size and dtype."""

    framework: str
    workload: str
    device: str
    phase: str
    dtype: str = "fp32"
    size: str = "standard"
    variant: str = ""
    mode: str = EAGER
    memory_format: str = ""  # "" is the framework's default layout; else "channels_last"
    batch: str = ""  # "" is the size profile's batch; "256" when --batch overrides it

    def on(self, device: str, dtype: str | None = None) -> CaseSpec:
        """The same case on another device (and optionally another dtype)."""
        return dataclasses.replace(self, device=device, dtype=dtype or self.dtype)

    def reference(self) -> CaseSpec:
        """What parity compares against: this case on the CPU in fp32, eager, default layout."""
        return dataclasses.replace(self, device="cpu", dtype="fp32", mode=EAGER, memory_format="")

    @property
    def needs_parity(self) -> bool:
        """Accelerators, compiled steps and other layouts are checked against the reference."""
        return self.device != "cpu" or self.mode != EAGER or self.memory_format != ""

    @property
    def group(self) -> str:
        """Cases that differ only by device share a group, so their tables sit side by side."""
        batch = f"batch={self.batch}" if self.batch else ""
        parts = [self.framework, self.workload, self.phase, self.variant, self.mode]
        parts += [self.memory_format, batch, self.dtype, self.size]
        return " ".join(p for p in parts if p)

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)
