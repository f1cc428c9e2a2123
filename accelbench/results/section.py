"""A summary section: one object that computes its typed rows from records, words them as a
terminal table, picks and words its headline lines, and says how the report shows it.

A section's rows are frozen dataclasses (``Row``). Their saved form, the rows of the run's
``accelbench.<key>`` block, is derived from the dataclass fields and read back by the same
class (``as_saved`` and ``from_saved`` side by side), so writer and reader cannot drift.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from accelbench.core.spec import CaseSpec
from accelbench.results.record import Record


@dataclass(frozen=True)
class Row:
    """One row of a section. Its saved form is the case's identity fields, then the row's own
    fields in declared order. Identity fields the row declares itself (``device``, where the
    saved row names it later) are left at their defaults in ``key``; ``DROPPED`` identity
    fields are not saved at all (the language model's rows leave out their workload)."""

    DROPPED: ClassVar[tuple[str, ...]] = ()

    key: CaseSpec

    @classmethod
    def own_fields(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name != "key"]

    def as_saved(self) -> dict[str, Any]:
        own = self.own_fields()
        left_out = {*own, *self.DROPPED}
        saved = {k: v for k, v in self.key.as_dict().items() if k not in left_out}
        saved.update((name, _saved(getattr(self, name))) for name in own)
        return saved

    @classmethod
    def from_saved(cls, saved: Mapping[str, Any], **given: Any) -> Any:
        """The row ``as_saved`` wrote; ``given``: own fields a subclass reads itself."""
        own = cls.own_fields()
        fields = dataclasses.fields(CaseSpec)
        blank = {f.name: "" for f in fields if f.default is dataclasses.MISSING}
        identity = {f.name for f in fields} - {*own, *cls.DROPPED}
        key = CaseSpec(**{**blank, **{name: saved[name] for name in identity if name in saved}})
        read = {name: _loaded(saved[name]) for name in own if name not in given}
        return cls(key, **read, **given)


def _saved(value: Any) -> Any:
    """A row's value as JSON holds it: tuples as lists."""
    return [_saved(v) for v in value] if isinstance(value, tuple) else value


def _loaded(value: Any) -> Any:
    """A saved value as a frozen row holds it: lists as tuples."""
    return tuple(_loaded(v) for v in value) if isinstance(value, list) else value


R = TypeVar("R", bound=Row)


@dataclass(frozen=True)
class Section(Generic[R]):
    """One summary view, saved under ``accelbench.<key>``.

    ``compute``: records -> rows. ``text``: the rows as the summary's table ("" for none).
    ``headline`` (optional): the lines this section adds at the top of the summary, from its
    rows ([] for none). ``report_text``: whether the report repeats the table under "Other
    summary sections"; False where the report draws the section its own way.
    """

    key: str
    row: type[R]
    compute: Callable[[list[Record]], list[R]]
    text: Callable[[list[R]], str]
    headline: Callable[[list[R]], list[str]] | None = None
    report_text: bool = True

    def rows(self, records: Iterable[Record]) -> list[R]:
        return self.compute(list(records))

    def saved(self, rows: list[R]) -> list[dict[str, Any]]:
        return [row.as_saved() for row in rows]

    def load(self, saved: list[Mapping[str, Any]]) -> list[R]:
        return [self.row.from_saved(row) for row in saved]

    def headline_lines(self, rows: list[R]) -> list[str]:
        return self.headline(rows) if self.headline and rows else []
