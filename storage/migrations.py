"""Schema migrations, one function per version step. Old rows are upgraded in place.

Version 1 (the first release) had no `orders.replaces`, no `actor_state.restarts`, and wrote
enum values in upper case (`WAITING`, `OPEN`). Version 2 adds the columns and lower-cases the
enums; the repository still reads any casing in case a row slipped through. Version 3 adds an
index on the journal, version 4 a one-way symbol's owed fees (`actor_state.fees_owed`), version 5
an index on `escalations.resolved_at`, version 6 the recent trades' indexes on `positions`,
version 7 a one-way order's cancel mark (`orders.cancel_requested_at`). The same
steps run on PostgreSQL (peewee's migrator for the engine; the tables are found in the
account's schema).
"""

from __future__ import annotations

from collections.abc import Callable

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate

from storage.errors import StorageError
from storage.models import TRADES_ORDER, Seconds

ENUM_COLUMNS = {
    "actor_state": ["phase"],
    "positions": ["side", "status"],
    "trailing_stops": ["state"],
    "orders": ["purpose", "status", "side"],
}


def _v1_to_v2(db: pw.Database, schema: str | None) -> None:
    migrator = SchemaMigrator.from_database(db)
    ops = []
    if "replaces" not in _columns(db, "orders", schema):
        ops.append(migrator.add_column("orders", "replaces", pw.CharField(null=True)))
    if "restarts" not in _columns(db, "actor_state", schema):
        ops.append(migrator.add_column("actor_state", "restarts", pw.IntegerField(default=0)))
    if ops:
        migrate(*ops)
    for table, columns in ENUM_COLUMNS.items():
        if not db.table_exists(table, schema):
            continue
        for column in columns:
            db.execute_sql(f'UPDATE "{table}" SET "{column}" = lower("{column}")')


def _columns(db: pw.Database, table: str, schema: str | None) -> set[str]:
    if not db.table_exists(table, schema):
        return set()
    return {c.name for c in db.get_columns(table, schema)}


def _v2_to_v3(db: pw.Database, schema: str | None) -> None:
    """The journal's (symbol, type, id) index: every actor start looks up the symbol's signal
    records (Repository.unhandled_signals), which read its whole journal with the symbol index
    alone (1,000,000 rows: 0.4 s a symbol)."""
    if not db.table_exists("events", schema):
        return
    if any(i.columns == ["symbol", "type", "id"] for i in db.get_indexes("events", schema)):
        return
    migrate(SchemaMigrator.from_database(db).add_index("events", ("symbol", "type", "id")))


def _v3_to_v4(db: pw.Database, schema: str | None) -> None:
    """`actor_state.fees_owed`: the orders that ended with their fee unknown, looked up again
    for it (trading/late_fees.py). NULL in the rows written before it: none owed."""
    if not db.table_exists("actor_state", schema):
        return
    if "fees_owed" in _columns(db, "actor_state", schema):
        return
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column("actor_state", "fees_owed", pw.TextField(null=True)))


def _v4_to_v5(db: pw.Database, schema: str | None) -> None:
    """The index on `escalations.resolved_at`: every status round (each account, every
    bot.status_interval_s) reads the open escalations, which scanned the whole table (never
    pruned: 100,000 rows 29 ms, 1,000,000 rows 217 ms a round on SQLite; indexed, 0.1 ms)."""
    if not db.table_exists("escalations", schema):
        return
    if any(i.columns == ["resolved_at"] for i in db.get_indexes("escalations", schema)):
        return
    migrate(SchemaMigrator.from_database(db).add_index("escalations", ("resolved_at",)))


def _v5_to_v6(db: pw.Database, schema: str | None) -> None:
    """The indexes of the recent trades (the dashboard's, every 5 s per open page): the
    account's newest closed positions, and one symbol's, read in index order. Without them
    each page read and sorted every position (300,000 rows: 112 ms a read on SQLite; indexed,
    about 1 ms)."""
    if not db.table_exists("positions", schema):
        return
    have = [i.columns for i in db.get_indexes("positions", schema)]
    migrator = SchemaMigrator.from_database(db)
    ops = [migrator.add_index("positions", columns) for columns in
           (TRADES_ORDER, ("symbol", *TRADES_ORDER)) if list(columns) not in have]
    if ops:
        migrate(*ops)


def _v6_to_v7(db: pw.Database, schema: str | None) -> None:
    """`orders.cancel_requested_at`: when a one-way order's cancel was asked for (the grid keeps
    it in its document). Without it a stop being cancelled read as protection again after a
    restart, until the next reconciliation. NULL in the rows written before it: not asked."""
    if not db.table_exists("orders", schema):
        return
    if "cancel_requested_at" in _columns(db, "orders", schema):
        return
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column("orders", "cancel_requested_at", Seconds(null=True)))


STEPS: dict[int, Callable[[pw.Database, str | None], None]] = {
    1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4, 4: _v4_to_v5, 5: _v5_to_v6, 6: _v6_to_v7}


def upgrade(db: pw.Database, current: int, target: int, schema: str | None = None) -> None:
    """Run the steps from `current` to `target` on SQLite or PostgreSQL (`schema`: the
    account's schema there, whose name peewee's catalogue queries need; None on SQLite).

    The caller runs them in the opening transaction, so a step that fails leaves the database
    as it was: that is said in one line naming the step (StorageError). Found by review: it
    read "cannot open database: <the SQL error>", as if the file were damaged (a view of the
    operator's on a table a step rebuilds failed SQLite's rebuild, for one)."""
    for version in range(current, target):
        try:
            STEPS[version](db, schema)
        except Exception as exc:  # noqa: BLE001 - the peewee migrator's own errors too
            first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
            raise StorageError(
                f"schema migration {version} -> {version + 1} failed ({first}); the database "
                f"is left as it was, at schema version {current} (this bot needs {target})"
            ) from exc
