"""The run's own ``accelbench`` block, read once into a ``RunBlock``.

The plugin writes the block at the end of a run (``pytest_benchmark_update_json``): the
results format, whether the run is partial, its configuration, the facts of its
environment, the conditions it ran under and the summary sections computed from its cases.
``RunBlock.read`` checks what decides whether the run can be read at all (an object, a
format this version reads, a true-or-false partial mark) and refuses a bad one in one line;
the facts it only shows (configuration, environment, conditions) are kept where they have
their type and left out where not, as the report always did, so an odd fact never costs a
whole run. Runs saved before a part existed read without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from accelbench.core.saved_form import Unusable

RESULTS_FORMAT = 2  # the format this version writes; it reads 1 up to this
INTERRUPTED = "interrupted"  # the reason of a partial run that saved none


def _object(value: Any) -> Mapping[str, Any]:
    return MappingProxyType(value) if isinstance(value, dict) else MappingProxyType({})


def _number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


@dataclass(frozen=True)
class RunConfig:
    """The options the run was started with."""

    size: str = ""
    dtype: str = ""
    devices: tuple[str, ...] = ()
    frameworks: tuple[str, ...] = ()

    @classmethod
    def read(cls, raw: Any) -> RunConfig:
        saved = _object(raw)
        return cls(
            size=str(saved.get("size") or ""),
            dtype=str(saved.get("dtype") or ""),
            devices=_strings(saved.get("devices")),
            frameworks=_strings(saved.get("frameworks")),
        )


@dataclass(frozen=True)
class RunConditions:
    """How the machine was during the run (``core.conditions.RunWatch.summary``).

    ``warnings``: one line per condition flag raised, None where the run saved none (then
    the cases' own flags tell). ``cores``: as saved, for the text around it."""

    warnings: tuple[str, ...] | None = None
    busy_rule: str | None = None
    cores: Any = None
    others_cores_max: float | None = None
    load_average_1min: float | None = None
    cooldown_s: float | None = None

    @classmethod
    def read(cls, raw: Any) -> RunConditions | None:
        if not isinstance(raw, dict):
            return None
        warnings = raw.get("warnings")
        busy_rule = raw.get("busy_rule")
        return cls(
            warnings=tuple(str(w) for w in warnings) if isinstance(warnings, list) else None,
            busy_rule=busy_rule if isinstance(busy_rule, str) else None,
            cores=raw.get("cores"),
            others_cores_max=_number(raw.get("others_cores_max")),
            load_average_1min=_number(_object(raw.get("load_average_before")).get("1min")),
            cooldown_s=_number(raw.get("cooldown_s")),
        )


@dataclass(frozen=True)
class RunBlock:
    """What a saved run says of itself. ``partial_reason``: None for a complete run.
    ``sections``: the summary sections as saved, by key, their rows the objects among them
    (the read side recomputes the sections it knows from the records; a newer suite's are
    shown as saved)."""

    format: int = 1
    partial_reason: str | None = None
    config: RunConfig = field(default_factory=RunConfig)
    environment: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    conditions: RunConditions | None = None
    sections: Mapping[str, tuple[Mapping[str, Any], ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @property
    def partial(self) -> bool:
        return self.partial_reason is not None

    @property
    def device_facts(self) -> Mapping[str, Mapping[str, Any]]:
        """Per device name, as probed for the run: ``usable``, ``label``, ``reason``."""
        devices = _object(_object(self.environment.get("torch")).get("devices"))
        return MappingProxyType({name: _object(facts) for name, facts in devices.items()})

    @classmethod
    def read(cls, raw: Any) -> RunBlock:
        """The block as saved (``{}`` for a run without one); ``Unusable`` with one line when
        it cannot be read."""
        if not isinstance(raw, dict):
            raise Unusable("its 'accelbench' block is not an object: not a saved run")
        return cls(
            format=_format(raw.get("format", 1)),
            partial_reason=_partial_reason(raw),
            config=RunConfig.read(raw.get("config")),
            environment=_object(raw.get("environment")),
            conditions=RunConditions.read(raw.get("conditions")),
            sections=MappingProxyType(
                {
                    key: tuple(MappingProxyType(r) for r in rows if isinstance(r, dict))
                    for key, rows in raw.items()
                    if isinstance(rows, list)
                }
            ),
        )


def _format(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise Unusable(f"its results format {version!r} is not a version number")
    if version > RESULTS_FORMAT:
        raise Unusable(
            f"saved by a newer accelbench (results format {version}); this version "
            f"reads formats 1 to {RESULTS_FORMAT}: update accelbench to read it"
        )
    return version


def _partial_reason(raw: Mapping[str, Any]) -> str | None:
    partial = raw.get("partial", False)
    if not isinstance(partial, bool):
        raise Unusable(f"its 'partial' mark is {partial!r}, not true or false")
    reason = raw.get("partial_reason")
    return (str(reason) if reason else INTERRUPTED) if partial else None
