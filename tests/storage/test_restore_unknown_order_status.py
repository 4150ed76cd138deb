"""An order row whose status is none we know is a named error that quarantines its symbol, never
an order left out of the restore (whose live order the restart's reconciliation then cancelled
on the exchange as an orphan: perhaps the position's resting stop)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from storage.repository import Repository
from storage.restore import CorruptRow
from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.decide import SymbolCore
from trading.events import PriceTicked, SignalRaised
from trading.model import OrderPurpose, Side

SYM = "BTC/USDT:USDT"


def _open_position(repo: Repository, symbol: str) -> str:
    """A position with its live stop committed; the stop's client order id."""
    inc = repo.claim(symbol)
    sc = Scenario(SymbolCore(make_rules()))
    for event in (PriceTicked(price=Decimal("100")), SignalRaised(side=Side.LONG)):
        before, start = sc.state, len(sc.decisions)
        sc.send(event)
        for d in sc.decisions[start:]:
            repo.commit(symbol, inc, before, d, correlation_id="c1", created_at=sc.now)
            before = d.state
    stops = [o for o in sc.state.orders if o.purpose is OrderPurpose.STOP and o.status.live]
    assert stops, sc.state.orders
    return stops[0].client_order_id


@pytest.mark.parametrize("status", ["sent", "", "cancelled"])
def test_unknown_order_status_names_table_row_and_symbol(tmp_path, status):
    path = tmp_path / "bot.sqlite"
    repo = Repository(path)
    try:
        stop = _open_position(repo, SYM)
        with sqlite3.connect(path) as con:
            con.execute("UPDATE orders SET status = ? WHERE client_order_id = ?", (status, stop))
        with pytest.raises(CorruptRow) as err:
            repo.load(SYM)
        text = str(err.value)
        assert "\n" not in text
        assert text.startswith(f"orders row {stop!r} of {SYM}: field 'status' = {status!r}")
        assert (err.value.table, err.value.key, err.value.field) == ("orders", stop, "status")
    finally:
        repo.close()


def test_ended_orders_in_older_spellings_still_restore(tmp_path):
    path = tmp_path / "bot.sqlite"
    repo = Repository(path)
    try:
        stop = _open_position(repo, SYM)
        with sqlite3.connect(path) as con:
            con.execute("UPDATE orders SET status = 'CANCELED' WHERE client_order_id = ?",
                        (stop,))
        assert stop not in {o.client_order_id for o in repo.load(SYM).orders}
    finally:
        repo.close()


@pytest.mark.parametrize("status", ["opened", "closing"])
def test_unknown_position_status_names_table_row_and_symbol(tmp_path, status):
    """Left out of the restore, such a position was adopted again from the exchange under a
    new id (its P&L and fees reset) and its row stayed as it was for ever."""
    path = tmp_path / "bot.sqlite"
    repo = Repository(path)
    try:
        _open_position(repo, SYM)
        position_id = repo.load(SYM).position.position_id
        with sqlite3.connect(path) as con:
            con.execute("UPDATE positions SET status = ?", (status,))
        with pytest.raises(CorruptRow) as err:
            repo.load(SYM)
        assert str(err.value).startswith(
            f"positions row {position_id!r} of {SYM}: field 'status' = {status!r}: "
            f"{status!r} is not a position status (allowed: open, closed)"), str(err.value)
    finally:
        repo.close()
