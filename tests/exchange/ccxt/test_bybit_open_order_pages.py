"""Bybit's open-order list (GET /v5/order/realtime) answers 20 orders unless asked for up to 50,
newest first, the rest by `nextPageCursor`; ccxt 4.5.90's bybit.fetch_open_orders asks for one
default page. The reads that look for orders nobody owns (the account's sweep, a symbol's
reconciliation, the emergency close's cancels) saw the newest 20 open orders only: with more
than 20 resting in the account (a stop per position, grid levels), an order nobody owns among
the older ones was never found, never cancelled, and could fill into a position nobody wanted.
Real ccxt.bybit against the emulator, which now pages as the venue does."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from loguru import logger

from actors import exchange_snapshot
from actors.exchange_sweep import ExchangeSweep
from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import PRICES, make_gateway, start_emulator
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
D = Decimal


def test_every_open_order_is_read_past_the_first_page(tmp_path) -> None:  # noqa: ANN001
    emu = start_emulator("bybit")
    gw = make_gateway("bybit", emu, tmp_path)
    try:
        gw.create_order(ETH, "limit", "buy", D("0.1"), D("1500"), {"clientOrderId": "by-hand-e"})
        gw.create_order(BTC, "limit", "buy", D("0.001"), D("30000"), {"clientOrderId": "by-hand-b"})
        ours = [f"ours-{i}" for i in range(25)]
        for i, cid in enumerate(ours):
            gw.create_order(BTC, "limit", "buy", D("0.001"), D(40000 - i), {"clientOrderId": cid})

        listed = {o.client_order_id for o in gw.fetch_open_orders(None)}
        assert listed == {"by-hand-e", "by-hand-b", *ours}
        orphans = exchange_snapshot.orphans(gw, BTC, set(ours))
        assert [o.client_order_id for o in orphans] == ["by-hand-b"]

        views = {BTC: SimpleNamespace(state=SimpleNamespace(
                     position=None, orders=tuple(SimpleNamespace(client_order_id=c)
                                                 for c in ours + ["by-hand-b"]))),
                 ETH: SimpleNamespace(state=SimpleNamespace(position=None, orders=()))}
        told: list[str] = []
        sweep = ExchangeSweep(exchange=gw, symbols=[BTC, ETH], views=views, logger=logger,
                              deliver=lambda symbol, message: told.append(symbol) or True)
        assert sweep.sweep_once() == 1 and told == [ETH]  # the flat symbol's order is found
    finally:
        emu.stop()


class LoopingOrders(BybitVenue):
    """Names the same next page after every full page of open orders (a cursor loop)."""

    def h_v5_order_realtime(self, p):  # noqa: ANN001, ANN201
        status, body = super().h_v5_order_realtime({**p, "cursor": ""})
        if len(body["result"]["list"]) == int(p.get("limit") or 20):
            body["result"]["nextPageCursor"] = "50"
        return status, body


def test_a_cursor_named_again_is_unreadable_not_forty_copies(tmp_path) -> None:  # noqa: ANN001
    """A venue naming the same page again was read 40 times (MAX_OPEN_PAGES): 40 requests and
    every order of the page listed 40 times. It is an unreadable answer, said at once."""
    emu = EmulatorServer(LoopingOrders(Book(PRICES))).start()
    gw = make_gateway("bybit", emu, tmp_path, max_attempts=2)
    try:
        for i in range(50):
            gw.create_order(BTC, "limit", "buy", D("0.001"), D(40000 - i),
                            {"clientOrderId": f"ours-{i}"})
        emu.clear()
        with pytest.raises(errors.TemporaryError, match="names page '50' again"):
            gw.fetch_open_orders(BTC)
        assert len(emu.hits("/v5/order/realtime")) == 4  # 2 pages, 2 attempts
    finally:
        gw.close()
        emu.stop()
