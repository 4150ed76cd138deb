"""Journal events as typed records: what happened, named in the past tense, with its fields.

Storage keeps a journal row as `type` + JSON `data`. Every record has that surface (`.type`,
`.data`, `to_row()`), with the type strings and data keys the free-string journal used before,
so rows, readers and tests stay valid. Where the two styles recorded the same type with
different fields (`StopPlaced` of a position vs of a hedge leg), there are two records with one
type string; `decode` tells them apart by their keys. Reading rows back never fails: an unknown
or unreadable row becomes an `UnknownRecord` holding the row as it was.

The records themselves are in trading/journal_events.py (one-way and shared) and
trading/grid/journal_events.py (hedge legs).
"""

from __future__ import annotations

import typing
from dataclasses import MISSING, dataclass, fields
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from trading.orders import parse_purpose
from trading.primitives import Side, decimal_text, parse_enum


class JournalItem(Protocol):
    """What storage and the actors read of a journal entry, typed or plain."""

    @property
    def type(self) -> str: ...

    @property
    def data(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalRecord:
    """Base of every typed journal record. `TYPE` overrides the type string (default: the
    class name) where two records share one."""

    TYPE: ClassVar[str] = ""
    OMIT_WHEN_ZERO: ClassVar[frozenset[str]] = frozenset()
    """Fields added to a record later, left out of its data while 0 (the record as it always
    was, e.g. PositionClosed's `fees_not_told`)."""

    @property
    def type(self) -> str:
        return self.TYPE or type(self).__name__

    @property
    def data(self) -> dict[str, Any]:
        data = {f.name: plain(getattr(self, f.name)) for f in fields(self)}
        for name in self.OMIT_WHEN_ZERO:  # empty for nearly every record
            if not getattr(self, name):
                del data[name]
        return data

    def to_row(self) -> tuple[str, dict[str, Any]]:
        return self.type, self.data


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownRecord(JournalRecord):
    """A row whose type no record knows (legacy, or written outside the cores), or whose data
    does not fit its record: kept as it was."""

    row_type: str
    row_data: dict[str, Any]

    @property
    def type(self) -> str:
        return self.row_type

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.row_data)


def plain(value: Any) -> Any:
    """A field value as JSON keeps it: Decimal as its plain digits (never "0E-8"), an enum as
    its value."""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, StrEnum):
        return value.value
    return value


def _registry() -> dict[str, list[type[JournalRecord]]]:
    out: dict[str, list[type[JournalRecord]]] = {}
    todo = list(JournalRecord.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        # dataclass(slots=True) replaces each class; the replaced one may linger as a subclass
        if cls is not UnknownRecord and "__slots__" in cls.__dict__:
            found = out.setdefault(cls.TYPE or cls.__name__, [])
            if cls not in found:
                found.append(cls)
    return out


def decode(type_: str, data: Any) -> JournalRecord:
    """A stored row back as its typed record; `UnknownRecord` when no record fits."""
    import trading.grid.journal_events
    import trading.journal_events  # noqa: F401 - registers the position records

    row = dict(data) if isinstance(data, dict) else {"value": data}
    for cls in _registry().get(type_, []):
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING}
        if not required <= set(row) <= names:
            continue  # a field with a default was added later: rows written before lack it
        try:
            return cls(**{name: _parse(cls, name, row[name]) for name in row})
        except (ValueError, TypeError, InvalidOperation, ArithmeticError):
            break
    return UnknownRecord(row_type=type_, row_data=row)


def _parse(cls: type[JournalRecord], name: str, value: Any) -> Any:
    hint = str(typing.get_type_hints(cls)[name])
    if value is None:
        if "None" not in hint:
            raise ValueError(f"{name} may not be null")
        return None
    if "Decimal" in hint:
        number = Decimal(str(value))
        if not number.is_finite():
            raise ValueError(f"{name} is not finite")
        return number
    if "Side" in hint:
        return parse_enum(Side, value)
    if "OrderPurpose" in hint:
        return parse_purpose(value)
    return value


__all__ = ["JournalItem", "JournalRecord", "UnknownRecord", "decode", "plain"]
