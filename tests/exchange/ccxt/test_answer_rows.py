"""The row-by-row readings of an all-symbol answer ccxt cannot parse whole (open orders,
positions, tickers: exchange/ccxt/answer_rows.py) agree with one another.

A row of a symbol the account does not trade that ccxt cannot parse (a "NaN" price: Precise
raises ValueError) is skipped, said once; the listing fails only when it kept no row at all,
and one of a symbol it trades fails the read with one line naming the symbol and the row.
The three copies had drifted apart: the position reader judged "no row readable" per answer,
not per listing as the open-order reader does, and a traded symbol's row failed the read with
ccxt's bare 'unreadable answer (ValueError: ...)', naming neither the symbol nor the row. Real
ccxt.bybit against the emulator."""

from __future__ import annotations

from decimal import Decimal

import pytest
from loguru import logger

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import PRICES, make_gateway, rest_by_hand, warning_lines
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import INSTRUMENTS, USDC_PERP, BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer

BTC, BTCC = "BTC/USDT:USDT", "BTC/USDC:USDC"
D = Decimal


def test_an_open_order_of_a_traded_symbol_fails_with_one_line_naming_it(tmp_path) -> None:  # noqa: ANN001
    """Our own symbol's order that ccxt cannot parse still fails the read, and the error says
    which: before, only ccxt's 'unreadable answer (ValueError: ...)', naming no symbol."""
    emu = EmulatorServer(BybitVenue(Book(PRICES))).start()
    try:
        gw = make_gateway("bybit", emu, tmp_path, symbols=[BTC], max_attempts=2)
        gw.load_markets()
        gw.place_stop(BTC, "sell", D("0.01"), D("45000"), "s-1")
        rest_by_hand(emu.venue.book, "l-1", "BTCUSDT", "40000").price = D("NaN")
        with pytest.raises(errors.TemporaryError) as raised:
            gw.fetch_open_orders(None)
        message = str(raised.value)
        assert "\n" not in message
        assert f"order row of {BTC}" in message and "orderLinkId l-1" in message, message
    finally:
        gw.close()
        emu.stop()


def test_a_position_answer_of_skipped_rows_only_fails_no_listing(tmp_path) -> None:  # noqa: ANN001
    """Bybit lists positions once per settle coin. Ours is USDC-settled; the USDT listing holds
    only a position traded by hand whose mark price ccxt cannot parse. That answer alone,
    with no row readable, failed every all-symbol position read (the sweep), though the
    listing as a whole read ours: the open-order reader judges the whole listing, and so
    does the position reader now."""
    book = Book({**PRICES, "BTCPERP": D("50000")})
    emu = EmulatorServer(BybitVenue(book, [*INSTRUMENTS, USDC_PERP])).start()
    lines, sink = warning_lines()
    try:
        gw = make_gateway("bybit", emu, tmp_path, symbols=[BTC, BTCC], max_attempts=2)
        gw.load_markets()
        book.positions[("BTCPERP", "net")] = (D("0.02"), D("50000"))
        book.positions[("ETHUSDT", "net")] = (D("0.5"), D("3000"))  # by hand
        book.prices["ETHUSDT"] = D("NaN")
        for _ in range(2):
            held = [(p.symbol, p.contracts) for p in gw.fetch_positions(None)]
            assert held == [(BTCC, D("0.02"))]
        said = [line for line in lines if "ETH" in line and "skipped" in line]
        assert len(said) == 1, lines

        book.positions.pop(("BTCPERP", "net"))  # now no row of the listing is readable
        with pytest.raises(errors.TemporaryError, match="unreadable"):
            gw.fetch_positions(None)
    finally:
        logger.remove(sink)
        gw.close()
        emu.stop()
