"""Market definitions and precision helpers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange import errors
from exchange.paper import GeneratorPriceSource, PaperExchange
from exchange.paper.markets import derived_steps
from exchange.port import ExchangePort
from tests.exchange.paper.paper_support import BTC, DOGE, ETH


def test_is_an_exchange_port(ex: PaperExchange) -> None:
    assert isinstance(ex, ExchangePort)
    assert ex.id == "paper"


def test_known_market_shape(ex: PaperExchange) -> None:
    markets = ex.load_markets()
    btc = markets[BTC]
    assert btc == ex.market(BTC)
    assert (btc.symbol, btc.settle, btc.swap, btc.linear) == (BTC, "USDT", True, True)
    assert btc.contract_size == Decimal(1)
    assert (btc.amount_step, btc.price_tick) == (Decimal("0.001"), Decimal("0.1"))
    assert btc.min_amount == Decimal("0.001")
    assert btc.min_cost == Decimal("5")
    assert (ex.market(ETH).amount_step, ex.market(ETH).price_tick) == (Decimal("0.01"),
                                                                       Decimal("0.01"))
    assert btc.taker_fee == Decimal("0.00055") and btc.maker_fee == Decimal("0.0002")


def test_unknown_symbols_get_derived_steps(tmp_path, clock) -> None:
    symbols = [f"SYM{i}/USDT:USDT" for i in range(200)]
    source = GeneratorPriceSource(seed=1, epoch_ms=clock.ms)
    ex = PaperExchange(store_path=tmp_path / "p.db", symbols=symbols, price_source=source, clock=clock)
    try:
        for symbol in symbols:
            market = ex.market(symbol)
            price = source.initial_price(symbol)
            step, tick = market.amount_step, market.price_tick
            assert Decimal("0.1") <= step * price <= Decimal("1")
            assert tick <= price * Decimal("1e-4") < tick * 10
            assert market.symbol == symbol and ex.markets[symbol]["id"] == symbol.split("/")[0] + "USDT"
    finally:
        ex.close()


def test_derived_steps_examples() -> None:
    assert derived_steps(Decimal("60000"))[:2] == (Decimal("1E-5"), Decimal("1"))
    assert derived_steps(Decimal("0.1"))[:2] == (Decimal("1"), Decimal("0.00001"))


def test_precision_helpers(ex: PaperExchange) -> None:
    assert ex.amount_to_precision(BTC, Decimal("0.0129")) == Decimal("0.012")  # truncates
    assert ex.amount_to_precision(DOGE, Decimal("99.99")) == Decimal("99")
    assert ex.price_to_precision(BTC, Decimal("60000.04")) == Decimal("60000.0")
    assert ex.price_to_precision(BTC, Decimal("60000.05")) == Decimal("60000.1")  # nearest
    assert ex.price_to_precision(DOGE, Decimal("0.123456")) == Decimal("0.12346")


def test_unknown_symbol_is_bad_symbol(ex: PaperExchange) -> None:
    with pytest.raises(errors.BadSymbol):
        ex.market("NOPE/USDT:USDT")
    with pytest.raises(errors.BadSymbol):
        ex.create_order("NOPE/USDT:USDT", "market", "buy", Decimal(1))
    with pytest.raises(errors.BadSymbol):
        ex.fetch_tickers(["NOPE/USDT:USDT"])


def test_tickers_follow_the_clock(ex: PaperExchange, market) -> None:
    first = ex.fetch_tickers()
    assert set(first) == {BTC, ETH, DOGE}
    assert first[BTC].last == Decimal("60000.0")
    assert first[BTC].bid < first[BTC].last < first[BTC].ask
    market.move(BTC, "60100", "60250.5")
    ticker = ex.fetch_tickers([BTC])[BTC]
    assert ticker.last == Decimal("60250.5")
    assert ticker.timestamp == market.clock.ms
