"""Opening the bot's database: SQLite in WAL mode under the data dir (the default), or one
schema per account on a PostgreSQL server (`storage.url`); schema version, migrations.

The models are bound through `database_proxy`: its default is the last database opened (tests
and the single-account bot use that); a Repository routes its own threads to its own database,
so several accounts, one SQLite file or PostgreSQL schema each, share a process.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import peewee as pw
from loguru import logger
from playhouse.pool import PooledSqliteDatabase

from storage import migrations
from storage.cluster_database import open_postgres
from storage.errors import StorageError
from storage.models import (
    ALL_MODELS,
    SCHEMA_VERSION,
    Meta,
    OrderRow,
    PositionRow,
    database_proxy,
)

BUSY_TIMEOUT_MS = 10_000
JOURNAL_SIZE_LIMIT = 8 * 2**20
"""Bytes the WAL file is truncated to after a checkpoint resets it (SQLite otherwise keeps the
file at its high-water mark: issue 16 item 18 saw it outgrow the database)."""


READ_CONNECTION_MAX_AGE_S = 300
"""A SQLite connection handed back is reused by the next reader of any thread (opening one
and reading SQLite's schema into it cost ~300 us, three times at every actor's start: 0.45 s
of a 500-symbol cold start) until it is this old (seconds since opened). `Repository.close`
closes them all once its writer has ended (one a read is still using, when that read ends); with
the writer still busy, only the idle ones (the writer keeps its own and may still commit)."""
POOL_SIZE = 8
"""PostgreSQL connections per account: the writer's one plus readers (actor restores, status,
dashboard); more readers wait for a free one (bounded, see cluster_database.open_postgres)."""
MIGRATION_DEADLINE_S = 600.0
"""A migration's statements may each wait this long (others: cluster_database.query_deadline)."""
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def read_only_uri(path: Path) -> str:
    """The SQLite URI that opens the file at `path` read-only (with `uri=True`). The path is
    percent-encoded: SQLite takes `?` and `#` in a URI as its query and fragment and decodes
    `%XX`, so `file:{path}?mode=ro` of a folder named `bot#1` opened another file or none
    (found by review: `bot.py resume`'s check and the paper store's creation time went
    unread there)."""
    return f"file:{quote(str(path))}?mode=ro"


def open_database(path: Path, *, synchronous: str = "full") -> pw.SqliteDatabase:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = PooledSqliteDatabase(
        str(path),
        pragmas={
            "journal_mode": "wal",
            "synchronous": synchronous.upper(),
            "busy_timeout": BUSY_TIMEOUT_MS,
            "foreign_keys": 1,
            "journal_size_limit": JOURNAL_SIZE_LIMIT,
        },
        check_same_thread=False,
        max_connections=None,  # as many as read at once, as before: a reader never waits
        stale_timeout=READ_CONNECTION_MAX_AGE_S,
    )
    database_proxy.initialize(db)
    try:
        db.connect(reuse_if_open=True)
        with database_proxy.using(db):
            _create_or_migrate(db)
    except (pw.DatabaseError, StorageError) as exc:
        # the file is not kept open: an open that is retried in one process (a cluster node's
        # account start with backoff, the workers' dashboard at each request) kept one more
        # connection (its file, -wal, -shm) per failed try (found by review)
        db.close_all()
        if isinstance(exc, StorageError):
            raise StorageError(f"{path}: {exc}") from None
        raise StorageError(f"{path}: cannot open database: {exc}") from exc
    return db


def open_postgres_database(
    url: str, schema: str, *, pool_size: int = POOL_SIZE, network_timeout_s: float = 5.0
) -> pw.Database:
    """An account's storage on PostgreSQL: its own schema (`schema`, created when missing, then
    the tables, or the migrations from an older schema version) on the server at `url`.

    Every connection has `search_path` = the schema, then PostgreSQL's default ("$user",
    public: where the cluster's lease store, which keeps the default, finds its leases table),
    so the models and the hot path's unqualified SQL reach this account's tables only.
    Connections come from a pool (readers take one per read; the writer keeps one)."""
    if not SCHEMA_NAME.fullmatch(schema):
        raise StorageError(f"storage schema {schema!r}: must match {SCHEMA_NAME.pattern}")
    db = open_postgres(url, network_timeout_s=network_timeout_s, max_connections=pool_size,
                       search_path=f'{schema},"$user",public')
    database_proxy.initialize(db)
    where = _redacted(url)
    try:
        with database_proxy.using(db), db.connection_context():
            with db.atomic():
                # one opener at a time per schema (several nodes may start together); the
                # lock ends with this transaction, and PostgreSQL's DDL is transactional
                db.execute_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", (schema,))
                db.execute_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                _create_or_migrate(db, schema)
    except pw.PeeweeException as exc:
        _close_pool(db)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"{where} schema {schema}: cannot open database: {first}") from exc
    except StorageError as exc:
        _close_pool(db)
        raise StorageError(f"{where} schema {schema}: {exc}") from None
    except BaseException:
        _close_pool(db)
        raise
    return db


