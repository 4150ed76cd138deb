"""SQLite persistence of the paper exchange (stdlib sqlite3, one connection, one small lock).

Every state change is one transaction (`Store.write`), so a kill -9 at any moment leaves a
consistent exchange that a new instance on the same file continues from. Decimals are stored
as TEXT, exactly.

The position mode ('one-way' or 'hedge') is stored in `meta.position_mode`. Reopening a file
in the other mode switches it only when the account holds no position and no open order (as a
real venue allows switching); otherwise `PositionModeMismatch` is raised.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from exchange import errors
from exchange.paper.models import (
    POSITION_IDX,
    POSITION_SIDE,
    OrderRec,
    PositionRec,
    Submission,
    TradeRec,
)
from exchange.paper.wal import JOURNAL_SIZE_LIMIT, Checkpointer

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


def _to_db(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in DECIMAL_FIELDS:
        return str(value)
    if name in BOOL_FIELDS:
        return int(bool(value))
    return value


def _from_db(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in DECIMAL_FIELDS:
        return Decimal(value)
    if name in BOOL_FIELDS:
        return bool(value)
    return value


def _record(cls: type, columns: list[str], row: tuple) -> Any:
    return cls(**{name: _from_db(name, value) for name, value in zip(columns, row, strict=True)})


def _maybe_decimal(value: str | None) -> Any:
    try:
        return None if value is None else Decimal(value)
    except ArithmeticError:
        return value


def _json_default(value: Any) -> str:
    return str(value)


@dataclass
class Tx:
    """Everything one state change writes, committed atomically."""

    orders: list[OrderRec] = field(default_factory=list)
    trades: list[TradeRec] = field(default_factory=list)
    positions: list[PositionRec] = field(default_factory=list)
    wallet: Decimal | None = None
    checkpoints: list[tuple[str, int, Decimal]] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)


@dataclass
class Snapshot:
    """What a new exchange instance loads at start."""

    created_ms: int
    wallet: Decimal
    positions: list[PositionRec]
    open_orders: list[OrderRec]
    client_ids: set[str]
    checkpoints: dict[str, tuple[int, Decimal]]
    max_order_seq: int
    max_trade_seq: int


class StoreUnreadable(RuntimeError):
    """The paper exchange's file cannot be opened as its database; one line naming the file."""


