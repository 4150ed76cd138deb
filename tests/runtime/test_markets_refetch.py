"""Issue 16 item 15: a markets cache with no markets, or a market missing its precision, is
refetched from the exchange instead of blaming symbols.list or crash-looping on
KeyError: 'amount'; still unusable after the refetch is one line about the exchange's data."""

from __future__ import annotations

from typing import Any

import pytest

from decimal import Decimal as D

from exchange.errors import BadRequest
from exchange.records import VenueMarket
from runtime.wiring import StartupError, check_symbols, market_rules

BTC = "BTC/USDT:USDT"
GOOD = {BTC: VenueMarket(symbol=BTC, swap=True, linear=True, amount_step=D("0.001"),
                         price_tick=D("0.1"), min_amount=D("0.001"), min_cost=D(5))}
NO_PRECISION = BadRequest(f"market {BTC} has no amount/price precision")


class CachedThenFresh:
    """An exchange port whose first load_markets answers from a damaged cache."""

    id = "emu"

    def __init__(self, cached: dict[str, Any] | Exception, fresh: dict[str, Any]) -> None:
        self.answers = {False: cached, True: fresh}
        self.current: dict[str, Any] = {}
        self.calls: list[bool] = []

    def load_markets(self, reload: bool = False) -> dict[str, Any]:
        self.calls.append(reload)
        answer = self.answers[reload]
        if isinstance(answer, Exception):  # the port's converter refuses a market without precision
            raise answer
        self.current = answer
        return self.current

    def market(self, symbol: str) -> dict[str, Any]:
        return self.current[symbol]


@pytest.mark.parametrize("cached", [{}, NO_PRECISION])
def test_damaged_cache_is_refetched(cached):
    exchange = CachedThenFresh(cached, GOOD)
    check_symbols(exchange, [BTC])
    assert exchange.calls == [False, True]
    assert str(market_rules(exchange, BTC).amount_step) == "0.001"


def test_still_empty_after_refetch_names_the_exchange_not_the_config():
    with pytest.raises(StartupError, match=r"exchange emu: markets unusable after a refetch "
                                           r"\(no markets at all\)") as info:
        check_symbols(CachedThenFresh({}, {}), [BTC])
    assert "symbols.list" not in str(info.value)


def test_good_cache_is_not_refetched():
    exchange = CachedThenFresh(GOOD, GOOD)
    check_symbols(exchange, [BTC])
    assert exchange.calls == [False]


def test_a_market_whose_contract_is_not_one_unit_of_the_base_is_refused():
    """The bot's amounts, positions and P&L are in base units (ccxt's `amount` is contracts):
    on a venue whose linear swap contract is 0.01 BTC (OKX's BTC-USDT-SWAP) an entry sized at
    0.5 BTC held 0.005 BTC and the ledger booked 100 times its P&L. Refused at start, naming the
    contract size; Bybit's and Binance USDⓈ-M's linear contracts are 1."""
    okx = {BTC: VenueMarket(symbol=BTC, swap=True, linear=True, amount_step=D("0.01"),
                            price_tick=D("0.1"), min_amount=D("0.01"), min_cost=None,
                            contract_size=D("0.01"))}
    with pytest.raises(StartupError, match=r"contract size 0\.01"):
        check_symbols(CachedThenFresh(okx, okx), [BTC])
