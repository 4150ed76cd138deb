"""A positions row whose `closed_at` cannot be read (a torn or hand-edited row) is said once,
naming the row, and every other position of the batch still counts (defect: `float()` of it
raised inside the feed: the tick failed with a traceback, the positions after it in the batch
were never counted closed, so their stop-outs never reached the stop-loss guard).

Real SQLite and the guard built as protections.wiring builds it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.protections.ledger_rig import BTC, ETH, T0, Ledger, protections

GUARD = protections(stoploss_guard_count=2)


@pytest.mark.parametrize("closed_at", ["soon", "NaN", "inf"])
def test_an_unreadable_closed_at_is_said_once_and_the_other_positions_count(
        tmp_path: Path, closed_at: str):
    ledger = Ledger(tmp_path)
    guard = ledger.guard(GUARD, T0)
    guard.tick(T0)
    ledger.closed("aaa-eth", ETH, "stop_loss", T0 + 1)  # sorted first among the batch's ids
    con = sqlite3.connect(ledger.path)
    con.execute("UPDATE positions SET closed_at = ? WHERE position_id = 'aaa-eth'", (closed_at,))
    con.commit()
    con.close()
    ledger.closed("btc1", BTC, "stop_loss", T0 + 10)
    ledger.closed("btc2", BTC, "stop_loss", T0 + 20)
    trips = guard.tick(T0 + 30)
    assert [(t.name, t.symbol) for t in trips] == [("stoploss_guard", BTC)]
    assert guard.refuse(BTC, T0 + 30) is not None
    assert guard.totals.losses == 3  # the damaged one still counts as a closed loss
    assert len(ledger.log.errors) == 1, ledger.log.errors
    assert "positions row 'aaa-eth'" in ledger.log.errors[0]
    assert "closed_at" in ledger.log.errors[0]
    guard.tick(T0 + 40)
    assert len(ledger.log.errors) == 1  # said once
    ledger.close()