def _open(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    except sqlite3.Error as exc:
        raise StoreUnreadable(f"{path}: cannot open the paper exchange store ({exc})") from None
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        conn.executescript(SCHEMA)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreUnreadable(
            f"{path}: the paper exchange store is not a readable database ({exc}); move it "
            "aside to start a fresh paper account") from None
    return conn


class Store:
    def __init__(self, path: str | Path, currency: str) -> None:
        self.path = Path(path)
        self.currency = currency
        self._lock = threading.Lock()  # the connection
        self._queue_lock = threading.Lock()  # the group-commit queue
        self._pending: list[Tx] = []
        self._enqueued = 0
        self._durable = 0
        self._failed: Exception | None = None
        self._conn = _open(self.path)
        self._checkpointer = Checkpointer(self.path)
        # Checkpoints (which fsync) run on the checkpointer's own connection and thread, so no
        # writer stalls behind one while holding the store lock.
        self._conn.execute("PRAGMA wal_autocheckpoint=0")

    def close(self) -> None:
        self.flush()
        self._checkpointer.stop()
        with self._lock:
            self._conn.close()

    def initialise(self, now_ms: int, starting_balance: Decimal, *,
                   hedge_mode: bool = False) -> None:
        """Write meta and the starting balance on a new file; on an existing one migrate older
        schemas and check (or, when flat, switch) the position mode."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
                if "schema_version" in meta and int(meta["schema_version"]) != SCHEMA_VERSION:
                    raise RuntimeError(f"{self.path}: unsupported schema {meta['schema_version']}")
                self._migrate()
                self._set_position_mode(meta, HEDGE if hedge_mode else ONE_WAY, now_ms)
                for key, value in (("created_ms", now_ms), ("schema_version", SCHEMA_VERSION)):
                    self._conn.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, str(value))
                    )
                self._conn.execute(
                    "INSERT OR IGNORE INTO balance (currency, wallet) VALUES (?, ?)",
                    (self.currency, str(starting_balance)),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def _migrate(self) -> None:
        for table, column, decl in MIGRATIONS:
            columns = {row[1] for row in self._conn.execute(f"PRAGMA table_info({table})")}
            if column not in columns:
                self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    def _set_position_mode(self, meta: dict[str, str], wanted: str, now_ms: int) -> None:
        """Persist the position mode; a file from before modes existed is one-way."""
        c = self._conn
        stored = meta.get("position_mode", ONE_WAY if "created_ms" in meta else wanted)
        if stored != wanted:
            positions = sum(1 for (q,) in c.execute("SELECT qty FROM positions") if Decimal(q) != 0)
            (orders,) = c.execute("SELECT COUNT(*) FROM orders WHERE status = 'open'").fetchone()
            if positions or orders:
                raise PositionModeMismatch(
                    f"{self.path} is a {stored} paper account with {positions} open position(s) "
                    f"and {orders} open order(s); it cannot be opened in {wanted} mode "
                    f"(set hedge_mode={stored == HEDGE}, or close everything in {stored} mode "
                    "first, or use a new store file)"
                )
            c.execute("DELETE FROM positions")  # only zero rows of the old mode's sides
            c.execute("INSERT OR REPLACE INTO meta (key, value) "
                      "VALUES ('position_mode_changed_ms', ?)", (str(now_ms),))
        c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('position_mode', ?)", (wanted,))

    def load(self) -> Snapshot:
        with self._lock:
            c = self._conn
            meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
            (wallet,) = c.execute(
                "SELECT wallet FROM balance WHERE currency = ?", (self.currency,)
            ).fetchone()
            positions = [
                PositionRec(symbol=s, side=side, qty=Decimal(q), entry=Decimal(e), updated_ms=u)
                for s, side, q, e, u in c.execute(
                    "SELECT symbol, side, qty, entry, updated_ms FROM positions"
                )
            ]
            open_orders = [
                _record(OrderRec, ORDER_COLUMNS, row)
                for row in c.execute(
                    f"SELECT {', '.join(ORDER_COLUMNS)} FROM orders WHERE status = 'open' "
                    "ORDER BY seq"
                )
            ]
            client_ids = {
                r[0] for r in c.execute(
                    "SELECT client_order_id FROM orders WHERE client_order_id IS NOT NULL"
                )
            }
            checkpoints = {
                s: (ms, Decimal(p))
                for s, ms, p in c.execute("SELECT symbol, last_ms, price FROM prices")
            }
            max_order = c.execute("SELECT COALESCE(MAX(seq), 0) FROM orders").fetchone()[0]
            max_trade = c.execute("SELECT COALESCE(MAX(seq), 0) FROM trades").fetchone()[0]
        return Snapshot(
            int(meta["created_ms"]), Decimal(wallet), positions, open_orders, client_ids,
            checkpoints, max_order, max_trade,
        )

    # ---- group commit ------------------------------------------------------------------

    def enqueue(self, tx: Tx) -> None:
        """Queue a change; callers enqueue in the order their changes happened (under the
        account lock) and must `flush()` before reporting success to their caller."""
        with self._queue_lock:
            self._raise_if_failed()
            self._pending.append(tx)
            self._enqueued += 1

    def flush(self) -> None:
        """Make every change queued so far durable. The first waiter writes the whole queue
        as one transaction (group commit); the others find their changes already written."""
        target = self._enqueued
        if self._durable >= target:
            self._raise_if_failed()
            return
        with self._lock:
            if self._durable >= target:
                return
            with self._queue_lock:
                self._raise_if_failed()
                batch, self._pending = self._pending, []
                upto = self._enqueued
            try:
                self._write_batch(batch)
            except Exception as exc:
                self._failed = exc
                raise errors.ExchangeUnavailable(f"paper: storage failed: {exc}") from exc
            self._durable = upto
        self._checkpointer.committed()

    def write(self, tx: Tx) -> None:
        self.enqueue(tx)
        self.flush()

    def _raise_if_failed(self) -> None:
        if self._failed is not None:
            raise errors.ExchangeUnavailable(f"paper: storage failed: {self._failed}")

    def _write_batch(self, batch: list[Tx]) -> None:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            for tx in batch:
                self._write_rows(tx)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def _write_rows(self, tx: Tx) -> None:
        c = self._conn
        order_sql = (
            f"INSERT OR REPLACE INTO orders ({', '.join(ORDER_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(ORDER_COLUMNS))})"
        )
        for o in tx.orders:
            c.execute(order_sql, [_to_db(n, getattr(o, n)) for n in ORDER_COLUMNS])
        trade_sql = (
            f"INSERT INTO trades ({', '.join(TRADE_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(TRADE_COLUMNS))})"
        )
        for t in tx.trades:
            c.execute(trade_sql, [_to_db(n, getattr(t, n)) for n in TRADE_COLUMNS])
        for p in tx.positions:
            c.execute(
                "INSERT OR REPLACE INTO positions (symbol, side, qty, entry, updated_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (p.symbol, p.side, str(p.qty), str(p.entry), p.updated_ms),
            )
        if tx.wallet is not None:
            c.execute(
                "UPDATE balance SET wallet = ? WHERE currency = ?", (str(tx.wallet), self.currency)
            )
        for symbol, ms, price in tx.checkpoints:
            c.execute(
                "INSERT OR REPLACE INTO prices (symbol, last_ms, price) VALUES (?, ?, ?)",
                (symbol, ms, str(price)),
            )
        for s in tx.submissions:
            self._insert_submission(s)

    def _insert_submission(self, s: Submission) -> None:
        self._conn.execute(
            "INSERT INTO submissions (ts, client_order_id, symbol, type, side, amount, price, "
            "params, outcome, order_id, error, position_side) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                s.ts, s.client_order_id, s.symbol, s.type, s.side,
                None if s.amount is None else str(s.amount),
                None if s.price is None else str(s.price),
                json.dumps(s.params, default=_json_default, sort_keys=True),
                s.outcome, s.order_id, s.error, s.position_side,
            ),
        )

    # ---- queries -----------------------------------------------------------------------

    def find_order(self, *, order_id: str | None = None,
                   client_id: str | None = None) -> OrderRec | None:
        self.flush()
        column, value = ("id", order_id) if order_id is not None else ("client_order_id", client_id)
        with self._lock:
            row = self._conn.execute(
                f"SELECT {', '.join(ORDER_COLUMNS)} FROM orders WHERE {column} = ?", (value,)
            ).fetchone()
        return None if row is None else _record(OrderRec, ORDER_COLUMNS, row)

    def trades(self, symbol: str | None = None, since: int | None = None) -> list[TradeRec]:
        self.flush()
        sql = f"SELECT {', '.join(TRADE_COLUMNS)} FROM trades WHERE ts >= ?"
        args: list[Any] = [since if since is not None else -(2**62)]
        if symbol is not None:
            sql += " AND symbol = ?"
            args.append(symbol)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY ts, seq", args).fetchall()
        return [_record(TradeRec, TRADE_COLUMNS, row) for row in rows]

    def submissions(self, client_id: str | None = None) -> list[dict[str, Any]]:
        self.flush()
        sql = (
            "SELECT seq, ts, client_order_id, symbol, type, side, amount, price, params, "
            "outcome, order_id, error, position_side FROM submissions"
        )
        args: tuple = ()
        if client_id is not None:
            sql += " WHERE client_order_id = ?"
            args = (client_id,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY seq", args).fetchall()
        keys = ["seq", "timestamp", "clientOrderId", "symbol", "type", "side", "amount", "price",
                "params", "outcome", "orderId", "error"]
        result = []
        for row in rows:
            item = dict(zip(keys, row[:-1], strict=True))  # the last column: position_side
            side = row[-1]
            item["info"] = {"positionIdx": POSITION_IDX.get(side),
                            "positionSide": POSITION_SIDE.get(side)}
            item["params"] = json.loads(item["params"])
            for key in ("amount", "price"):
                item[key] = _maybe_decimal(item[key])
            result.append(item)
        return result

    def record_submission(self, submission: Submission) -> None:
        self.enqueue(Tx(submissions=[submission]))
