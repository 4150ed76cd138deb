"""A balance the venue states as no finite number ("NaN", "Infinity") is an unreadable answer
(a temporary error naming the call), never a free balance of NaN (found by review: Binance's
account read with `availableBalance: "NaN"` came out of the port as Funds(free=NaN); the entry
gate's comparison with it raised decimal.InvalidOperation inside every symbol's decision, and
each actor that asked for an entry crashed and restarted, a traceback each time).

Real gateway, real ccxt.binanceusdm, the emulator on 127.0.0.1; the account's balance watch
reading through it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from loguru import logger

from actors.balance_watch import BalanceWatch
from actors.entry_gate import AccountGate
from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator

BTC = "BTC/USDT:USDT"
PATH = "/fapi/v3/account"


def _asset(coin: str, free: str) -> dict:
    return {"accountAlias": "SgsR", "asset": coin, "walletBalance": "100",
            "marginBalance": "100", "initialMargin": "0", "crossWalletBalance": "100",
            "crossUnPnl": "0", "availableBalance": free, "maxWithdrawAmount": "100",
            "marginAvailable": True, "updateTime": 1}


def _account(free: str, *others: dict) -> dict:
    return {"totalInitialMargin": "0", "totalWalletBalance": "100", "availableBalance": free,
            "assets": [_asset("USDT", free), *others], "positions": []}


@pytest.fixture
def gw(tmp_path):
    emu = start_emulator("binanceusdm")
    gateway = make_gateway("binanceusdm", emu, tmp_path)
    gateway.load_markets()
    yield gateway, emu
    gateway.close()
    emu.stop()


@pytest.mark.parametrize("free", ["NaN", "Infinity"])
def test_a_balance_of_no_finite_number_is_unreadable_and_the_gate_keeps_its_last(gw, free):
    gateway, emu = gw
    gate = AccountGate(max_open_positions=None, clock=lambda: 0.0)
    watch = BalanceWatch(exchange=gateway, gate=gate, symbols=[BTC], interval_s=30,
                         logger=logger)
    assert watch.read_once() == Decimal("10000")
    emu.fail_next(PATH, 10, body=_account(free))
    with pytest.raises(errors.TemporaryError, match="unreadable"):
        watch.read_once()
    assert gate.free_margin == Decimal("10000")
    assert gate.admit("BTC/USDT:USDT", "signal", reconciled=True, margin=Decimal(200)) is None


def test_another_coins_figure_of_no_finite_number_leaves_the_settle_coin_read(gw):
    """The sibling of the all-symbol ticker read's "NaN" row of a market the bot does not trade
    (README, Errors): one coin's figure of no finite number failed the whole balance read, so
    a "NaN" of a coin the account does not settle in (a multi-assets account lists BNB, BTC,
    ...) left the entry gate's free margin unknown and refused every order a hedge grid's
    balance check guards ("balance check failed") for as long as it lasted. Only the coin asked
    for is unreadable now; the settle coin's figure is read."""
    gateway, emu = gw
    gate = AccountGate(max_open_positions=None, clock=lambda: 0.0)
    watch = BalanceWatch(exchange=gateway, gate=gate, symbols=[BTC], interval_s=30,
                         logger=logger)
    emu.fail_next(PATH, 10, body=_account("100", _asset("BNB", "NaN")))
    assert watch.read_once() == Decimal("100")
    assert gate.free_margin == Decimal("100")
    balance = gateway.fetch_balance()
    with pytest.raises(errors.TemporaryError, match="unreadable balance: BNB"):
        balance.listed("BNB")
