"""A restart meets an order row whose status is none we know (a hand edit, a newer bot's
value): the symbol is quarantined with one line naming the table, the row and the status, and
its live order on the exchange (here the position's resting stop) is left alone. Left out of
the restore, the order read as nobody's and the reconciliation cancelled it as an orphan."""

from __future__ import annotations

import sqlite3

from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def test_unknown_status_quarantines_the_symbol_and_keeps_its_stop(tmp_path):
    h = Harness(tmp_path, [BTC, ETH]).start()
    try:
        h.poll()
        assert h.signal(BTC, Side.LONG)
        wait_until(lambda: h.exchange_position(BTC) is not None and h.exchange_stops(BTC),
                   message="BTC open with its stop")
        h.idle(BTC)
        [stop] = h.exchange_stops(BTC)
    finally:
        h.stop()
    with sqlite3.connect(tmp_path / "bot.sqlite") as con:
        changed = con.execute("UPDATE orders SET status = 'sent' WHERE client_order_id = ?",
                              (stop.client_order_id,)).rowcount
    assert changed == 1
    h2 = Harness(tmp_path, [BTC, ETH], clock=h.clock).start()
    try:
        assert h2.child(BTC).state.value == "quarantined"
        failure = h2.child(BTC).last_failure["error"]
        assert f"orders row {stop.client_order_id!r} of {BTC}: field 'status' = 'sent'" \
            in failure, failure
        assert h2.child(ETH).state.value == "running"
        assert [o.client_order_id for o in h2.exchange_stops(BTC)] == [stop.client_order_id]
        assert h2.exchange_position(BTC) is not None
    finally:
        h2.stop()
