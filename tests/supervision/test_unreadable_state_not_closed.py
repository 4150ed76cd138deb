"""A symbol quarantined for unreadable persisted state keeps its position and its exchange stop:
no emergency close (INCIDENTS.md rule 7: that symbol is quarantined with a clear error; the
position is not understood, its exchange stop keeps protecting it).

Mutation audit (helper t): the supervisor's `_quarantine_unreadable` escalating with
`close=True` (an emergency close of the position nobody can read the state of) failed no test.

Real actors, supervisor, SQLite and paper exchange; the row is damaged in the database file."""

from __future__ import annotations

import sqlite3

import pykka
import pytest

from supervision.child import ChildState
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


@pytest.fixture(autouse=True)
def _stop_actors():
    yield
    pykka.ActorRegistry.stop_all(block=False)


def test_an_unreadable_symbol_keeps_its_position_and_stop(tmp_path):
    h = Harness(tmp_path, [BTC, ETH]).start()
    try:
        h.poll()
        assert h.signal(ETH, Side.LONG)
        h.idle(ETH)
        assert h.exchange_position(ETH) is not None and h.exchange_stops(ETH)
    finally:
        h.stop()
    con = sqlite3.connect(tmp_path / "bot.sqlite")
    con.execute("UPDATE trailing_stops SET activation_price='garbage' WHERE symbol=?", (ETH,))
    con.commit()
    con.close()
    h2 = Harness(tmp_path, [BTC, ETH], clock=h.clock).start()
    try:
        assert h2.child(ETH).state is ChildState.QUARANTINED
        # the escalation is listed after its close (if any) was started (_on_escalation)
        wait_until(lambda: [e["symbol"] for e in h2.sup.escalations] == [ETH],
                   message="ETH's escalation")
        h2.closer.wait()  # any emergency close has run to its end
        assert h2.exchange_position(ETH) is not None, (
            "the position of a symbol whose state cannot be read was closed")
        assert h2.exchange_stops(ETH)  # still protected on the exchange
        assert h2.child(BTC).state is ChildState.RUNNING
    finally:
        h2.stop()
