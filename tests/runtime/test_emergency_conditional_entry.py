"""The emergency close and a conditional order that could open a position (found by review): the
close kept every stop on the symbol, so the position's protection stays if the close fails. A
conditional order that is not reduce-only is no protection: a buy-stop entry placed by hand (a
Bybit conditional order with triggerDirection, a Binance STOP_MARKET without reduceOnly) was
left resting; once the close had flattened the symbol it fired and opened a new position,
which no one manages after an escalation (incident 9: orders nobody owns that could open a
position are cancelled). Now only reduce-only stops are kept; any other order is cancelled as
an entry is. REAL ccxt and the gateway against the venue emulators, real SQLite."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from loguru import logger

from runtime.emergency import OWED, EmergencyCloser
from storage.repository import Repository
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator

BTC = "BTC/USDT:USDT"


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
def test_a_conditional_entry_is_cancelled_and_the_stop_kept(tmp_path, venue):
    emu = start_emulator(venue)
    gw = make_gateway(venue, emu, tmp_path)
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    closer = EmergencyCloser(exchange=gw, repo=repo, prefix="acc-", logger=logger,
                             sleep=lambda s: None)
    try:
        gw.load_markets()
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "entry-1"})
        gw.place_stop(BTC, "sell", D("0.01"), D("45000"), "stop-1")
        # by hand: buy 0.01 once the price rises through 52000 (not reduce-only: it opens)
        gw.create_order(BTC, "market", "buy", D("0.01"), None,
                        {"clientOrderId": "hand-cond", "triggerPrice": D("52000"),
                         "triggerDirection": "ascending"})
        listed = {o.client_order_id: o.reduce_only for o in gw.fetch_open_orders(BTC)}
        assert listed == {"stop-1": True, "hand-cond": False}
        repo.set_meta(OWED + BTC, "close failed 3 times")
        closer.close(BTC, "close failed 3 times")
        closer.wait()
        assert [p for p in gw.fetch_positions([BTC]) if p.contracts > 0] == []
        assert [o.client_order_id for o in gw.fetch_open_orders(BTC)] == ["stop-1"]
        emu.venue.book.set_price("BTCUSDT", D("52500"))
        assert [p for p in gw.fetch_positions([BTC]) if p.contracts > 0] == []  # none opened
    finally:
        closer.stop()
        closer.wait()
        repo.close()
        gw.close()
        emu.stop()
