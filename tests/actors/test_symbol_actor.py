"""The symbol actor on the paper exchange: real pykka threads, real SQLite, manual clock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from storage import queries
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


@pytest.fixture
def bot(tmp_path):
    h = Harness(tmp_path, [BTC, ETH]).start()
    yield h
    h.stop()


def test_signal_opens_position_with_reduce_only_exchange_stop(bot):
    bot.poll()
    assert bot.signal(BTC, Side.LONG)
    bot.idle(BTC)
    pos = bot.exchange_position(BTC)
    assert pos is not None and pos.side == "long"
    (stop,) = bot.exchange_stops(BTC)
    assert stop.reduce_only and stop.side == "sell" and stop.amount == pos.contracts
    view = bot.view(BTC)
    assert view.phase == "open" and view.protected
    assert Decimal(view.stop_price) == stop.trigger_price
    types = [e["type"] for e in queries.events(BTC)]
    assert types[:3] == ["EntryRequested", "PositionOpened", "StopRequested"] or "StopPlaced" in types
    assert bot.exchange_position(ETH) is None


def test_stop_triggered_on_exchange_books_pnl_equal_to_exchange(bot):
    bot.poll()
    bot.signal(BTC, Side.LONG)
    bot.idle(BTC)
    stop_price = bot.exchange_stops(BTC)[0].trigger_price
    # walk the clock until the paper price path crosses the stop
    for _ in range(20000):
        bot.clock.advance(60)
        bot.paper.fetch_tickers([BTC])  # the exchange walks its price path up to now
        if bot.exchange_position(BTC) is None:
            break
    assert bot.exchange_position(BTC) is None, f"price never crossed {stop_price}"
    bot.poll()  # the feed sees the stop's fill and tells the actor
    wait_until(lambda: bot.view(BTC).phase == "flat", message="position closed")
    closed = queries.events(BTC, "PositionClosed")
    assert len(closed) == 1
    assert Decimal(closed[0]["data"]["net_pnl"]) == queries.ledger_net_pnl(BTC)
    assert queries.ledger_net_pnl(BTC) == bot.paper.realized_pnl_total(BTC)
    assert not bot.exchange_stops(BTC) and not bot.paper.fetch_open_orders(BTC)


def test_exit_signal_closes_and_cancels_every_order_of_the_position(bot):
    bot.poll()
    bot.signal(ETH, Side.SHORT)
    bot.idle(ETH)
    assert bot.exchange_stops(ETH)
    bot.signal(ETH, None)
    bot.idle(ETH)
    assert bot.exchange_position(ETH) is None
    assert bot.paper.fetch_open_orders(ETH) == []
    assert bot.view(ETH).phase == "flat"
    assert queries.ledger_net_pnl(ETH) == bot.paper.realized_pnl_total(ETH)


def test_restart_reconciles_position_closed_while_down(tmp_path):
    h = Harness(tmp_path, [BTC]).start()
    h.poll()
    h.signal(BTC, Side.LONG)
    h.idle(BTC)
    h.stop()
    # while the bot is down, someone closes the position by hand on the exchange
    h2 = Harness(tmp_path, [BTC], clock=h.clock)
    pos = h2.exchange_position(BTC)
    for o in h2.paper.fetch_open_orders(BTC):
        h2.paper.cancel_order(o.id, BTC)
    h2.paper.create_order(BTC, "market", "sell", pos.contracts, None,
                          {"reduceOnly": True, "clientOrderId": "manual-close-1"})
    h2.start()
    wait_until(lambda: h2.view(BTC) and h2.view(BTC).reconciled, message="reconciled")
    assert h2.view(BTC).phase == "flat"
    closed = queries.events(BTC, "PositionClosed")
    assert closed and closed[-1]["data"]["reason"] == "closed_on_exchange"
    assert queries.ledger_net_pnl(BTC) == h2.paper.realized_pnl_total(BTC)
    h2.stop()


def test_restart_places_missing_stop_and_cancels_orphans(tmp_path):
    h = Harness(tmp_path, [BTC]).start()
    h.poll()
    h.signal(BTC, Side.LONG)
    h.idle(BTC)
    h.stop()
    h2 = Harness(tmp_path, [BTC], clock=h.clock)
    for o in h2.paper.fetch_open_orders(BTC):  # the stop vanished
        h2.paper.cancel_order(o.id, BTC)
    price = h2.paper.fetch_tickers([BTC])[BTC].last
    far = h2.paper.price_to_precision(BTC, price * Decimal("0.5"))
    h2.paper.create_order(BTC, "limit", "buy", Decimal("0.001"), far, {"clientOrderId": "stray-1"})
    h2.start()
    wait_until(lambda: h2.view(BTC) and h2.view(BTC).protected, message="stop placed again")
    open_ids = [o.client_order_id for o in h2.paper.fetch_open_orders(BTC)]
    assert "stray-1" not in open_ids and len(h2.exchange_stops(BTC)) == 1
    types = [e["type"] for e in queries.events(BTC)]
    assert "OrphanCanceled" in types
    h2.stop()
