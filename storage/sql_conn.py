"""The raw connection the commit hot path writes through, for either engine.

storage/commit_sql.py and storage/grid_store.py keep one text per statement, written with `?`
parameters and SQL both engines accept (ON CONFLICT ... DO UPDATE: SQLite >= 3.24 and
PostgreSQL). On SQLite the statements run on the writer's own sqlite3 connection, untouched (its
statement cache keeps the hot path at its measured speed). On PostgreSQL `PgConn` gives the
psycopg 3 connection the same two calls and rewrites `?` to `%s` once per statement text;
psycopg prepares a statement on the server after a few executions.
"""

from __future__ import annotations

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


class PgConn:
    """A psycopg 3 connection seen through the sqlite3 calls the hot path uses."""

    __slots__ = ("_conn",)
    _texts: dict[str, str] = {}
    """`?` text -> `%s` text; the statements are a fixed set of constants, so this stays small."""

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
        cur = self._conn.cursor()
        cur.executemany(self._pg(sql), list(rows))
        return cur


def is_postgres(db: Any) -> bool:
    return isinstance(db, pw.PostgresqlDatabase)


def raw_connection(db: pw.Database) -> SqlConn:
    """This thread's connection of `db` (opened if needed) as the hot path uses it."""
    conn = db.connection()
    return PgConn(conn) if is_postgres(db) else conn
