"""A real `python bot.py run` whose stored ledger already crosses the daily loss limit sends no
entry at start, and journals why.

The protections' first pass over the stored ledger ran on the run loop, after the account's
actors had started: a bot that died between booking the loss that crossed `daily_loss_limit`
and its next pass started again with entries admitted until the replay ran, and the hedge grid
opened both legs within milliseconds (found by review). runtime/first_pass.py.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from protections.ledger_feed import day_start
from storage.repository import Repository
from tests.e2e.bot_process import log_tails, start_bot, write_config
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
BTC = "BTC/USDT:USDT"


def _stored_loss(db: Path) -> None:
    """The previous run's last commit: a stop-loss close at -100 USDT today (limit 50)."""
    wait_until(lambda: day_start(time.time() + 60) == day_start(time.time()), timeout=70,
               interval=0.5, message="a minute clear of UTC midnight")
    at = time.time()
    Repository(db, synchronous="normal").close()  # the bot's schema, as its first run left it
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO positions (position_id, symbol, side, contracts, entry_price, "
                    "opened_at, closed_at, status, realized_pnl, fees, close_reason) "
                    "VALUES ('p1', ?, 'long', '0', '100', ?, ?, 'closed', '-100', '0.05', "
                    "'stop_loss')", (BTC, at - 60, at))
        con.execute("INSERT INTO fills (symbol, client_order_id, position_id, side, amount, "
                    "price, fee, realized_pnl, created_at) "
                    "VALUES (?, 'p1-c', 'p1', 'sell', '1', '90', '0.05', '-100', ?)", (BTC, at))


def _rows(db: Path, sql: str) -> list[tuple]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return con.execute(sql).fetchall()
    except sqlite3.OperationalError as exc:  # the file is made before its tables
        if "no such table" in str(exc):
            return []
        raise


OTHERS = ["ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT", "DOGE/USDT:USDT", "BNB/USDT:USDT",
          "ADA/USDT:USDT", "LINK/USDT:USDT", "LTC/USDT:USDT"]


def test_a_stored_loss_past_the_daily_limit_sends_no_entry_at_start(tmp_path: Path):
    """Account alpha's actors run while beta's start: the window before the run loop's first
    pass, in which alpha's grid opened both legs on a ledger past its daily loss limit."""
    config = write_config(
        tmp_path / "config.toml", [BTC],
        bot={"mode": "paper"},
        exchange={"id": "paper", "hedge_mode": True, "poll_interval_s": 0.05},
        strategy={"name": "hedge_grid"},
        risk={"order_size_usdt": 100, "leverage": 5, "stop_loss_pct": 10},
        protections={"daily_loss_limit_usdt": 50},
        paper={"latency_ms": 1},
        logging={"console": False},
    )
    config.write_text(config.read_text() + '[[accounts]]\nname = "alpha"\n[[accounts]]\n'
                      f'name = "beta"\nsymbols.list = {json.dumps(OTHERS)}\n')
    data = tmp_path / "data"
    alpha = data / "accounts" / "alpha"
    alpha.mkdir(parents=True)
    db, paper = alpha / "bot.sqlite", alpha / "paper_exchange.sqlite"
    _stored_loss(db)
    proc = start_bot(config, data)
    try:
        def settled() -> bool:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            return bool(_rows(db, "SELECT 1 FROM events WHERE type = 'EntryRefused'")
                        or _rows(paper, "SELECT 1 FROM submissions"))

        wait_until(settled, timeout=60, interval=0.1, message="alpha's first grid legs")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, log_tails(data)
    sent = _rows(paper, "SELECT client_order_id, side FROM submissions")
    assert sent == [], sent  # before the fix: both legs' entries, sent at start
    reasons = {json.loads(d)["reason"] for (d,) in _rows(
        db, "SELECT data FROM events WHERE type = 'EntryRefused'")}
    assert reasons == {"protections: daily loss limit: -100.05 USDT today (limit -50.00)"}
