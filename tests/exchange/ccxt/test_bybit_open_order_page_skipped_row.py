"""Bybit answers open orders 50 a page at most, the next page named by `nextPageCursor`, and
the paging (bybit_pages.py) takes a page shorter than 50 for the last. When ccxt cannot parse
a page whole (a "NaN" price of an order placed by hand on a symbol the account does not
trade), the page is read row by row and that row skipped: a FULL page so read came back short,
so the reader failed the whole read rather than let the paging stop there: the sweep's
all-symbol open-order read failed on every attempt for as long as that order rested among the
newest 50 of an account holding more than 50 (a stop per position, grid levels), and no
orphan was cancelled, no missing stop seen. The paging now counts the rows the venue listed
on the page, skipped ones too, and follows the cursor it named. Real ccxt.bybit against the
emulator, which pages as the venue does."""

from __future__ import annotations

from decimal import Decimal

from loguru import logger

from tests.exchange.ccxt.ccxt_fixtures import PRICES, make_gateway, rest_by_hand, warning_lines
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import INSTRUMENTS, BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer

BTC = "BTC/USDT:USDT"
D = Decimal


def test_a_full_open_order_page_with_a_skipped_row_is_read_whole(tmp_path) -> None:  # noqa: ANN001
    """60 open orders of ours and, newest, one placed by hand on a symbol not traded whose
    price ccxt cannot parse: the first page (50 rows) holds that row. The page read short
    failed the whole read (no sweep while it rested); every order of ours is listed now,
    from both pages, and the row is said once."""
    emu = EmulatorServer(BybitVenue(Book(PRICES))).start()
    lines, sink = warning_lines()
    try:
        gw = make_gateway("bybit", emu, tmp_path, symbols=[BTC], max_attempts=2)
        gw.load_markets()
        ours = [f"ours-{i}" for i in range(60)]
        for i, cid in enumerate(ours):
            gw.create_order(BTC, "limit", "buy", D("0.001"), D(40000 - i), {"clientOrderId": cid})
        rest_by_hand(emu.venue.book, "by-hand", "ETHUSDT", "2000").price = D("NaN")
        for _ in range(2):
            listed = sorted(o.client_order_id for o in gw.fetch_open_orders(None))
            assert listed == sorted(ours)
        said = [line for line in lines if "ETH/USDT:USDT" in line and "skipped" in line]
        assert len(said) == 1, lines
    finally:
        logger.remove(sink)
        gw.close()
        emu.stop()


COINS = [f"C{i}" for i in range(230)]
MANY = [{**INSTRUMENTS[0], "symbol": f"{c}USDT", "baseCoin": c} for c in COINS]


def test_a_full_position_page_with_a_skipped_row_is_read_whole(tmp_path) -> None:  # noqa: ANN001
    """The same on the all-symbol position list (200 rows a page): 230 positions, one of a
    symbol not traded with a mark price ccxt cannot parse on the first page. That page read
    short failed the sweep's whole position read; every other position is listed now, from
    both pages, in two requests."""
    book = Book({f"{c}USDT": D("10") for c in COINS})
    for c in COINS:
        book.positions[(f"{c}USDT", "net")] = (D("1"), D("10"))
    emu = EmulatorServer(BybitVenue(book, MANY)).start()
    lines, sink = warning_lines()
    try:
        gw = make_gateway("bybit", emu, tmp_path, symbols=["C0/USDT:USDT"], max_attempts=2)
        gw.load_markets()
        book.prices["C5USDT"] = D("NaN")
        emu.clear()
        held = {p.symbol for p in gw.fetch_positions(None)}
        assert held == {f"{c}/USDT:USDT" for c in COINS if c != "C5"}
        assert len(emu.hits("/v5/position/list")) == 2
        assert len([line for line in lines if "C5" in line and "skipped" in line]) == 1, lines
    finally:
        logger.remove(sink)
        gw.close()
        emu.stop()