def _close_pool(db: pw.Database) -> None:
    """A failed open hands its server connections back (found by review: the pool kept them
    until it was collected, one or more per try; a cluster node retrying an account's open, a
    newer schema met during a rolling upgrade, used up the server's max_connections)."""
    try:
        close_all = getattr(db, "close_all", None)
        if callable(close_all):
            close_all()
        else:
            db.close()
    except pw.PeeweeException:
        pass  # already unusable: nothing of ours left to close


def _redacted(url: str) -> str:
    """The URL without a password (it never reaches a log line): none in the user part, and no
    query (libpq takes `?password=...` there too)."""
    parts = urlsplit(url)
    if parts.password is None:
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _create_or_migrate(db: pw.Database, schema: str | None = None) -> None:
    # SQLite: the write lock up front (BEGIN IMMEDIATE, waited for with the busy timeout). A
    # deferred transaction reads first and writes later (the statuses, meta), and a control row
    # `bot.py signal` committed in between made that write fail at once, "database is locked",
    # and the bot's start with it (found by review; a read snapshot is never upgraded)
    sqlite = isinstance(db, pw.SqliteDatabase)
    fresh = not db.table_exists("actor_state", schema)
    with db.atomic("IMMEDIATE") if sqlite else db.atomic():
        if fresh:
            db.create_tables(ALL_MODELS)
            set_meta("schema_version", str(SCHEMA_VERSION))
        else:
            _open_existing(db, schema)
            _normalise_statuses()
        if Meta.get_or_none(Meta.key == "id_tag") is None:
            Meta.insert(key="id_tag", value=secrets.token_hex(2)).execute()


def _open_existing(db: pw.Database, schema: str | None) -> None:
    """An existing database: migrate it if older, else touch no table. `CREATE INDEX IF NOT
    EXISTS` takes a SHARE lock on its table before it finds the index there, so on PostgreSQL
    a new owner opening an account (a takeover) would wait behind any transaction of the old
    owner still open on that table: a stopped zombie's, for as long as it stays stopped."""
    existing = set(db.get_tables(schema=schema))
    if Meta._meta.table_name not in existing:
        db.create_tables([Meta])
    version = schema_version(db)
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"database schema version {version} is newer than this bot ({SCHEMA_VERSION})"
        )
    if version < SCHEMA_VERSION:
        longer = getattr(db, "deadline", None)  # PostgreSQL: a call's wait is bounded
        with longer(MIGRATION_DEADLINE_S) if longer is not None else contextlib.nullcontext():
            migrations.upgrade(db, version, SCHEMA_VERSION, schema)
        db.create_tables(ALL_MODELS, safe=True)
        set_meta("schema_version", str(SCHEMA_VERSION))
        return
    missing = [m for m in ALL_MODELS if m._meta.table_name not in existing]
    if missing:  # a table of this version lost by hand: recreate it alone
        db.create_tables(missing)


def _normalise_statuses() -> None:
    """Statuses as we write them (lower case, no spaces). Restore finds a symbol's open
    position and live orders through the (symbol, status) index, which matches the spellings
    older versions wrote (storage/restore_selects.py `spellings`) but not a hand-edited 'oPEN' or
    ' open': found by review, such a position was adopted again from the exchange under a new
    id (P&L and fees reset) and its row left open for ever. One pass over each table at open;
    it changes no row written by this version."""
    for model in (PositionRow, OrderRow):
        column = model.status
        clean = pw.fn.LOWER(pw.fn.TRIM(column))
        changed = model.update(status=clean).where(column != clean).execute()
        if changed:
            logger.warning("storage: {} row(s) of {} had their status spelled unusually; "
                           "now lower case", changed, model._meta.table_name)


def set_meta(key: str, value: str) -> None:
    """Insert or overwrite a meta row (ON CONFLICT: peewee's replace() is SQLite-only)."""
    Meta.insert(key=key, value=value).on_conflict(
        conflict_target=[Meta.key], update={Meta.value: value}
    ).execute()


def schema_version(db: pw.Database) -> int:
    """The database's schema version (1 when the row is missing: the first schema had none).
    A value that is not a whole number refuses the start, naming the row, rather than a
    guess that would migrate or refuse the wrong way."""
    row = Meta.get_or_none(Meta.key == "schema_version")
    if row is None:
        return 1
    try:
        return int(str(row.value).strip())
    except ValueError:
        raise StorageError(f"meta.schema_version = {row.value!r} is not a whole number; "
                           f"this bot writes {SCHEMA_VERSION}") from None
