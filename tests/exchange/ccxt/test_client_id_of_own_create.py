"""The gateway remembers the client id of each order it created (gateway.py `_submit`,
`client_id_memo._remember_cid`), so the REST fills poll names a fill of that order by its
client id at once, with no order lookup, whatever the venue's order search says. Binance's
`userTrades` name only the exchange's `orderId`; its order search lags the create by up to a
few seconds (client_id_memo.py). Mutation audit (issue 12): dropping `_remember_cid` from
`_submit` failed no test: every fill of ours then cost one order lookup, and while that lookup
lagged ("Order does not exist") the fill came without its client id: the actor took its own
entry's fill for an unknown one (a reconciliation instead of the entry's own booking). Real
ccxt.binanceusdm against the emulator on 127.0.0.1."""

from __future__ import annotations

from decimal import Decimal as D

from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator

BTC = "BTC/USDT:USDT"
LAGGING = {"code": -2013, "msg": "Order does not exist."}


def test_the_fill_of_an_order_just_created_carries_its_client_id_without_a_lookup(tmp_path):
    emu = start_emulator("binanceusdm")
    gw = make_gateway("binanceusdm", emu, tmp_path, fake=FakeTime())
    try:
        gw.load_markets()
        since = emu.venue.book.now_ms - 60_000
        ours = gw.create_order(BTC, "market", "buy", D("0.002"), None,
                               {"clientOrderId": "acct-BTC-7f"})
        emu.clear()
        emu.fail_next("/fapi/v1/order", 3, status=400, body=LAGGING)  # the search lags
        (fill,) = gw.poll_updates(since, [BTC])
        assert fill.order_id == ours.id and fill.client_order_id == "acct-BTC-7f"
        assert emu.hits("/fapi/v1/order", "GET") == []  # named from the create's answer
    finally:
        gw.close()
        emu.stop()
