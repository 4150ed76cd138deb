"""Binance lists funding payments oldest first, 1,000 a page, and a read goes on from the
newest time of a full page. A full page all at the time it started from (more than 1,000
payments in one millisecond) does not move on: the read stopped there unsaid, returning that
page as all, and the payments after it were never read (the feed then re-read the same page
or jumped its start to now). Such a page is an unreadable answer, said, never a silent end.
Real gateway, real ccxt binanceusdm class, the Binance emulator."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator
from tests.exchange.ccxt.emu_book import EmuFunding


def test_binance_a_full_funding_page_that_does_not_move_on_is_unreadable(tmp_path):
    emu = start_emulator("binanceusdm")
    try:
        gw = make_gateway("binanceusdm", emu, tmp_path)
        gw.load_markets()
        book = emu.venue.book
        since = book.now_ms
        at = since + 1_000
        book.fundings += [EmuFunding(str(i), "BTCUSDT", "net", D("0.01"), D("50000"),
                                     D("0.0001"), D("0.05"), at) for i in range(2_500)]
        book.fundings.append(EmuFunding("9999", "BTCUSDT", "net", D("0.01"), D("50000"),
                                        D("0.0001"), D("0.05"), at + 60_000))
        with pytest.raises(errors.TemporaryError, match="does not move on"):
            gw.fetch_funding_history(None, since)
        gw.close()
    finally:
        emu.stop()
