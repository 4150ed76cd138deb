"""The paper exchange store's SQLite schema: tables, additive migrations, the position-mode
switch, and the row codecs (Decimals as TEXT, booleans as INTEGER) its queries use.

`exchange.paper.store` re-exports the names other code imports from there.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from exchange.paper.wal import JOURNAL_SIZE_LIMIT

SCHEMA_VERSION = 1
ONE_WAY, HEDGE = "one-way", "hedge"


class PositionModeMismatch(RuntimeError):
    """The store holds positions or open orders of the other position mode."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS balance (currency TEXT PRIMARY KEY, wallet TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    symbol TEXT NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL, entry TEXT NOT NULL,
    updated_ms INTEGER NOT NULL, PRIMARY KEY (symbol, side));
CREATE TABLE IF NOT EXISTS orders (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, client_order_id TEXT,
    symbol TEXT NOT NULL, type TEXT NOT NULL, side TEXT NOT NULL, amount TEXT NOT NULL,
    price TEXT, reduce_only INTEGER NOT NULL, created_ms INTEGER NOT NULL,
    trigger_price TEXT, trigger_direction TEXT, stop_loss_price TEXT,
    status TEXT NOT NULL, filled TEXT NOT NULL, cost TEXT NOT NULL, fee TEXT NOT NULL,
    reserved TEXT NOT NULL, triggered INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    last_trade_ms INTEGER, position_side TEXT NOT NULL DEFAULT 'net');
CREATE UNIQUE INDEX IF NOT EXISTS orders_client_id ON orders (client_order_id)
    WHERE client_order_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS orders_symbol_status ON orders (symbol, status);
CREATE TABLE IF NOT EXISTS trades (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, order_id TEXT NOT NULL,
    client_order_id TEXT, symbol TEXT NOT NULL, side TEXT NOT NULL, price TEXT NOT NULL,
    amount TEXT NOT NULL, cost TEXT NOT NULL, fee TEXT NOT NULL, realized_pnl TEXT NOT NULL,
    taker_or_maker TEXT NOT NULL, reduce_only INTEGER NOT NULL, ts INTEGER NOT NULL,
    position_side TEXT NOT NULL DEFAULT 'net');
CREATE INDEX IF NOT EXISTS trades_symbol_ts ON trades (symbol, ts);
CREATE TABLE IF NOT EXISTS submissions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, client_order_id TEXT,
    symbol TEXT, type TEXT, side TEXT, amount TEXT, price TEXT, params TEXT NOT NULL,
    outcome TEXT NOT NULL, order_id TEXT, error TEXT, position_side TEXT);
CREATE INDEX IF NOT EXISTS submissions_client_id ON submissions (client_order_id);
CREATE TABLE IF NOT EXISTS prices (
    symbol TEXT PRIMARY KEY, last_ms INTEGER NOT NULL, price TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS markets (symbol TEXT PRIMARY KEY, initial_price TEXT NOT NULL);
"""
# Columns added later within schema 1 (additive, with defaults, so older code still reads the
# file); `initialise` adds any a file lacks.
MIGRATIONS = [
    ("orders", "position_side", "TEXT NOT NULL DEFAULT 'net'"),
    ("trades", "position_side", "TEXT NOT NULL DEFAULT 'net'"),
    ("submissions", "position_side", "TEXT"),
]

ORDER_COLUMNS = [
    "seq", "id", "client_order_id", "symbol", "type", "side", "amount", "price", "reduce_only",
    "created_ms", "trigger_price", "trigger_direction", "stop_loss_price", "status", "filled",
    "cost", "fee", "reserved", "triggered", "updated_ms", "last_trade_ms", "position_side",
]
TRADE_COLUMNS = [
    "seq", "id", "order_id", "client_order_id", "symbol", "side", "price", "amount", "cost",
    "fee", "realized_pnl", "taker_or_maker", "reduce_only", "ts", "position_side",
]
DECIMAL_FIELDS = {
    "amount", "price", "trigger_price", "stop_loss_price", "filled", "cost", "fee", "reserved",
    "realized_pnl", "qty", "entry",
}
BOOL_FIELDS = {"reduce_only", "triggered"}



def to_db(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in DECIMAL_FIELDS:
        return str(value)
    if name in BOOL_FIELDS:
        return int(bool(value))
    return value


def from_db(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in DECIMAL_FIELDS:
        return Decimal(value)
    if name in BOOL_FIELDS:
        return bool(value)
    return value


def record(cls: type, columns: list[str], row: tuple) -> Any:
    return cls(**{name: from_db(name, value) for name, value in zip(columns, row, strict=True)})



class StoreUnreadable(RuntimeError):
    """The paper exchange's file cannot be opened as its database; one line naming the file."""



def open_db(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    except sqlite3.Error as exc:
        raise StoreUnreadable(f"{path}: cannot open the paper exchange store ({exc})") from None
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        conn.executescript(SCHEMA)
    except sqlite3.OperationalError as exc:  # the disk's fault (full, failing, read-only),
        conn.close()  # not the file's: moving a good account aside would lose it
        raise StoreUnreadable(f"{path}: cannot open the paper exchange store ({exc}); the "
                              "store is kept as it is: check the disk and start again") from None
    except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
        conn.close()
        raise StoreUnreadable(
            f"{path}: the paper exchange store is not a readable database ({exc}); move it "
            "aside to start a fresh paper account") from None
    return conn



def migrate(conn: sqlite3.Connection) -> None:
    """Add the columns of MIGRATIONS a file lacks."""
    for table, column, decl in MIGRATIONS:
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")


def set_position_mode(
    c: sqlite3.Connection, path: Path, meta: dict[str, str], wanted: str, now_ms: int
) -> None:
    """Persist the position mode; a file from before modes existed is one-way."""
    stored = meta.get("position_mode", ONE_WAY if "created_ms" in meta else wanted)
    if stored != wanted:
        positions = sum(1 for (q,) in c.execute("SELECT qty FROM positions") if Decimal(q) != 0)
        (orders,) = c.execute("SELECT COUNT(*) FROM orders WHERE status = 'open'").fetchone()
        if positions or orders:
            raise PositionModeMismatch(
                f"{path} is a {stored} paper account with {positions} open position(s) "
                f"and {orders} open order(s); it cannot be opened in {wanted} mode "
                f"(set hedge_mode={stored == HEDGE}, or close everything in {stored} mode "
                "first, or use a new store file)"
            )
        c.execute("DELETE FROM positions")  # only zero rows of the old mode's sides
        c.execute("INSERT OR REPLACE INTO meta (key, value) "
                  "VALUES ('position_mode_changed_ms', ?)", (str(now_ms),))
    c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('position_mode', ?)", (wanted,))
