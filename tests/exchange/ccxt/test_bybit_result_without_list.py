"""Bybit answering a list read with retCode 0 and `result: null` (or a result without its
`list`) is an unreadable answer naming the path, never an empty list: ccxt 4.5.90 read it as
no positions, no open orders, no such order, no trades, an empty balance, no tickers (an empty
position answer made a held position look gone). Real gateway, real ccxt, the Bybit emulator."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import PRICES, gateway_on_emulator, make_gateway
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer

BTC = "BTC/USDT:USDT"
SINCE = 1_700_000_000_000 - 3_600_000
OK = {"retCode": 0, "retMsg": "OK", "retExtInfo": {}, "time": 0}
BODIES = [{**OK, "result": None}, {**OK, "result": {"category": "linear"}},
          {**OK, "result": {"category": "linear", "list": None}}]
READS = [
    ("/v5/position/list", lambda gw: gw.fetch_positions([BTC])),
    ("/v5/position/list", lambda gw: gw.fetch_positions()),
    ("/v5/order/realtime", lambda gw: gw.fetch_open_orders(BTC)),
    ("/v5/order/realtime", lambda gw: gw.fetch_open_orders()),
    ("/v5/order/realtime", lambda gw: gw.fetch_order(None, BTC, {"clientOrderId": "n-1"})),
    ("/v5/order/history", lambda gw: gw.fetch_order(None, BTC, {"clientOrderId": "n-1"})),
    ("/v5/execution/list", lambda gw: gw.fetch_my_trades(BTC, SINCE)),
    ("/v5/account/wallet-balance", lambda gw: gw.fetch_balance()),
    ("/v5/market/tickers", lambda gw: gw.fetch_tickers()),
    ("/v5/market/tickers", lambda gw: gw.fetch_tickers([BTC])),
]


@pytest.fixture
def gw(tmp_path):
    # 5 s: the request timeout is also the signed recvWindow (exchange/ccxt/instances.py), and
    # 500 ms was seen refused as 10002 on a machine at load 10 (no timeout is tested here)
    with gateway_on_emulator("bybit", tmp_path, timeout_ms=5000, max_attempts=2) as pair:
        yield pair


@pytest.mark.parametrize("body", BODIES, ids=["null", "no-list", "list-null"])
def test_a_list_read_answered_without_its_list_is_a_temporary_error(gw, body):
    gateway, emu = gw
    for path, read in READS:
        emu.fail_next(path, 10, body=body)
        with pytest.raises(errors.TemporaryError, match=f"{path}: retCode 0 with a result"):
            read(gateway)
        emu.clear_faults(path)


EMPTY = {**OK, "result": {"category": "linear", "list": [], "nextPageCursor": ""}}


def test_an_empty_list_is_still_an_empty_answer(gw):
    gateway, emu = gw
    emu.fail_next("/v5/position/list", 10, body=EMPTY)
    assert gateway.fetch_positions() == []


def test_a_one_symbol_position_read_listing_no_row_is_a_temporary_error(gw):
    """Bybit lists the symbol asked for even when flat (size "0"): an empty list for it is
    malformed, never "no position" (it made a held position look closed)."""
    gateway, emu = gw
    emu.fail_next("/v5/position/list", 10, body=EMPTY)
    with pytest.raises(errors.TemporaryError, match=f"fetch_positions {BTC}: the answer lists"):
        gateway.fetch_positions([BTC])
    emu.clear_faults("/v5/position/list")
    assert gateway.fetch_positions([BTC]) == []  # the venue's flat row: no position


def test_a_wallet_balance_listing_no_account_is_a_temporary_error(gw):
    """Bybit's wallet balance always lists the account asked for; ccxt read an empty list as
    an account without funds (the grid's balance check then refused: 'free 0')."""
    gateway, emu = gw
    path = "/v5/account/wallet-balance"
    emu.fail_next(path, 10, body={**OK, "result": {"list": []}})
    with pytest.raises(errors.TemporaryError, match=f"{path}: a wallet balance that lists no"):
        gateway.fetch_balance()
    emu.clear_faults(path)
    assert gateway.fetch_balance().free("USDT") > 0


def test_a_hedge_mode_position_read_missing_a_leg_is_a_temporary_error(tmp_path):
    """In hedge mode Bybit lists both legs of the symbol asked (positionIdx 1 and 2, flat ones
    size "0"): an answer without the long's row made a held long look closed."""
    book = Book(PRICES)
    book.hedge = True
    venue = BybitVenue(book)
    with EmulatorServer(venue) as emu:
        gateway = make_gateway("bybit", emu, tmp_path, hedge_mode=True, max_attempts=2)
        try:
            book.positions[("BTCUSDT", "long")] = (Decimal("0.01"), Decimal("50000"))
            short_only = [venue._position_row("BTCUSDT", 2, Decimal(0), Decimal(0))]
            emu.fail_next("/v5/position/list", 10, body={**OK, "result": {
                "category": "linear", "list": short_only, "nextPageCursor": ""}})
            with pytest.raises(errors.TemporaryError,
                               match=f"fetch_positions {BTC}: .* hedge leg positionIdx 1"):
                gateway.fetch_positions([BTC])
            emu.clear_faults("/v5/position/list")
            (held,) = gateway.fetch_positions([BTC])
            assert held.contracts == Decimal("0.01")
        finally:
            gateway.close()
