"""The suite's options as one frozen value, validated once at start-up."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from accelbench import backends
from accelbench.core import run_budget
from accelbench.core.sizes import BUDGETS, DEFAULT_PROFILE, PROFILES, QUICK
from accelbench.core.spec import DTYPES, EAGER, MEMORY_FORMATS, MODES, NCHW
from accelbench.core.sweep import DEFAULT_SWEEP, SWEEPS


class OptionError(ValueError):
    """A bad option value; the message is one line for the user."""


# ASCII digits only: str.isdigit() takes "²", float() "1_0" and other scripts' digits.
WHOLE_NUMBER = re.compile(r"[0-9]+")
DECIMAL_NUMBER = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")

# 256 times the largest profile's batch (the CNN's full size, 256): beyond it no workload's
# inputs fit in any device's memory, and a 20-digit batch would overflow the frameworks.
MAX_BATCH = 65536


def parse_list(option: str, text: str, valid: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    if not names:
        raise OptionError(f"{option} is empty; choose from {', '.join(valid)}")
    unknown = [n for n in names if n not in valid]
    if unknown:
        names_text = ", ".join(map(repr, unknown))
        raise OptionError(f"{option}: unknown value {names_text}; choose from {', '.join(valid)}")
    return names


def parse_choice(option: str, text: str, valid: tuple[str, ...]) -> str:
    value = text.strip().lower()
    if value not in valid:
        raise OptionError(f"{option}: unknown value {text!r}; choose from {', '.join(valid)}")
    return value


def parse_seconds(option: str, text: str) -> float:
    if not DECIMAL_NUMBER.fullmatch(text.strip()):
        raise OptionError(f"{option}: {text!r} is not a number of seconds (e.g. 10)")
    value = float(text)
    if value > 3600:
        raise OptionError(f"{option}: {text!r} must be between 0 and 3600 seconds")
    return value


def parse_batch(text: str | None) -> int | None:
    """``--batch``: None (each profile's own batch) or a whole number from 1 to MAX_BATCH."""
    if text is None or not text.strip():
        return None
    digits = text.strip().lstrip("0")
    if not WHOLE_NUMBER.fullmatch(text.strip()) or not digits:
        raise OptionError(f"--batch: expected a positive whole number, not {text!r}")
    if len(digits) > len(str(MAX_BATCH)) or int(digits) > MAX_BATCH:
        raise OptionError(f"--batch: {text!r} is over the largest batch accepted, {MAX_BATCH}")
    return int(digits)


def parse_budget(text: str | None) -> float | None:
    """``--budget``: None (the size profile's own) or seconds (inf: no limit)."""
    if text is None or not text.strip():
        return None
    try:
        return run_budget.parse_duration(text)
    except ValueError as exc:
        raise OptionError(f"--budget: {exc}") from None


@dataclass(frozen=True)
class SuiteConfig:
    devices: tuple[str, ...] = dataclasses.field(default_factory=backends.device_names)
    size: str = DEFAULT_PROFILE
    dtype: str = "fp32"
    frameworks: tuple[str, ...] = dataclasses.field(default_factory=backends.names)
    sweep: str = DEFAULT_SWEEP
    modes: tuple[str, ...] = (EAGER,)
    memory_formats: tuple[str, ...] = (NCHW,)
    batch: int | None = None
    cooldown_s: float = 0.0
    budget: float | None = None

    @property
    def budget_s(self) -> float:
        """The whole run's time budget: ``--budget``, else the size profile's."""
        return self.budget if self.budget is not None else BUDGETS[self.size].run_budget_s

    @classmethod
    def from_strings(
        cls,
        devices: str,
        size: str,
        dtype: str,
        frameworks: str,
        sweep: str = DEFAULT_SWEEP,
        modes: str = EAGER,
        memory_formats: str = NCHW,
        batch: str | None = None,
        cooldown: str = "0",
        budget: str | None = None,
    ) -> SuiteConfig:
        config = cls(
            devices=parse_list("--devices", devices, backends.device_names()),
            size=parse_choice("--bench-size", size, PROFILES),
            dtype=parse_choice("--dtype", dtype, DTYPES),
            frameworks=parse_list("--frameworks", frameworks, backends.names()),
            sweep=parse_choice("--sweep", sweep, SWEEPS),
            modes=parse_list("--mode", modes, MODES),
            memory_formats=parse_list("--memory-format", memory_formats, MEMORY_FORMATS),
            batch=parse_batch(batch),
            cooldown_s=parse_seconds("--cooldown", cooldown),
            budget=parse_budget(budget),
        )
        if config.batch is not None and config.sweep == "batch":
            raise OptionError(
                "--batch with --sweep batch: the sweep sets each batch itself; give one"
            )
        if config.sweep == "batch" and config.size == QUICK:
            raise OptionError(
                f"--sweep batch runs at --bench-size smoke, standard or full, not {QUICK}"
            )
        return config
