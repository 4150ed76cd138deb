"""A symbol whose actor never got to restore its state (every start failed, the supervisor
gave up and quarantined it) is not "restoring": what it holds is unknown for good, as a symbol
with unreadable rows (test_unreadable_in_health.py), so health counts it there and coverage is
below 100 %.

Found by review: a symbol whose start crashed on a bug in reading its rows (a TypeError, not a
CorruptRow) was quarantined after the restart limit with its position on the exchange, and the
status said 'open 1, protected 1, ts_coverage 100 %, restoring 1 symbol (not counted yet)'
for as long as the bot ran. Real actors, supervisor, SQLite and paper exchange; the bug is a
repository whose restore of one symbol raises (given to the harness's constructor)."""

from __future__ import annotations

from typing import Any

import pykka
import pytest

from storage.repository import Repository
from supervision.status import build_status
from supervision.status_view import render
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class LoadBug(Repository):
    def load(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        if symbol == ETH:
            raise TypeError("a bug reading ETH's rows")
        return super().load(symbol, *args, **kwargs)


@pytest.fixture(autouse=True)
def _stop_actors():
    yield
    pykka.ActorRegistry.stop_all()


def test_a_symbol_that_never_started_is_counted_as_unknown_not_restoring(tmp_path):
    h = Harness(tmp_path, [BTC, ETH]).start()
    try:
        h.poll()
        for symbol in (BTC, ETH):
            assert h.signal(symbol, Side.LONG)
            h.idle(symbol)
            assert h.exchange_position(symbol) is not None
    finally:
        h.stop()
    h2 = Harness(tmp_path, [BTC, ETH], clock=h.clock, repository=LoadBug).start()
    try:
        wait_until(lambda: h2.child(ETH).state.value == "quarantined",
                   message="ETH given up after its restarts")
        health = build_status(h2.sup, {"pid": 1}, h2.clock(), [])["health"]
        assert health["open_positions"] == 1 and health["protected_positions"] == 1  # BTC
        assert health["restoring_symbols"] == 0
        assert health["unreadable_symbols"] == 1
        assert health["ts_coverage"] == 0.5  # ETH's holdings are not known to be protected
        assert "restoring" not in render(build_status(h2.sup, {"pid": 1}, h2.clock(), []))
    finally:
        h2.closer.wait()
        h2.stop()
