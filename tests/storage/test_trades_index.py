"""The dashboard reads the recent trades every 5 s per open page (`/api/trades`, all symbols);
that read scanned and sorted every position the account ever had (300,000 rows: 112 ms a read
on SQLite), and a hedge grid closes a position per take-profit. Schema 6 indexes the closed
positions in the page's order, for the account and for one symbol, and a version 5 database
gets the indexes when it is opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import reports
from storage.models import SCHEMA_VERSION
from storage.repository import Repository

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def _plan(path: Path, symbol: str | None) -> str:
    sql, params = reports.trades_query(20, 0, symbol).sql()
    with sqlite3.connect(path) as con:
        return " | ".join(row[3] for row in con.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def _closed(path: Path) -> None:
    """Closed positions (two share their close time, as a grid's two legs) and an open one."""
    rows = [("a", BTC, 10.0, "closed"), ("b", ETH, 30.0, "closed"), ("c", BTC, 30.0, "closed"),
            ("d", ETH, 20.0, "closed"), ("e", BTC, None, "open")]
    with sqlite3.connect(path) as con:
        con.executemany(
            "INSERT INTO positions (position_id, symbol, side, contracts, entry_price, "
            "opened_at, closed_at, status, realized_pnl, fees) "
            "VALUES (?, ?, 'long', '0', '100', 1, ?, ?, '1.50', '0.10')", rows)


@pytest.mark.parametrize("symbol", [None, BTC])
def test_recent_trades_are_read_in_index_order(tmp_path, symbol):
    path = tmp_path / "bot.sqlite"
    repo = Repository(path)
    try:
        _closed(path)
        ids = [t["position_id"] for t in repo.read(reports.trades, 20, 0, symbol)]
        assert ids == (["c", "b", "d", "a"] if symbol is None else ["c", "a"])
        assert [t["position_id"] for t in repo.read(reports.trades, 2, 1, symbol)] == ids[1:3]
    finally:
        repo.close()
    plan = _plan(path, symbol)
    index = "positions_status_closed_at_position_id" if symbol is None else \
        "positions_symbol_status_closed_at_position_id"
    assert f"USING INDEX {index}" in plan and "TEMP B-TREE" not in plan, plan


def test_a_version_5_database_gets_the_indexes(tmp_path):
    path = tmp_path / "bot.sqlite"
    Repository(path).close()
    with sqlite3.connect(path) as con:
        con.execute("DROP INDEX positions_status_closed_at_position_id")
        con.execute("DROP INDEX positions_symbol_status_closed_at_position_id")
        con.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    assert "TEMP B-TREE" in _plan(path, None)
    Repository(path).close()
    assert "TEMP B-TREE" not in _plan(path, None) and "TEMP B-TREE" not in _plan(path, BTC)
    with sqlite3.connect(path) as con:
        version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (str(SCHEMA_VERSION),) and SCHEMA_VERSION >= 6
