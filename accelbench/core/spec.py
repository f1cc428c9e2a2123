"""The identity of one benchmark case, and the vocabularies its fields come from.

Every field is a plain string so that it can be a pytest parameter id, a group name and a
value in pytest-benchmark's saved JSON alike.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

PHASES = ("train", "infer")
# Language-model inference, as llama-bench names it: prompt processing, text generation.
LLM_PHASES = ("pp", "tg")
DTYPES = ("fp32", "tf32", "fp16", "bf16")
# How a step runs (accelbench.core.compiled): "eager" op by op, as written; "compile" through
# the framework's compiler (torch.compile, XLA's jit_compile=True, mx.compile); "graph" the
# eager kernels captured once as a CUDA graph and replayed (the PyTorch language model).
EAGER = "eager"
COMPILE = "compile"
GRAPH = "graph"
MODES = (EAGER, COMPILE, GRAPH)
# Layouts of the convolutional workloads, as --memory-format names them. NCHW is PyTorch's
# default and is recorded as "" (like the empty variant): only a non-default layout is named.
NCHW = "nchw"
CHANNELS_LAST = "channels_last"
MEMORY_FORMATS = (NCHW, CHANNELS_LAST)


# The order people read a case in (``torch attention sdpa-L=128 infer`` on cuda, bf16, ...):
# the summary's and the report's rows, the CSV export's columns and the differences
# ``compare`` names follow it; each field of ``CaseSpec`` says its place (``_read``).
_READ = "read_position"


def _read(position: int, default: str | None = None) -> Any:
    if default is None:
        return dataclasses.field(metadata={_READ: position})
    return dataclasses.field(default=default, metadata={_READ: position})


@dataclass(frozen=True)
class CaseSpec:
    """What is measured: one workload, on one device, in one phase, at one size and dtype.

    The only identity of a case, on both sides: the runner measures a ``CaseSpec`` and
    saves it in extra_info (``accelbench.core.saved_form``), a saved entry reads back into
    one (``Record.key``), and two results are comparable only when their specs are equal.
    The read side groups a case's devices under the spec with ``device`` blanked
    (``spec.case``). Every list of identity fields derives from ``dataclasses.fields``.
    """

    framework: str = _read(0)
    workload: str = _read(1)
    device: str = _read(4)
    phase: str = _read(2)
    dtype: str = _read(5, "fp32")
    size: str = _read(6, "standard")
    variant: str = _read(3, "")
    mode: str = _read(7, EAGER)
    memory_format: str = _read(8, "")  # "" is the framework's default layout (NCHW)

    def on(self, device: str, dtype: str | None = None) -> CaseSpec:
        """The same case on another device (and optionally another dtype)."""
        return dataclasses.replace(self, device=device, dtype=dtype or self.dtype)

    def reference(self) -> CaseSpec:
        """What parity compares against: this case on the CPU in fp32, eager, default layout."""
        return dataclasses.replace(self, device="cpu", dtype="fp32", mode=EAGER, memory_format="")

    def replace(self, **changes: str) -> CaseSpec:
        return dataclasses.replace(self, **changes)

    @property
    def needs_parity(self) -> bool:
        """Accelerators, compiled steps and other layouts are checked against the reference."""
        return self.device != "cpu" or self.mode != EAGER or self.memory_format != ""

    @property
    def group(self) -> str:
        """Cases that differ only by device share a group, so their tables sit side by side."""
        parts = [self.framework, self.workload, self.phase, self.variant, self.mode]
        parts += [self.memory_format, self.dtype, self.size]
        return " ".join(p for p in parts if p)

    @property
    def case(self) -> CaseSpec:
        """The same case on no particular device: the key that groups a case's devices."""
        return self.replace(device="")

    @property
    def label(self) -> str:
        """``torch attention sdpa-L=128 infer``: framework, workload, variant and phase."""
        parts = (self.framework, self.workload, self.variant, self.phase)
        return " ".join(p for p in parts if p)

    @property
    def execution(self) -> str:
        """How the case ran: ``eager``, ``compile``, ``eager channels_last``, ..."""
        return execution_label(self.mode, self.memory_format)

    def differences(self, other: CaseSpec) -> list[str]:
        """``["size smoke -> standard"]``: the fields where ``other`` differs from this case."""
        return [
            f"{name} {getattr(self, name) or '-'} -> {getattr(other, name) or '-'}"
            for name in IDENTITY_FIELDS
            if getattr(self, name) != getattr(other, name)
        ]

    def sort_key(self) -> tuple[Any, ...]:
        """Workload order, lengths numerically (L=64 before L=128), eager before compiled,
        default layout first, devices cpu, mps, cuda."""
        return (
            self.framework,
            self.workload,
            self.phase,
            natural_key(self.variant),
            mode_order(self.mode),
            self.memory_format,
            self.dtype,
            self.size,
            device_order(self.device),
        )

    def as_dict(self) -> dict[str, str]:
        """The fields in the order people read a case (``IDENTITY_FIELDS``); the saved form
        keeps the order of declaration (``accelbench.core.saved_form``)."""
        return {name: getattr(self, name) for name in IDENTITY_FIELDS}


