"""The identity of one benchmark case, and the vocabularies its fields come from.

Every field is a plain string so that it can be a pytest parameter id, a group name and a
value in pytest-benchmark's saved JSON alike.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

PHASES = ("train", "infer")
# Language-model inference, as llama-bench names it: prompt processing, text generation.
LLM_PHASES = ("pp", "tg")
DTYPES = ("fp32", "tf32", "fp16", "bf16")


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

    def on(self, device: str, dtype: str | None = None) -> CaseSpec:
        """The same case on another device (and optionally another dtype)."""
        return dataclasses.replace(self, device=device, dtype=dtype or self.dtype)

    @property
    def group(self) -> str:
        """Cases that differ only by device share a group, so their tables sit side by side."""
        parts = [self.framework, self.workload, self.phase, self.variant, self.dtype, self.size]
        return " ".join(p for p in parts if p)

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)
