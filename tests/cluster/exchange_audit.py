"""The shared paper exchange's own record (its store file, read-only) and the accounts'
ledgers (their databases in the cluster's shared dir), for the cluster proofs."""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from trading.client_ids import parse_client_order_id


def _read(path: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


class Books:
    """The accounts' own databases: PostgreSQL (`storage.url`, schema bot_<account>) when
    `pg_url` is given, else SQLite files in the cluster's shared dir."""

    def __init__(self, *, pg_url: str | None = None, shared: Path | None = None) -> None:
        self.pg_url = pg_url
        self.shared = shared

    def query(self, account: str, sql: str) -> list[tuple[Any, ...]]:
        if self.pg_url is None:
            assert self.shared is not None
            return _read(self.shared / account / "bot.sqlite", sql)
        import psycopg

        with psycopg.connect(self.pg_url, autocommit=True,
                             options=f"-c search_path=bot_{account}") as conn:
            return list(conn.execute(sql).fetchall())

    def ready(self, account: str) -> bool:
        """The account's storage exists (a node opened it at least once)."""
        try:
            self.id_tag(account)
        except Exception:  # noqa: BLE001 - missing schema, table or file: not yet
            return False
        return True

    def id_tag(self, account: str) -> str:
        return str(self.query(account, "SELECT value FROM meta WHERE key = 'id_tag'")[0][0])

    def prefix(self, account: str) -> str:
        return f"{account}-{self.id_tag(account)}-"

    def order_ids(self, account: str) -> list[str]:
        """Client order ids of every order intent the account committed, sorted: a table read
        without ORDER BY may come back in another order once a row was updated (PostgreSQL
        writes an updated row anew), and the zombie test compares two reads."""
        return [str(r[0]) for r in self.query(
            account, "SELECT client_order_id FROM orders ORDER BY client_order_id")]

    def ledger(self, account: str) -> dict[str, Decimal]:
        """Filled amount per client order id in the account's ledger (the bot's own books)."""
        out: dict[str, Decimal] = defaultdict(Decimal)
        for cid, amount in self.query(account, "SELECT client_order_id, amount FROM fills "
                                        "WHERE client_order_id NOT LIKE 'funding-%'"):
            out[str(cid)] += Decimal(str(amount))
        return dict(out)


def submissions(store: Path) -> list[tuple[int, str, str, str]]:
    """(ts ms, client order id, outcome, error) of every order request the exchange got."""
    rows = _read(store, "SELECT ts, client_order_id, outcome, COALESCE(error, '') "
                        "FROM submissions WHERE client_order_id IS NOT NULL ORDER BY seq")
    return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


def duplicate_ids(store: Path) -> list[str]:
    """Client order ids the exchange accepted more than once, or refused as already used."""
    subs = submissions(store)
    accepted = Counter(cid for _, cid, outcome, _ in subs if outcome == "accepted")
    twice = [cid for cid, n in accepted.items() if n > 1]
    refused = [cid for _, cid, outcome, err in subs
               if outcome != "accepted" and "duplicate" in err.lower()]
    return sorted(set(twice + refused))


def sends_by_epoch(store: Path, prefix: str) -> dict[int, list[int]]:
    """Accepted order requests of one account by the lease epoch in their id: epoch -> ts."""
    out: dict[int, list[int]] = defaultdict(list)
    for ts, cid, outcome, _ in submissions(store):
        parsed = parse_client_order_id(cid, prefix)
        if parsed is not None and outcome == "accepted":
            out[parsed.epoch].append(ts)
    return out


def unprotected(store: Path, symbols: list[str]) -> list[str]:
    """Symbols with an open position and no open reduce-only stop order on the exchange."""
    positions = {str(r[0]) for r in _read(
        store, "SELECT symbol, qty FROM positions") if Decimal(str(r[1])) != 0}
    stops = {str(r[0]) for r in _read(
        store, "SELECT symbol FROM orders WHERE status = 'open' AND "
               "(trigger_price IS NOT NULL OR stop_loss_price IS NOT NULL)")}
    return sorted(s for s in positions if s in symbols and s not in stops)


def exchange_fills(store: Path, prefix: str, until_ms: int | None = None) -> dict[str, Decimal]:
    """Filled amount per client order id of one account's orders (the exchange's trades)."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for cid, amount, ts in _read(store, "SELECT client_order_id, amount, ts FROM trades "
                                        "WHERE client_order_id LIKE ?", (prefix + "%",)):
        if until_ms is None or int(ts) < until_ms:
            out[str(cid)] += Decimal(str(amount))
    return dict(out)


def ledger_gaps(store: Path, books: Books, account: str,
                until_ms: int | None = None) -> dict[str, tuple[Decimal, Decimal]]:
    """Client ids whose exchange fills (before `until_ms`) differ from the ledger:
    cid -> (exchange amount, ledger amount). Empty when the books agree."""
    exch = exchange_fills(store, books.prefix(account), until_ms)
    ledger = books.ledger(account)
    keys = set(exch) | (set(ledger) if until_ms is None else set())
    return {k: (exch.get(k, Decimal(0)), ledger.get(k, Decimal(0))) for k in sorted(keys)
            if exch.get(k, Decimal(0)) != ledger.get(k, Decimal(0))}


def attempts_of_epoch(store: Path, prefix: str, epoch: int, since_ms: int) -> list[str]:
    """Order requests (accepted or not) of one account's `epoch` that reached the exchange at
    or after `since_ms`."""
    out = []
    for ts, cid, _, _ in submissions(store):
        parsed = parse_client_order_id(cid, prefix)
        if parsed is not None and parsed.epoch == epoch and ts >= since_ms:
            out.append(cid)
    return out