# Every list of identity fields derives from the dataclass, as torch.utils.benchmark derives
# _TASKSPEC_FIELDS from TaskSpec: the fields in reading order, and those a case cannot lack.
IDENTITY_FIELDS = tuple(
    f.name for f in sorted(dataclasses.fields(CaseSpec), key=lambda f: f.metadata[_READ])
)
REQUIRED_FIELDS = tuple(
    f.name for f in dataclasses.fields(CaseSpec) if f.default is dataclasses.MISSING
)
DEVICE_ORDER = ("cpu", "mps", "cuda")


def layout_value(memory_format: str) -> str:
    """A layout as a case's identity holds it: the default layout (NCHW, as --memory-format
    and runs saved before this rule name it) is "", like the empty variant."""
    return "" if memory_format == NCHW else memory_format


def natural_key(text: str) -> list[Any]:
    """Sort "L=64" before "L=128": digit runs compare as numbers."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text) if p]


def device_order(device: str) -> tuple[int, str]:
    return (DEVICE_ORDER.index(device) if device in DEVICE_ORDER else len(DEVICE_ORDER), device)


def mode_order(mode: str) -> tuple[int, str]:
    """Eager first, then the compiled modes by name."""
    return (mode != EAGER, mode)


def execution_label(mode: str, memory_format: str = "", *, default: str = EAGER) -> str:
    """How a case ran: ``compile``, ``eager channels_last``, ...; eager execution in the
    default layout is ``default`` ("eager", or "" where only the exceptions are named)."""
    label = " ".join(x for x in (mode or EAGER, memory_format) if x)
    return default if label == EAGER else label


# The variant grammar ---------------------------------------------------------------------
#
# The one grammar of variants, shared by the write side (workloads, ``--sweep``) and the
# read side (the scaling and crossover views, the report's bar charts).
#
# A variant is parts joined by "-", the separator pytest itself puts between parameter ids:
# a part is either a bare name (``sdpa``, ``matmul``: which implementation or op) or a
# ``key=value`` field (``L=1024``, ``batch=16``: a point on a sweep). So ``sdpa-L=1024``
# is the sdpa implementation at length 1024, and ``sdpa-L=1024-batch=16`` the same at batch
# 16. Names and values use letters, digits, "_" and "."; keys start with a letter or "_" and
# appear once. The empty string is the variant with no parts.
#
# Two fields name a point on a sweep: ``L`` (sequence length, the attention workload) and
# ``batch`` (``--sweep batch``). The variant with such a field removed names the curve the
# point lies on.

VARIANT_SEPARATOR = "-"
BATCH_KEY = "batch"
LENGTH_KEY = "L"
SWEEP_KEYS = (LENGTH_KEY, BATCH_KEY)
MAX_LENGTH_DIGITS = 9  # a length of 10 digits or more is not a length anyone ran
_NAME = re.compile(r"^[A-Za-z0-9_.]+$")
_FIELD = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[A-Za-z0-9_.]+)$")


class VariantError(ValueError):
    """A variant string that does not follow the grammar; the message is one line."""


@dataclass(frozen=True)
class Variant:
    """A parsed variant: its parts in order, each ``(None, name)`` or ``(key, value)``."""

    parts: tuple[tuple[str | None, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Variant:
        if text == "":
            return cls()
        parts: list[tuple[str | None, str]] = []
        for part in text.split(VARIANT_SEPARATOR):
            field = _FIELD.match(part)
            if field:
                parts.append((field["key"], field["value"]))
            elif _NAME.match(part):
                parts.append((None, part))
            else:
                raise VariantError(
                    f"variant {text!r}: part {part!r} is neither a name nor key=value"
                )
        keys = [k for k, _ in parts if k is not None]
        if len(keys) != len(set(keys)):
            raise VariantError(f"variant {text!r}: a key appears twice")
        return cls(tuple(parts))

    def __str__(self) -> str:
        return VARIANT_SEPARATOR.join(v if k is None else f"{k}={v}" for k, v in self.parts)

    def get(self, key: str) -> str | None:
        return next((v for k, v in self.parts if k == key), None)

    def get_int(self, key: str) -> int | None:
        """The value of ``key`` as a whole number; None when absent or not a number."""
        value = self.get(key)
        return int(value) if value is not None and value.isdigit() else None

    def with_field(self, key: str, value: object) -> Variant:
        """This variant with ``key=value`` set: replaced in place, or appended at the end."""
        text = str(value)
        if not _FIELD.match(f"{key}={text}"):
            raise VariantError(f"{key}={text} cannot be a variant field")
        if self.get(key) is not None:
            return Variant(tuple((k, text if k == key else v) for k, v in self.parts))
        return Variant((*self.parts, (key, text)))

    def without(self, key: str) -> Variant:
        return Variant(tuple(p for p in self.parts if p[0] != key))


# Quantized weights of the language model are a bare name part (``ctx-w4-L=512``): 4-bit or
# 8-bit weight-only (accelbench.workloads.llm_weights says the formats). A variant without
# one is the unquantized model in the case's dtype.
W4 = "w4"
W8 = "w8"
WEIGHTS = (W4, W8)


def weights_of(variant: str) -> str:
    """The quantized weights a variant names (``"ctx-w4-L=512"`` -> ``"w4"``); "" for the
    unquantized model or a variant that does not parse."""
    try:
        parts = Variant.parse(variant).parts
    except VariantError:
        return ""
    return next((name for key, name in parts if key is None and name in WEIGHTS), "")


def batch_variant(base: str, batch: int) -> str:
    """One point of a batch sweep: ``batch_variant("", 16) == "batch=16"``,
    ``batch_variant("sdpa-L=1024", 16) == "sdpa-L=1024-batch=16"``."""
    if batch < 1:
        raise VariantError(f"batch must be at least 1, not {batch}")
    return str(Variant.parse(base).with_field(BATCH_KEY, batch))


def variant_batch(variant: str) -> int | None:
    """The batch a variant names (``"batch=16"`` -> 16); None when it names none or does not
    parse."""
    try:
        return Variant.parse(variant).get_int(BATCH_KEY)
    except VariantError:
        return None


def without_batch(variant: str) -> str:
    """The variant with its batch part removed: what a batch sweep's points share."""
    return without_field(variant, BATCH_KEY)


