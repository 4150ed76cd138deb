"""The raw connection the commit hot path writes through, for either engine.

storage/commit_sql.py and storage/grid_store.py keep one text per statement, written with `?`
parameters and SQL both engines accept (ON CONFLICT ... DO UPDATE: SQLite >= 3.24 and
PostgreSQL). On SQLite the statements run on the writer's own sqlite3 connection, untouched (its
statement cache keeps the hot path at its measured speed). On PostgreSQL `PgConn` gives the
psycopg 3 connection the same two calls and rewrites `?` to `%s` once per statement text;
psycopg prepares a statement on the server after a few executions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import peewee as pw


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...


class SqlConn(Protocol):
    """What the hot path needs of a connection (sqlite3.Connection has exactly this)."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...


_VALUES = re.compile(r"(INSERT INTO .+ VALUES\s*)(\((?:\?,\s*)*\?\))", re.DOTALL)
"""An INSERT of one row of `?` parameters: its head and its values group."""
_MAX_ROWS = 1000
"""Rows per multi-row INSERT (PostgreSQL takes at most 65,535 parameters a statement)."""


class PgConn:
    """A psycopg 3 connection seen through the sqlite3 calls the hot path uses."""

    __slots__ = ("_conn",)
    _texts: dict[str, str] = {}
    """`?` text -> `%s` text (and `rows:text` -> its multi-row text); the statements are a fixed
    set of constants and a decision writes a handful of rows, so this stays small."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @classmethod
    def _pg(cls, sql: str) -> str:
        text = cls._texts.get(sql)
        if text is None:
            # no statement of ours has a literal `?` or `%`; refuse one that would be mangled
            if "%" in sql:
                raise ValueError(f"statement has a literal %: {sql[:60]}")
            text = cls._texts[sql] = sql.replace("?", "%s")
        return text

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Any:
        return self._conn.execute(self._pg(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any:
        """Each row of `sql` in one statement: an `INSERT ... VALUES (?,...)` becomes a single
        multi-row INSERT (one Parse/Bind/Execute/Sync), anything else runs row by row.

        Not psycopg's `executemany`: it runs in pipeline mode, sending statement after statement
        and the Sync last, and until its Sync the server counts the session as active. A process
        stopped in between (SIGSTOP, a frozen VM) left its transaction's row locks held for good:
        idle_in_transaction_session_timeout is armed only at a Sync. Seen in the zombie cluster
        test: the node that took the account over waited behind the stopped node's actor_state
        row on every start (10 s each) until the test gave up."""
        cur = self._conn.cursor()
        rows = list(rows)
        many = _VALUES.fullmatch(sql)
        if many is None:
            for row in rows:
                cur.execute(self._pg(sql), row)
            return cur
        for start in range(0, len(rows), _MAX_ROWS):
            chunk = rows[start:start + _MAX_ROWS]
            cur.execute(self._many(sql, many, len(chunk)), [v for row in chunk for v in row])
        return cur

    @classmethod
    def _many(cls, sql: str, many: re.Match[str], count: int) -> str:
        key = f"{count}:{sql}"
        text = cls._texts.get(key)
        if text is None:
            head, group = many.group(1), many.group(2)
            text = cls._texts[key] = cls._pg(head + ",".join([group] * count))
        return text


def is_postgres(db: Any) -> bool:
    return isinstance(db, pw.PostgresqlDatabase)


def raw_connection(db: pw.Database) -> SqlConn:
    """This thread's connection of `db` (opened if needed) as the hot path uses it."""
    conn = db.connection()
    return PgConn(conn) if is_postgres(db) else conn
