"""One market the venue lists with a "NaN" limit no longer fails the load of every market.

load_markets converts every market of the venue (Bybit: every linear instrument, hundreds),
the traded symbols among them. A market whose maximum order quantity was "NaN" read as a
Decimal NaN, and comparing it (the smaller of the limit and market-order maxima) raised
decimal.InvalidOperation out of load_markets: the bot could not start, nor reload its markets,
for one instrument it does not even trade (and the markets cache, written before the
conversion, kept it failing). Such a market is now left out, as one whose numbers are not
numbers at all ('abc') already was. Real ccxt bybit class against the emulator."""

from __future__ import annotations

import copy
from decimal import Decimal as D

import pytest

from runtime.wiring import StartupError, check_symbols
from tests.exchange.ccxt.ccxt_fixtures import PRICES, make_gateway
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import INSTRUMENTS, BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


@pytest.mark.parametrize("key", ["maxOrderQty", "maxMktOrderQty", "minOrderQty"])
def test_a_market_with_a_nan_limit_is_left_out_and_the_others_load(key, tmp_path):
    sol = copy.deepcopy(INSTRUMENTS[1])
    sol.update(symbol="SOLUSDT", baseCoin="SOL")
    sol["lotSizeFilter"][key] = "NaN"
    emu = EmulatorServer(BybitVenue(Book(dict(PRICES)), instruments=INSTRUMENTS + [sol])).start()
    try:
        gw = make_gateway("bybit", emu, tmp_path, symbols=[BTC])
        markets = gw.load_markets()
        assert {BTC, ETH} <= set(markets) and "SOL/USDT:USDT" not in markets
        assert markets[BTC].price_tick == D("0.10") and markets[BTC].max_amount == D("119")
        gw.close()
    finally:
        emu.stop()


def test_a_configured_symbol_left_out_is_refused_at_start_with_the_reason(tmp_path):
    """The start error of a configured symbol whose market was left out said only "is not a
    market" (the reason went to a debug line nobody reads at info level): the user went
    looking for a typo in symbols.list. It names the unreadable field now, on one line."""
    sol = copy.deepcopy(INSTRUMENTS[1])
    sol.update(symbol="SOLUSDT", baseCoin="SOL")
    sol["lotSizeFilter"]["maxOrderQty"] = "NaN"
    emu = EmulatorServer(BybitVenue(Book(dict(PRICES)), instruments=INSTRUMENTS + [sol])).start()
    try:
        gw = make_gateway("bybit", emu, tmp_path, symbols=[BTC, SOL])
        with pytest.raises(StartupError) as refused:
            check_symbols(gw, [BTC, SOL])
        text = str(refused.value)
        assert "\n" not in text and repr(SOL) in text and "bybit" in text
        assert "left out" in text and "unreadable max NaN" in text, text
        check_symbols(gw, [BTC])  # the others still start
        with pytest.raises(Exception) as asked:  # and asked for, it says why, not another reason
            gw.market(SOL)
        assert "unreadable max NaN" in str(asked.value), asked.value
        gw.close()
    finally:
        emu.stop()
