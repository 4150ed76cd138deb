"""Opening the bot's database: SQLite in WAL mode under the data dir, schema version, migrations.

The models are bound through `database_proxy`: its default is the last database opened (tests
and the single-account bot use that); a Repository routes its own threads to its own file, so
several accounts, one SQLite file each, share a process.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import peewee as pw

from storage import migrations
from storage.models import ALL_MODELS, SCHEMA_VERSION, Meta, database_proxy

BUSY_TIMEOUT_MS = 10_000
JOURNAL_SIZE_LIMIT = 8 * 2**20
"""Bytes the WAL file is truncated to after a checkpoint resets it (SQLite otherwise keeps the
file at its high-water mark: issue 16 item 18 saw it outgrow the database)."""


class StorageError(Exception):
    """The database cannot be opened or migrated; the message names the file and the cause."""


def open_database(path: Path, *, synchronous: str = "full") -> pw.SqliteDatabase:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = pw.SqliteDatabase(
        str(path),
        pragmas={
            "journal_mode": "wal",
            "synchronous": synchronous.upper(),
            "busy_timeout": BUSY_TIMEOUT_MS,
            "foreign_keys": 1,
            "journal_size_limit": JOURNAL_SIZE_LIMIT,
        },
        check_same_thread=False,
    )
    database_proxy.initialize(db)
    try:
        db.connect(reuse_if_open=True)
        with database_proxy.using(db):
            _create_or_migrate(db)
    except pw.DatabaseError as exc:
        raise StorageError(f"{path}: cannot open database: {exc}") from exc
    return db


def _create_or_migrate(db: pw.SqliteDatabase) -> None:
    fresh = not db.table_exists("actor_state")
    with db.atomic():
        if fresh:
            db.create_tables(ALL_MODELS)
            Meta.replace(key="schema_version", value=str(SCHEMA_VERSION)).execute()
        else:
            db.create_tables([Meta], safe=True)
            version = schema_version(db)
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"database schema version {version} is newer than this bot ({SCHEMA_VERSION})"
                )
            migrations.upgrade(db, version, SCHEMA_VERSION)
            db.create_tables(ALL_MODELS, safe=True)
            Meta.replace(key="schema_version", value=str(SCHEMA_VERSION)).execute()
        if Meta.get_or_none(Meta.key == "id_tag") is None:
            Meta.insert(key="id_tag", value=secrets.token_hex(2)).execute()


def schema_version(db: pw.SqliteDatabase) -> int:
    row = Meta.get_or_none(Meta.key == "schema_version")
    return int(row.value) if row else 1
