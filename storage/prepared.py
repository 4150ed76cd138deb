"""Selects whose SQL text is built once per kind of database, then run with new values.

Peewee builds a query's SQL anew every time it runs: 150-270 us of Python for one of the
restore's selects, against 6-9 us for SQLite to answer it (measured on this project's
database). A cold start runs about ten of them per symbol, from every actor thread at once
under one interpreter lock: at 500 symbols the SQL building was most of the start. A
`Prepared` select builds its text once per database class (SQLite and PostgreSQL spell
parameters differently) and reads its rows into model instances with the field converters
peewee's model cursor (`Model.raw`) would use, worked out from the first answer's columns and
kept (peewee works them out again on every run: another ~100 us a select).

The value slots are found by building the select twice with two different sets of example
values and comparing the parameters: a parameter that differs is a value; its position and
which value it is are kept. Only values that reach the parameters unchanged (text, whole
numbers) can be slots; anything else fails on the first run, naming the select.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import peewee as pw

from storage.models import database_proxy

_FIRST = ("\x00prepared-a-{}\x00", 7_919_000_001)
_SECOND = ("\x00prepared-b-{}\x00", 7_919_000_101)


def _examples(kinds: Sequence[type], which: tuple[str, int]) -> tuple[Any, ...]:
    text, number = which
    return tuple(text.format(i) if kind is str else number + i for i, kind in enumerate(kinds))


class Prepared:
    """`model.select(*fields).where(where(*values))`, then `shape` (order, limit); `kinds` are
    the values' types, `str` or `int`. Calling it runs the select with `values` on the database
    the calling thread is routed to and returns the model instances. `where` is kept for the
    callers' error paths (storage/restore.py `utf8_rows` names a row it selects)."""

    def __init__(self, name: str, model: Any, kinds: Sequence[type],
                 where: Callable[..., Any], *, fields: Sequence[Any] = (),
                 shape: Callable[[Any], Any] = lambda query: query) -> None:
        if any(kind not in (str, int) for kind in kinds):
            raise TypeError(f"prepared select {name}: values must be str or int, not {kinds}")
        self.name, self.model, self.kinds, self.where = name, model, tuple(kinds), where
        self.build = lambda *values: shape(model.select(*fields).where(where(*values)))
        self._lock = threading.Lock()
        self._by_database: dict[type, tuple[str, list[Any], list[tuple[int, int]]]] = {}
        self._rows: dict[type, tuple[list[str], list[int], list[int], list[Any]]] = {}

    def __call__(self, *values: Any) -> list[Any]:
        db = database_proxy.obj
        if db is None:
            raise pw.InterfaceError(f"prepared select {self.name}: no database is open")
        entry = self._by_database.get(type(db))
        if entry is None:
            entry = self._prepare(db)
        sql, params, slots = entry
        run = list(params)
        for position, index in slots:
            run[position] = values[index]
        cursor = db.execute_sql(sql, run)
        rows = self._rows.get(type(db))
        if rows is None:
            rows = self._read_rows(cursor)
            with self._lock:
                self._rows[type(db)] = rows
        columns, plain, converted, converters = rows
        model, out = self.model, []
        for row in cursor.fetchall():
            data = {columns[i]: row[i] for i in plain}
            for i in converted:
                data[columns[i]] = converters[i](row[i])
            instance = model(__no_default__=1, **data)  # as peewee's model cursor makes them
            instance._dirty.clear()
            out.append(instance)
        return out

    def _read_rows(self, cursor: Any) -> tuple[list[str], list[int], list[int], list[Any]]:
        """Which column is which field and which converter reads it: what peewee's model
        cursor (`Model.raw`) works out from the columns on every run, worked out once (the
        columns of a fixed SQL text do not change)."""
        reader = pw.ModelObjectCursorWrapper(cursor, self.model, [], self.model)
        reader.initialize()
        return (list(reader.unique_columns), list(reader.no_convert), list(reader.convert),
                list(reader.converters))

    def _prepare(self, db: pw.Database) -> tuple[str, list[Any], list[tuple[int, int]]]:
        first, second = _examples(self.kinds, _FIRST), _examples(self.kinds, _SECOND)
        sql_a, params_a = db.get_sql_context().sql(self.build(*first)).query()
        sql_b, params_b = db.get_sql_context().sql(self.build(*second)).query()
        if sql_a != sql_b or len(params_a) != len(params_b):
            raise TypeError(f"prepared select {self.name}: its SQL depends on the values")
        slots: list[tuple[int, int]] = []
        for position, (a, b) in enumerate(zip(params_a, params_b, strict=True)):
            if a == b:
                continue
            if a not in first or b != second[first.index(a)]:
                raise TypeError(f"prepared select {self.name}: parameter {position} ({a!r}) is "
                                "a converted value, not one of the values")
            slots.append((position, first.index(a)))
        if sorted({index for _, index in slots}) != list(range(len(self.kinds))):
            raise TypeError(f"prepared select {self.name}: a value reaches no parameter")
        entry = (sql_a, list(params_a), slots)
        with self._lock:
            self._by_database[type(db)] = entry
        return entry
