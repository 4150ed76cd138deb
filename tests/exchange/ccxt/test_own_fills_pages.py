"""The own-fills poll reads every page of trades since its start: the venues answer one page
(Bybit 50 rows unless asked for up to 100, Binance 500 unless asked for up to 1,000), and the
poll used to ask for one default page, so a busy interval's other fills were never reported.
Real gateway, real ccxt classes, emulators that page like the venues."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator
from tests.exchange.ccxt.emu_book import EmuTrade

BTC = "BTC/USDT:USDT"


@pytest.fixture
def emu(request):
    server = start_emulator(request.param)
    yield server
    server.stop()


@pytest.mark.parametrize("emu", ["bybit"], indirect=True)
def test_bybit_poll_pages_by_cursor_at_100_rows(emu, tmp_path):
    gw = make_gateway("bybit", emu, tmp_path)
    gw.load_markets()
    since = emu.venue.book.now_ms  # userTrades/execution list: 7 days from startTime at most
    for i in range(130):  # 130 executions since the last poll (e.g. a grid of small orders)
        emu.venue.book.place(cid=f"m-{i}", symbol="BTCUSDT", side="buy", type="market",
                             qty=D("0.001"), price=None, trigger=None, trigger_direction=None,
                             reduce_only=False)
    fills = gw.poll_updates(since)
    assert sorted(f.client_order_id for f in fills) == sorted(f"m-{i}" for i in range(130))
    pages = [r.params for r in emu.hits("/v5/execution/list")
             if r.params.get("execType") == "Trade"]  # (the liquidation reads: one page each)
    assert [p.get("limit") for p in pages] == ["100", "100"]
    assert "cursor" not in pages[0] and pages[1]["cursor"] == "100"
    assert gw.poll_updates(since) == []  # each fill once
    gw.close()


@pytest.mark.parametrize("emu", ["binanceusdm"], indirect=True)
def test_binance_poll_pages_by_trade_id_at_1000_rows(emu, tmp_path):
    gw = make_gateway("binanceusdm", emu, tmp_path)
    gw.load_markets()
    since = emu.venue.book.now_ms  # userTrades/execution list: 7 days from startTime at most
    gw.create_order(BTC, "limit", "buy", D("0.011"), D("50000"), {"clientOrderId": "big-1"})
    book = emu.venue.book
    order = book.find(cid="big-1")
    for _ in range(1100):  # the resting order fills in 1,100 small pieces
        book.trades.append(EmuTrade(book.next_id(), order, D("50000"), D("0.00001"), D("0"),
                                    book.tick()))
    emu.clear()
    fills = gw.poll_updates(since, symbols=[BTC])
    assert len(fills) == 1100 and {f.client_order_id for f in fills} == {"big-1"}
    pages = [r.params for r in emu.hits("/fapi/v1/userTrades")]
    assert [p.get("limit") for p in pages] == ["1000", "1000"]
    first_id = min(int(f.id) for f in fills)
    assert pages[1]["fromId"] == str(first_id + 1000) and "startTime" not in pages[1]
    gw.close()
