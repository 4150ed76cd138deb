"""SQLite persistence of the paper exchange (stdlib sqlite3, one connection, one small lock).

Every state change is one transaction (`Store.write`), so a kill -9 at any moment leaves a
consistent exchange that a new instance on the same file continues from. Decimals are stored
as TEXT, exactly.

The position mode ('one-way' or 'hedge') is stored in `meta.position_mode`. Reopening a file
in the other mode switches it only when the account holds no position and no open order (as a
real venue allows switching); otherwise `PositionModeMismatch` is raised.
"""

import json
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
from exchange.paper.schema import (
    HEDGE,
    ONE_WAY,
    ORDER_COLUMNS,
    SCHEMA_VERSION,
    TRADE_COLUMNS,
    PositionModeMismatch,
    StoreUnreadable,
    from_db,
    migrate,
    open_db,
    record,
    set_position_mode,
    to_db,
)
from exchange.paper.wal import Checkpointer

__all__ = ["PositionModeMismatch", "Snapshot", "Store", "StoreUnreadable", "Tx"]


def _maybe_decimal(value: str | None) -> Any:
    try:
        return None if value is None else Decimal(value)
    except ArithmeticError:
        return value


class _BadValue(ValueError):
    """A stored value that does not read, named by its table, row and column (found by review:
    a damaged price said `unreadable (InvalidOperation: [<class 'decimal.ConversionSyntax'>])`,
    naming no row)."""


def _number(row: str, column: str, value: Any) -> Decimal:
    try:
        return Decimal(value)
    except (ArithmeticError, TypeError, ValueError):
        raise _BadValue(f"{row}: {column} {str(value)[:40]!r} is not a number") from None


