"""A trade's order that the venue's order search does not list yet (it lags the create and the
trades by up to a few seconds) is asked for again after NOT_FOUND_RECHECK_S: the memo kept one
lagging "Order does not exist" for good, and every later read of that order's trades came
without its client id (an order that landed after a timeout was never matched to its intent).
Within the recheck interval a stranger's trade still costs no second lookup. Real
ccxt.binanceusdm against the emulator on 127.0.0.1, the gateway's clock injected."""

from __future__ import annotations

from decimal import Decimal as D

from exchange.ccxt.client_id_memo import NOT_FOUND_RECHECK_S
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator

BTC = "BTC/USDT:USDT"
LAGGING = {"code": -2013, "msg": "Order does not exist."}


def test_an_order_not_listed_yet_is_asked_for_again_and_its_client_id_found(tmp_path):
    emu = start_emulator("binanceusdm")
    try:
        gw = make_gateway("binanceusdm", emu, tmp_path)
        gw.load_markets()
        ours = gw.create_order(BTC, "market", "buy", D("0.002"), None,
                               {"clientOrderId": "acct-BTC-7e"})
        fake = FakeTime()
        fresh = make_gateway("binanceusdm", emu, tmp_path, fake=fake)  # a restart
        fresh.load_markets()
        since = emu.venue.book.now_ms - 60_000
        emu.fail_next("/fapi/v1/order", status=400, body=LAGGING)  # the search lags
        (first,) = fresh.fetch_my_trades(BTC, since)
        assert first.order_id == ours.id and first.client_order_id is None
        emu.clear()
        (again,) = fresh.fetch_my_trades(BTC, since)  # within the interval: no lookup
        assert again.client_order_id is None
        assert emu.hits("/fapi/v1/order") == []
        fake.now += NOT_FOUND_RECHECK_S
        (later,) = fresh.fetch_my_trades(BTC, since)
        assert later.client_order_id == "acct-BTC-7e"
        assert len(emu.hits("/fapi/v1/order", "GET")) == 1
        (last,) = fresh.fetch_my_trades(BTC, since)  # found: remembered for good
        assert last.client_order_id == "acct-BTC-7e"
        assert len(emu.hits("/fapi/v1/order", "GET")) == 1
        gw.close()
        fresh.close()
    finally:
        emu.stop()
