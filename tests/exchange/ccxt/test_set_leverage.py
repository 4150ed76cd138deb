"""The port's `set_leverage` over the REAL ccxt.bybit / ccxt.binanceusdm classes against the
emulators: the venue's leverage for the symbol is the one asked, Bybit's "not modified" is
success, a leverage above the symbol's maximum is the venue's refusal (a port error quoting
it), and the call is paid at entry priority and fenced like every other."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from exchange.fence import CallScope, FenceBoard, Fenced, call_scope
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, gateway_on_emulator

BTC = "BTC/USDT:USDT"


def test_bybit_sets_both_sides_to_the_leverage_asked(tmp_path):
    with gateway_on_emulator("bybit", tmp_path) as (gw, emu):
        assert emu.venue.leverage_of("BTCUSDT") == D("10")  # the venue's own until set
        gw.set_leverage(5, BTC)
        assert emu.venue.leverage_of("BTCUSDT") == D("5")
        (hit,) = emu.hits("/v5/position/set-leverage", "POST")
        assert hit.params == {"category": "linear", "symbol": "BTCUSDT", "buyLeverage": "5",
                              "sellLeverage": "5"}
        assert gw.fetch_positions([BTC]) == []  # flat; its row reads the new leverage
        assert emu.venue.leverage_of("ETHUSDT") == D("10")  # another symbol keeps its own


def test_bybit_not_modified_is_success(tmp_path):
    with gateway_on_emulator("bybit", tmp_path) as (gw, emu):
        gw.set_leverage(10, BTC)  # what the symbol already has: retCode 110043
        gw.set_leverage(10, BTC)
        assert len(emu.hits("/v5/position/set-leverage")) == 2
        assert emu.venue.leverage_of("BTCUSDT") == D("10")


def test_bybit_leverage_above_the_symbols_maximum_is_refused(tmp_path):
    with gateway_on_emulator("bybit", tmp_path) as (gw, emu):
        with pytest.raises(errors.BadRequest, match="10001.*leverage invalid"):
            gw.set_leverage(101, BTC)  # BTCUSDT's maxLeverage is 100
        assert emu.venue.leverage_of("BTCUSDT") == D("10")
        assert len(emu.hits("/v5/position/set-leverage")) == 1  # a refusal is not retried


def test_binance_sets_the_symbols_leverage(tmp_path):
    with gateway_on_emulator("binanceusdm", tmp_path) as (gw, emu):
        assert emu.venue.leverage_of("BTCUSDT") == 20
        gw.set_leverage(5, BTC)
        assert emu.venue.leverage_of("BTCUSDT") == 5
        (hit,) = emu.hits("/fapi/v1/leverage", "POST")
        assert hit.params["symbol"] == "BTCUSDT" and hit.params["leverage"] == "5"
        gw.set_leverage(5, BTC)  # the same again: Binance answers it as a change
        assert emu.venue.leverage_of("BTCUSDT") == 5


def test_binance_leverage_above_the_symbols_bracket_is_refused(tmp_path):
    with gateway_on_emulator("binanceusdm", tmp_path) as (gw, emu):
        emu.venue.max_leverage["BTCUSDT"] = 50
        with pytest.raises(errors.BadRequest, match="-4028.*Leverage 75 is not valid"):
            gw.set_leverage(75, BTC)
        assert emu.venue.leverage_of("BTCUSDT") == 20


def test_set_leverage_is_paid_at_entry_priority(tmp_path):
    with gateway_on_emulator("bybit", tmp_path, fake=FakeTime(),
                             rate_limit_per_s=None) as (gw, emu):
        ip = gw.meter.venue.ip
        before = dict(ip.spent)
        gw.set_leverage(5, BTC)
        paid = {p.name.lower() for p in ip.spent if ip.spent[p] != before[p]}
        assert paid == {"entry"}


def test_set_leverage_refused_by_the_budget_sends_nothing(tmp_path):
    with gateway_on_emulator("bybit", tmp_path, fake=FakeTime(),
                             rate_limit_per_s=None) as (gw, emu):
        gw.meter.venue.ip.block_for(60)
        with pytest.raises(errors.RateLimited):
            gw.set_leverage(5, BTC)
        assert emu.hits("/v5/position/set-leverage") == []


def test_a_replaced_incarnation_sets_no_leverage(tmp_path):
    with gateway_on_emulator("bybit", tmp_path) as (gw, emu):
        fences = FenceBoard()
        old = fences.issue(BTC)
        fences.issue(BTC)  # a newer incarnation took the symbol
        with call_scope(CallScope(fence=old)), pytest.raises(Fenced):
            gw.set_leverage(5, BTC)
        assert emu.hits("/v5/position/set-leverage") == []
