"""Hedge grid: a leg the entry gate refused only because the symbol was not reconciled yet opens
with the first successful reconciliation, not open_retry_s (10 s) after the refusal.

Found by a live hedge-grid chaos run on the Bybit emulator (seeds 4971, 4972, 25 kills each):
after a restart the first prices are decided before the start reconciliation is done, the gate
refuses the flat legs ("not reconciled with the exchange yet", `EntryRefused`), and the grid
held its next opening for open_retry_s as after a refusal that lasts (a position cap): every
opening after such a refusal came 10.3-16 s after it, while the reconciliation was done within
a few seconds (e.g. `EntryRefused` 10:46:51.610, the symbol reconciled, `LegOpened` 10:47:01.948).
Real GridActor under the real supervisor, real SQLite, the paper exchange in hedge mode."""

from __future__ import annotations

from pathlib import Path

import ccxt

from actors.messages import Timer
from actors.reconcile_retry import TEMPORARY_MAX_WAIT_S
from tests.actors.test_grid_actor import GridBot
from tests.exchange.paper.paper_support import BTC
from tests.support.waiting import wait_until


def test_a_leg_refused_before_the_first_reconciliation_opens_once_reconciled(tmp_path: Path):
    bot = GridBot(tmp_path)
    bot.paper.faults.fail_next("fetch_positions", 10_000, ccxt.NetworkError("unreachable"))
    try:
        bot.sup.start()
        wait_until(lambda: bot.sup.children[BTC].state.value == "running",
                   message="grid actor running")
        bot.move("101")
        assert not bot.views[BTC].reconciled
        assert {e["reason"] for e in bot.events("EntryRefused")} == {
            "not reconciled with the exchange yet"}
        assert not bot.paper.submissions()  # nothing was sent
        bot.paper.faults.clear()
        open_retry_s = bot.core_for(BTC).rules.open_retry_s
        assert TEMPORARY_MAX_WAIT_S < open_retry_s  # the clock below stays inside the old wait
        bot.clock.advance(TEMPORARY_MAX_WAIT_S)  # the failed reconciliation's retry is due
        bot.sup.tell(BTC, Timer())
        wait_until(lambda: bot.views[BTC].reconciled, message="reconciled")
        bot.move("101")  # the next price, well inside open_retry_s of the refusal
        assert set(bot.positions()) == {"long", "short"}, (
            "the flat legs waited out open_retry_s after a refusal the reconciliation ended")
    finally:
        bot.stop()
