"""Is the accelerator's answer the CPU's answer? Compare one step's outputs before timing.

MPS has produced silently wrong results (pytorch#111634, #118115), so a speed is only
reported for a device whose outputs match the CPU's on identical weights and inputs.
The error of each output is norm-wise: ||accelerator - cpu|| / ||cpu||.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Norm-wise relative error allowed per dtype the accelerator computed in, against a CPU fp32
# reference. fp32 is strict IEEE fp32 (TF32 off); tf32 rounds convolution and matmul inputs
# to a 10-bit mantissa; fp16 and bf16 run through autocast, with 10- and 7-bit mantissas.
# Measured on an H200 (ResNet18 train): logits 1.5e-6 (fp32), 9e-4 (tf32), 1.3e-3 (fp16),
# 1.0e-2 (bf16).
TOLERANCES = {"fp32": 1e-3, "tf32": 1e-2, "fp16": 2e-2, "bf16": 6e-2}

# A greedy generation, as outputs: the token ids (integers, one per step) and the logits
# each token is the argmax of (steps x vocabulary). Compared by ``compare_tokens``.
GENERATED_TOKENS = "generated tokens"
GENERATED_LOGITS = "generated logits"


class ParityError(AssertionError):
    """The accelerator's output differs from the CPU's beyond the dtype's tolerance."""


@dataclass(frozen=True)
class TokenAgreement:
    """Greedy generation on the accelerator against the CPU's: where the tokens part, if they do.

    Two devices that round differently may part at a near tie, where the CPU's top two
    logits are closer than the accelerator's rounding error; from there on they decode
    different sequences, which no longer compare. The parting is explained when the
    accelerator's token is the largest of its own logits at that step (those logits, up to
    and including that step, are compared with the CPU's within the dtype's tolerance).
    A token that is not its own logits' argmax is a wrong result whatever the logits say.
    """

    steps: int
    agreed: int  # leading steps with the same token on both devices
    accelerator_token: int | None = None  # at the first step that differs
    cpu_token: int | None = None
    cpu_margin: float | None = None  # CPU logit of its token minus that of the accelerator's
    own_argmax: int | None = None  # the accelerator's own largest logit there

    @property
    def parted(self) -> bool:
        return self.agreed < self.steps

    @property
    def compared_steps(self) -> int:
        """Steps whose logits come from the same tokens on both devices."""
        return min(self.agreed + 1, self.steps)

    @property
    def explained(self) -> bool:
        return not self.parted or self.accelerator_token == self.own_argmax

    def as_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "agreed": self.agreed,
            "accelerator_token": self.accelerator_token,
            "cpu_token": self.cpu_token,
            "cpu_margin": self.cpu_margin,
        }


@dataclass(frozen=True)
class ParityResult:
    errors: dict[str, float]
    tolerance: float
    tokens: TokenAgreement | None = None

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def worst_output(self) -> str:
        return max(self.errors, key=self.errors.__getitem__)

    @property
    def passed(self) -> bool:
        tokens_ok = self.tokens is None or self.tokens.explained
        return self.max_error <= self.tolerance and tokens_ok

    def info(self, reference: str | None = None) -> dict[str, Any]:
        """The extra_info fields of this verdict (``reference``: what it was checked against)."""
        info: dict[str, Any] = {
            "parity_max_rel_error": self.max_error,
            "parity_tolerance": self.tolerance,
            "parity_errors": self.errors,
        }
        if reference is not None:
            info["parity_reference"] = reference
        if self.tokens is not None:
            info["parity_tokens"] = self.tokens.as_dict()
        return info


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


def compare_tokens(
    actual_tokens: np.ndarray,
    expected_tokens: np.ndarray,
    actual_logits: np.ndarray,
    expected_logits: np.ndarray,
) -> TokenAgreement:
    """Where two greedy generations part, and whether the accelerator's token there is the
    argmax of its own logits (ties allowed: any maximal token)."""
    actual_tokens, expected_tokens = np.asarray(actual_tokens), np.asarray(expected_tokens)
    if actual_tokens.shape != expected_tokens.shape:
        raise ParityError(
            f"{actual_tokens.shape} generated tokens where the CPU generated "
            f"{expected_tokens.shape}"
        )
    steps = len(expected_tokens)
    differ = np.flatnonzero(actual_tokens != expected_tokens)
    if not len(differ):
        return TokenAgreement(steps=steps, agreed=steps)
    step = int(differ[0])
    mine, cpus = int(actual_tokens[step]), int(expected_tokens[step])
    own = np.asarray(actual_logits[step], dtype=np.float64)
    reference = np.asarray(expected_logits[step], dtype=np.float64)
    valid = 0 <= mine < len(own)
    return TokenAgreement(
        steps=steps,
        agreed=step,
        accelerator_token=mine,
        cpu_token=cpus,
        cpu_margin=float(reference[cpus] - reference[mine]) if valid else None,
        own_argmax=mine if valid and own[mine] == own.max() else int(own.argmax()),
    )


def compare(
    actual: dict[str, np.ndarray], expected: dict[str, np.ndarray], dtype: str
) -> ParityResult:
    """Every output norm-wise; a greedy generation (``GENERATED_TOKENS`` with
    ``GENERATED_LOGITS``) by its tokens and the logits of the steps both devices share."""
    missing = set(expected) ^ set(actual)
    if missing:
        raise ParityError(f"outputs {sorted(missing)} are not produced on both devices")
    tokens = None
    names = list(expected)
    errors = {}
    if GENERATED_TOKENS in expected:
        tokens = compare_tokens(
            actual[GENERATED_TOKENS],
            expected[GENERATED_TOKENS],
            actual[GENERATED_LOGITS],
            expected[GENERATED_LOGITS],
        )
        shared = tokens.compared_steps
        errors[GENERATED_LOGITS] = relative_error(
            actual[GENERATED_LOGITS][:shared], expected[GENERATED_LOGITS][:shared]
        )
        names = [n for n in names if n not in (GENERATED_TOKENS, GENERATED_LOGITS)]
    errors.update({name: relative_error(actual[name], expected[name]) for name in names})
    return ParityResult(errors=errors, tolerance=TOLERANCES[dtype], tokens=tokens)


def check(result: ParityResult, device_label: str) -> None:
    """Raise ParityError naming the worst output when the result is beyond tolerance, or
    the generated token that is not the argmax of the accelerator's own logits."""
    tokens = result.tokens
    if result.max_error <= result.tolerance and tokens is not None and not tokens.explained:
        raise ParityError(
            f"{device_label}: generated token {tokens.agreed} is {tokens.accelerator_token} "
            f"where the CPU generated {tokens.cpu_token}, and it is not the argmax of the "
            f"accelerator's own logits ({tokens.own_argmax}); "
            f"{tokens.agreed} of {tokens.steps} tokens agreed before it"
        )
    if not result.passed:
        name = result.worst_output
        raise ParityError(
            f"{device_label}: output '{name}' differs from the CPU by relative error "
            f"{result.errors[name]:.3g} (tolerance {result.tolerance:g}); "
            f"all errors: {', '.join(f'{k}={v:.3g}' for k, v in result.errors.items())}"
        )
