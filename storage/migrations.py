"""Schema migrations, one function per version step. Old rows are upgraded in place.

Version 1 (the first release) had no `orders.replaces`, no `actor_state.restarts`, and wrote
enum values in upper case (`WAITING`, `OPEN`). Version 2 adds the columns and lower-cases the
enums; the repository still reads any casing in case a row slipped through.
"""

from __future__ import annotations

from collections.abc import Callable

import peewee as pw
from playhouse.migrate import SqliteMigrator, migrate

ENUM_COLUMNS = {
    "actor_state": ["phase"],
    "positions": ["side", "status"],
    "trailing_stops": ["state"],
    "orders": ["purpose", "status", "side"],
}


def _v1_to_v2(db: pw.SqliteDatabase) -> None:
    migrator = SqliteMigrator(db)
    ops = []
    if "replaces" not in _columns(db, "orders"):
        ops.append(migrator.add_column("orders", "replaces", pw.CharField(null=True)))
    if "restarts" not in _columns(db, "actor_state"):
        ops.append(migrator.add_column("actor_state", "restarts", pw.IntegerField(default=0)))
    if ops:
        migrate(*ops)
    for table, columns in ENUM_COLUMNS.items():
        if not db.table_exists(table):
            continue
        for column in columns:
            db.execute_sql(f'UPDATE "{table}" SET "{column}" = lower("{column}")')


def _columns(db: pw.SqliteDatabase, table: str) -> set[str]:
    return {c.name for c in db.get_columns(table)} if db.table_exists(table) else set()


STEPS: dict[int, Callable[[pw.SqliteDatabase], None]] = {1: _v1_to_v2}


def upgrade(db: pw.SqliteDatabase, current: int, target: int) -> None:
    for version in range(current, target):
        STEPS[version](db)
