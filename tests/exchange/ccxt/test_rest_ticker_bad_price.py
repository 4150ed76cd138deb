"""A REST ticker whose last price no market trades at (negative, NaN, infinite) is no price.

REST is the feed while the streams are down, the price of the symbols the stream leaves silent
and reconciliation's price. The raw stream reader already skipped such a price
(raw_tickers.py); through REST it went on: a long's stop "crossed" at -5 (a market close), and
a NaN raised in every comparison the actor and the price slot make (ccxt's parser passes a
float one on; a "NaN" string from Bybit or Binance fails ccxt's own parsing). Here: the real gateway
against the venue's HTTP emulator, the real REST feed into real price slots, and
reconciliation's price read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from loguru import logger

from actors.exchange_snapshot import last_price
from actors.market_feed import MarketFeed
from actors.price_slots import PriceSlots
from exchange.ccxt import convert
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
def test_a_negative_rest_price_reaches_no_actor_and_no_reconcile(tmp_path, venue):
    emu = start_emulator(venue)
    try:
        emu.venue.book.prices["ETHUSDT"] = Decimal("-5")  # ccxt 4.5.90 passes it on
        gateway = make_gateway(venue, emu, tmp_path)
        prices = PriceSlots([BTC, ETH])
        told: list[tuple[str, object]] = []
        feed = MarketFeed(exchange=gateway, symbols=[BTC, ETH],
                          deliver=lambda s, m: told.append((s, m)) or True, interval_s=1.0,
                          own_prefix="main-t1-", logger=logger, prices=prices,
                          fetch_fills=lambda since_ms: [])
        feed.poll_once()
        btc, eth = prices.get(BTC), prices.get(ETH)
        assert btc is not None and eth is not None
        assert [t.price for t in btc.take_all()] == [Decimal("50000")]  # the others still go
        assert eth.take_all() == ()
        assert [s for s, _ in told] == [BTC]
        assert last_price(gateway, ETH) is None
        assert last_price(gateway, BTC) == Decimal("50000")
    finally:
        emu.stop()


@pytest.mark.parametrize("bad", [-5.0, 0.0, float("nan"), float("inf"), "-0.1", "1e999999999",
                                 "1e15"])
def test_a_converted_ticker_has_no_price_no_market_trades_at(bad):
    ticker = convert.ticker({"symbol": ETH, "last": bad, "quoteVolume": 1000.0})
    assert ticker.last is None and ticker.quote_volume == Decimal("1000.0")
    assert convert.ticker({"symbol": ETH, "last": 3000.5}).last == Decimal("3000.5")


def test_an_absurdly_large_price_would_have_crashed_the_decision_core():
    """Why a finite number far past any market's price is no price either: the venue's digits
    are read as Decimal (the raw stream reader, the price ticker), and 1e999999999 is finite
    there, but the decision core's first product with it raised decimal.Overflow (Emax
    999999): the symbol's actor crashed on every such tick. No market trades at 1e15 (BTC
    ~1e5); the ceiling is far above every real price and far below any overflow."""
    from tests.trading.conftest import make_rules
    from tests.trading.scenario import Scenario
    from trading.decide import SymbolCore
    from trading.events import PriceTicked, SignalRaised
    from trading.model import Side

    sc = Scenario(SymbolCore(make_rules()))
    sc.send(PriceTicked(price=Decimal("100")))
    sc.send(SignalRaised(side=Side.LONG))
    with pytest.raises(ArithmeticError):  # what the ceiling keeps from every actor
        sc.send(PriceTicked(price=Decimal("1e999999999")))
    assert not convert.tradeable(Decimal("1e999999999"))
    assert convert.tradeable(Decimal("999999999999999"))  # just under the ceiling: a price


@pytest.mark.parametrize("field", ["average", "filled", "price"])
def test_an_order_answer_with_a_number_no_market_has_is_unreadable(field):
    """The same ceiling for an order's answer (its fill is booked from it)."""
    import ccxt

    raw = {"id": "1", "symbol": ETH, "status": "closed", "amount": 1.0, "filled": 1.0,
           "average": 3000.0, "price": 3000.0, "side": "buy", "type": "market"}
    assert convert.order(raw).average == Decimal("3000.0")
    with pytest.raises(ccxt.BadResponse, match=field):
        convert.order(raw | {field: "1e999999999"})
