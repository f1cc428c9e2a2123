"""Is the accelerator's answer the CPU's answer? Compare one step's outputs before timing.

MPS has produced silently wrong results (pytorch#111634, #118115), so a speed is only
reported for a device whose outputs match the CPU's on identical weights and inputs.
The error of each output is norm-wise: ||accelerator - cpu|| / ||cpu||.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Norm-wise relative error allowed per dtype the accelerator computed in, against a CPU fp32
# reference. fp32 is strict IEEE fp32 (TF32 off); tf32 rounds convolution and matmul inputs
# to a 10-bit mantissa; fp16 and bf16 run through autocast, with 10- and 7-bit mantissas.
# Measured on an H200 (ResNet18 train): logits 1.5e-6 (fp32), 9e-4 (tf32), 1.3e-3 (fp16),
# 1.0e-2 (bf16).
TOLERANCES = {"fp32": 1e-3, "tf32": 1e-2, "fp16": 2e-2, "bf16": 6e-2}


class ParityError(AssertionError):
    """The accelerator's output differs from the CPU's beyond the dtype's tolerance."""


@dataclass(frozen=True)
class ParityResult:
    errors: dict[str, float]
    tolerance: float

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def worst_output(self) -> str:
        return max(self.errors, key=self.errors.__getitem__)

    @property
    def passed(self) -> bool:
        return self.max_error <= self.tolerance


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise ParityError(f"shape {actual.shape} differs from the CPU's {expected.shape}")
    if not np.all(np.isfinite(actual)):
        return float("inf")
    scale = np.linalg.norm(expected)
    diff = np.linalg.norm(actual - expected)
    return float(diff / scale) if scale > 0 else float(diff)


def compare(
    actual: dict[str, np.ndarray], expected: dict[str, np.ndarray], dtype: str
) -> ParityResult:
    missing = set(expected) ^ set(actual)
    if missing:
        raise ParityError(f"outputs {sorted(missing)} are not produced on both devices")
    errors = {name: relative_error(actual[name], expected[name]) for name in expected}
    return ParityResult(errors=errors, tolerance=TOLERANCES[dtype])


def check(result: ParityResult, device_label: str) -> None:
    """Raise ParityError naming the worst output when the result is beyond tolerance."""
    if not result.passed:
        name = result.worst_output
        raise ParityError(
            f"{device_label}: output '{name}' differs from the CPU by relative error "
            f"{result.errors[name]:.3g} (tolerance {result.tolerance:g}); "
            f"all errors: {', '.join(f'{k}={v:.3g}' for k, v in result.errors.items())}"
        )
