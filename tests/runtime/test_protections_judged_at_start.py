"""No entry is admitted at start before the protections have judged the stored ledger.

The protections' first pass (the whole ledger replayed: daily loss, drawdown, stop-outs) ran on
the bot's run loop, after the account's actors had started. A bot that died between booking the
loss that crossed `daily_loss_limit` and its next pass (~1 s later) admitted entries at the next
start until that replay finished: a hedge grid opened its legs within milliseconds (found by
review). The account's build now judges the ledger before any actor starts.

Real parts: the account runtime, its pykka actors, SQLite and the paper exchange. No run loop
runs here: whatever judges the ledger must happen inside the account's own build.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from loguru import logger

from actors.entry_gate import AccountGate
from protections.ledger_feed import day_start
from runtime.account import AccountRuntime
from runtime.first_pass import LedgerJudged, judge_stored_ledger
from runtime.stop_accounts import stop_all
from storage import control, queries
from tests.protections.ledger_rig import T0, DownAtFirst, Ledger, daily_limit_guard
from tests.support.configs import opened_account, paper_hedge_grid
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"
CONFIG = paper_hedge_grid([BTC], risk="[protections]\ndaily_loss_limit_usdt = 50")


def _booked_loss(db: Path, at: float) -> None:
    """What the previous run committed before it died: a position closed at a -100 loss."""
    con = sqlite3.connect(db)
    try:
        con.execute("INSERT INTO positions (position_id, symbol, side, contracts, entry_price, "
                    "opened_at, closed_at, status, realized_pnl, fees, close_reason) "
                    "VALUES ('p1', ?, 'long', '0', '100', ?, ?, 'closed', '-100', '0.05', "
                    "'stop_loss')", (BTC, at - 60, at))
        con.execute("INSERT INTO fills (symbol, client_order_id, position_id, side, amount, "
                    "price, fee, realized_pnl, created_at) "
                    "VALUES (?, 'p1-c', 'p1', 'sell', '1', '90', '0.05', '-100', ?)", (BTC, at))
        con.commit()
    finally:
        con.close()


def _today() -> float:
    """Now, at least a minute before the next UTC midnight (the loss must count today)."""
    wait_until(lambda: day_start(time.time() + 60) == day_start(time.time()), timeout=70,
               interval=0.5, message="a minute clear of UTC midnight")
    return time.time()


def _first_entries_refused(account: AccountRuntime) -> set[str]:
    """Build and start the opened account, wait for the grid's first legs: refused, none sent
    (before the fix: both legs' entries, at once). The reasons they were refused for."""
    account.build()
    account.start()
    repo, exchange = account.repo, account.exchange
    assert repo is not None and exchange is not None

    def refused() -> list[dict]:
        return repo.read(queries.events, BTC, "EntryRefused")

    wait_until(lambda: refused() or exchange.submissions(), timeout=30,
               message="the grid's first legs refused or sent")
    assert exchange.submissions() == []
    return {e["data"]["reason"] for e in refused()}


def test_a_stored_loss_past_the_daily_limit_refuses_the_first_entries(tmp_path: Path):
    account = opened_account(tmp_path, CONFIG)
    try:
        assert account.repo is not None
        _booked_loss(account.repo.path, _today())
        reasons = _first_entries_refused(account)
        assert reasons == {"protections: daily loss limit: -100.05 USDT today (limit -50.00)"}
    finally:
        stop_all([account], logger)
        account.close()


# -- a first pass that fails: the account starts, its entries wait for a pass -------------------

def test_a_failed_first_pass_refuses_entries_until_a_pass_succeeds(tmp_path: Path):
    ledger = Ledger(tmp_path)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO", format="{level} {message}")
    try:
        ledger.closed("p1", BTC, "stop_loss", T0 - 60, pnl="-100")
        repo = DownAtFirst(ledger.repo)
        guard = daily_limit_guard(repo, logger)
        gate = AccountGate(max_open_positions=None, checks=[LedgerJudged(guard), guard],
                           clock=lambda: T0)
        judge_stored_ledger(guard, logger, "main")
        assert gate.admit(BTC, "signal", reconciled=True) == (
            "protections: the stored ledger is not judged yet (its first pass failed: see the "
            "log)")
        assert any("ERROR protections of account main: the first pass over the stored ledger "
                   "failed: OSError: database unreachable" in line for line in lines), lines
        repo.up = True
        guard.tick()  # the run loop's next pass
        assert gate.admit(BTC, "signal", reconciled=True) == (
            "protections: daily loss limit: -100.05 USDT today (limit -50.00)")
    finally:
        logger.remove(sink)
        ledger.close()


# -- a person's pause queued before the start ----------------------------------------------------

def test_a_pause_queued_before_the_start_refuses_the_first_entries(tmp_path: Path):
    """A pause queued (dashboard, Telegram /pause) that the run loop had not applied when the
    bot died, or queued for the cluster node that takes the account over, was applied by the
    run loop's first round, after the actors had started: the grid's legs went out first."""
    account = opened_account(tmp_path, CONFIG)
    try:
        assert account.repo is not None
        control.request(account.repo, "pause", "*", by="ops", requested_at=time.time())
        assert _first_entries_refused(account) == {"protections: entries paused by ops"}
        repo = account.repo
        wait_until(lambda: not control.pending_commands(repo), timeout=10,
                   message="the pause marked applied")
    finally:
        stop_all([account], logger)
        account.close()
