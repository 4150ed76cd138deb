"""Bybit's all-symbol position list (GET /v5/position/list with `settleCoin`) answers at most
200 rows a page, the rest by `nextPageCursor`; ccxt 4.5.90's bybit.fetch_positions reads one
page. An account holding more rows than that lost the rest from the reconcile sweep (a held
position there read as flat). The gateway follows the cursor, bounded: a cursor named again
is an unreadable answer, never an endless loop. Real ccxt.bybit against the emulator, which
pages as the venue does."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import make_gateway
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import INSTRUMENTS, BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer

D = Decimal
COINS = [f"C{i}" for i in range(230)]
MANY = [{**INSTRUMENTS[0], "symbol": f"{c}USDT", "baseCoin": c} for c in COINS]


class LoopingVenue(BybitVenue):
    """Names the same next page after every full page (a venue's cursor loop)."""

    def h_v5_position_list(self, p):  # noqa: ANN001, ANN201
        status, body = super().h_v5_position_list({**p, "cursor": ""})
        if body["result"]["list"]:
            body["result"]["nextPageCursor"] = "200"
        return status, body


def _rig(tmp_path, venue_class: type[BybitVenue]):  # noqa: ANN001, ANN202
    book = Book({f"{c}USDT": D("10") for c in COINS})
    for c in COINS:
        book.positions[(f"{c}USDT", "net")] = (D("1"), D("10"))
    emu = EmulatorServer(venue_class(book, MANY)).start()
    gw = make_gateway("bybit", emu, tmp_path, symbols=[f"{COINS[0]}/USDT:USDT"],
                      max_attempts=2)
    return emu, gw


def test_every_position_is_read_past_the_first_page(tmp_path) -> None:  # noqa: ANN001
    emu, gw = _rig(tmp_path, BybitVenue)
    try:
        held = {p.symbol for p in gw.fetch_positions(None)}
        assert held == {f"{c}/USDT:USDT" for c in COINS}
        assert len(emu.hits("/v5/position/list")) == 2
    finally:
        gw.close()
        emu.stop()


def test_a_cursor_named_again_is_unreadable_not_an_endless_loop(tmp_path) -> None:  # noqa: ANN001
    emu, gw = _rig(tmp_path, LoopingVenue)
    try:
        with pytest.raises(errors.TemporaryError, match="names page '200' again"):
            gw.fetch_positions(None)
    finally:
        gw.close()
        emu.stop()