def length_variant(implementation: str, length: int) -> str:
    """One point of a sequence-length sweep: ``length_variant("sdpa", 4096) == "sdpa-L=4096"``.
    ``implementation`` is a variant naming at least one implementation (``sdpa``); a
    ``ValueError`` (``VariantError``) otherwise."""
    base = Variant.parse(implementation)
    if not any(key is None for key, _ in base.parts) or base.get(LENGTH_KEY) is not None:
        raise VariantError(f"{implementation!r} cannot name an implementation in a variant")
    variant = str(base.with_field(LENGTH_KEY, length))
    if parse_length_variant(variant) != (implementation, length):
        raise VariantError(f"{length!r} cannot be a sequence length in a variant")
    return variant


def parse_length_variant(variant: str) -> tuple[str, int] | None:
    """A point of a sequence-length sweep -> (the curve, the length): ``"naive-L=128"`` ->
    ``("naive", 128)``, ``"sdpa-L=1024-batch=16"`` -> ``("sdpa-batch=16", 1024)`` (sdpa at
    batch 16, its own curve). None for a variant that names no length or no implementation,
    or does not parse."""
    try:
        parsed = Variant.parse(variant)
    except VariantError:
        return None
    value = parsed.get(LENGTH_KEY)
    if value is None or not value.isdigit() or len(value) > MAX_LENGTH_DIGITS:
        return None
    curve = parsed.without(LENGTH_KEY)
    if not any(key is None for key, _ in curve.parts):
        return None
    return str(curve), int(value)


def without_field(variant: str, key: str) -> str:
    """The variant with its ``key`` part removed: what the points of a sweep over ``key``
    share; the variant unchanged when it does not parse."""
    try:
        return str(Variant.parse(variant).without(key))
    except VariantError:
        return variant