def _order(row: tuple) -> OrderRec:
    """An orders row as a record; a column that does not read is a _BadValue naming it."""
    try:
        rec: OrderRec = record(OrderRec, ORDER_COLUMNS, row)
    except (ArithmeticError, TypeError, ValueError):
        columns = dict(zip(ORDER_COLUMNS, row, strict=True))
        for name, value in columns.items():
            try:
                from_db(name, value)
            except (ArithmeticError, TypeError, ValueError):
                raise _BadValue(f"orders {columns['id']} ({columns['symbol']}): {name} "
                                f"{str(value)[:40]!r} is not a number") from None
        raise
    return rec


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
    markets: list[tuple[str, Decimal]] = field(default_factory=list)
    """(symbol, the price its steps were derived from): kept while it holds a position or
    an open order (the exchange re-lists only a symbol without either)."""


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
    market_prices: dict[str, Decimal] = field(default_factory=dict)
    """The price each symbol's market steps were last derived from."""


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
        self._conn = open_db(self.path)
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
                   hedge_mode: bool = False) -> Decimal | None:
        """Write meta and the starting balance on a new file (None returned); on an existing
        one migrate older schemas, check (or, when flat, switch) the position mode and return
        the balance the store was started with: an existing store keeps its own balance,
        whatever `starting_balance` says."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
                if "schema_version" in meta and meta["schema_version"] != str(SCHEMA_VERSION):
                    raise StoreUnreadable(  # a startup line, not "unexpected RuntimeError"
                        f"{self.path}: paper exchange store of schema {meta['schema_version']}; "
                        f"this version reads schema {SCHEMA_VERSION} (written by another "
                        "version? move it aside to start a fresh paper account)")
                self._migrate()
                self._set_position_mode(meta, HEDGE if hedge_mode else ONE_WAY, now_ms)
                started = self._started_with(meta)
                for key, value in (("created_ms", now_ms), ("schema_version", SCHEMA_VERSION)):
                    self._conn.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, str(value))
                    )
                self._conn.execute(
                    "INSERT OR IGNORE INTO balance (currency, wallet) VALUES (?, ?)",
                    (self.currency, str(starting_balance)),
                )
                self._conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('starting_balance', ?)",
                    (str(started if started is not None else starting_balance),))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return started

    def _started_with(self, meta: dict[str, str]) -> Decimal | None:
        """The balance an existing store was started with (None: a new store). A store from
        before it was recorded: its wallet less every fill's realized P&L net of fees (the
        only things that move a paper wallet), exact in Decimal."""
        try:
            if "starting_balance" in meta:
                return Decimal(meta["starting_balance"])
            row = self._conn.execute(
                "SELECT wallet FROM balance WHERE currency = ?", (self.currency,)).fetchone()
            if row is None:
                return None
            net = sum((Decimal(pnl) - Decimal(fee) for pnl, fee in self._conn.execute(
                "SELECT realized_pnl, fee FROM trades")), Decimal(0))
            return Decimal(row[0]) - net
        except (ArithmeticError, TypeError, ValueError) as exc:
            raise StoreUnreadable(
                f"{self.path}: paper exchange store unreadable ({type(exc).__name__} in its "
                "starting balance, wallet or fills); move it aside to start a fresh paper "
                "account") from None

    def _migrate(self) -> None:
        migrate(self._conn)

    def _set_position_mode(self, meta: dict[str, str], wanted: str, now_ms: int) -> None:
        """Persist the position mode; a file from before modes existed is one-way."""
        set_position_mode(self._conn, self.path, meta, wanted, now_ms)

    def load(self) -> Snapshot:
        """The store's state; a value that does not read (a damaged or hand-edited file) is a
        StoreUnreadable naming the file, a startup line (it was 'unexpected ValueError')."""
        try:
            return self._load()
        except _BadValue as exc:  # the table, the row and the column
            raise StoreUnreadable(
                f"{self.path}: paper exchange store unreadable: {exc}; move it aside to start "
                "a fresh paper account") from None
        except (ValueError, ArithmeticError, TypeError, KeyError) as exc:
            raise StoreUnreadable(
                f"{self.path}: paper exchange store unreadable ({type(exc).__name__}: {exc}); "
                "move it aside to start a fresh paper account") from None

    def _load(self) -> Snapshot:
        with self._lock:
            c = self._conn
            meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
            (wallet,) = c.execute(
                "SELECT wallet FROM balance WHERE currency = ?", (self.currency,)
            ).fetchone()
            wallet = _number(f"balance {self.currency}", "wallet", wallet)
            positions = [
                PositionRec(symbol=s, side=side, qty=_number(f"positions {s} {side}", "qty", q),
                            entry=_number(f"positions {s} {side}", "entry", e), updated_ms=u)
                for s, side, q, e, u in c.execute(
                    "SELECT symbol, side, qty, entry, updated_ms FROM positions"
                )
            ]
            open_orders = [
                _order(row)
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
                s: (ms, _number(f"prices {s}", "price", p))
                for s, ms, p in c.execute("SELECT symbol, last_ms, price FROM prices")
            }
            max_order = c.execute("SELECT COALESCE(MAX(seq), 0) FROM orders").fetchone()[0]
            max_trade = c.execute("SELECT COALESCE(MAX(seq), 0) FROM trades").fetchone()[0]
            market_prices = {s: _number(f"markets {s}", "initial_price", p) for s, p in c.execute(
                "SELECT symbol, initial_price FROM markets")}
        return Snapshot(
            int(meta["created_ms"]), wallet, positions, open_orders, client_ids,
            checkpoints, max_order, max_trade, market_prices,
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
            c.execute(order_sql, [to_db(n, getattr(o, n)) for n in ORDER_COLUMNS])
        trade_sql = (
            f"INSERT INTO trades ({', '.join(TRADE_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(TRADE_COLUMNS))})"
        )
        for t in tx.trades:
            c.execute(trade_sql, [to_db(n, getattr(t, n)) for n in TRADE_COLUMNS])
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
        for symbol, price in tx.markets:
            c.execute("INSERT OR REPLACE INTO markets (symbol, initial_price) VALUES (?, ?)",
                      (symbol, str(price)))

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
        return None if row is None else record(OrderRec, ORDER_COLUMNS, row)

    def trades(self, symbol: str | None = None, since: int | None = None) -> list[TradeRec]:
        self.flush()
        sql = f"SELECT {', '.join(TRADE_COLUMNS)} FROM trades WHERE ts >= ?"
        args: list[Any] = [since if since is not None else -(2**62)]
        if symbol is not None:
            sql += " AND symbol = ?"
            args.append(symbol)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY ts, seq", args).fetchall()
        return [record(TradeRec, TRADE_COLUMNS, row) for row in rows]

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
