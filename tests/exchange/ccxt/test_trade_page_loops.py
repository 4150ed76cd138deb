"""A venue whose next page of own trades is the page just read (Bybit naming the same
`nextPageCursor` again, Binance answering the same trades whatever `fromId` asks) was followed
up to MAX_PAGES (50) requests a poll, and the poll then reported only those pages' trades as
if they were all (the rest of a busy interval never read). A page that does not move on is an
unreadable answer, said at once, as the open-order and position listings already do. Real ccxt
classes through the gateway against the emulators."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from loguru import logger

from exchange import errors
from exchange.ccxt.gateway import CcxtGateway
from tests.exchange.ccxt.ccxt_fixtures import gateway_on_emulator
from tests.exchange.ccxt.emu_binance import BinanceVenue
from tests.exchange.ccxt.emu_book import Book, EmuTrade
from tests.exchange.ccxt.emu_bybit import BybitVenue

BTC = "BTC/USDT:USDT"


def _many_small_trades(gw: CcxtGateway, book: Book) -> None:
    """One order of ours on BTC filled in 1,100 trades: more than a page of 1,000."""
    gw.create_order(BTC, "limit", "buy", D("0.011"), D("50000"), {"clientOrderId": "big-1"})
    order = book.find(cid="big-1")
    for _ in range(1100):
        book.trades.append(EmuTrade(book.next_id(), order, D("50000"), D("0.00001"),
                                    D("0"), book.tick()))


def _funded_long(book: Book) -> int:
    """A long on BTC that then pays funding 120 times (more than one page of 100); the time
    before the first payment."""
    book.place(cid="long-1", symbol="BTCUSDT", side="buy", type="market", qty=D("0.01"),
               price=None, trigger=None, trigger_direction=None, reduce_only=False)
    since = book.now_ms
    for _ in range(120):
        book.settle_funding(D("0.0001"))
    return since


class LoopingTrades(BybitVenue):
    """Answers the first page of executions to every cursor, naming the next page "100"."""

    def h_v5_execution_list(self, p):  # noqa: ANN001, ANN201
        status, body = super().h_v5_execution_list({**p, "cursor": ""})
        if len(body["result"]["list"]) == int(p.get("limit") or 50):
            body["result"]["nextPageCursor"] = "100"
        return status, body


class FromIdIgnored(BinanceVenue):
    """Answers userTrades as if no `fromId` had been sent (the oldest trades, again)."""

    def get_fapi_v1_userTrades(self, p):  # noqa: ANN001, ANN201, N802
        return super().get_fapi_v1_userTrades({k: v for k, v in p.items() if k != "fromId"})


def test_bybit_a_cursor_named_again_is_unreadable_not_fifty_pages(tmp_path) -> None:  # noqa: ANN001
    with gateway_on_emulator("bybit", tmp_path, venue=LoopingTrades) as (gw, emu):
        book = emu.venue.book
        since = book.now_ms
        for i in range(130):
            book.place(cid=f"m-{i}", symbol="BTCUSDT", side="buy", type="market",
                       qty=D("0.001"), price=None, trigger=None, trigger_direction=None,
                       reduce_only=False)
        emu.clear()
        with pytest.raises(errors.TemporaryError, match="names page .*'100'.* again"):
            gw.poll_updates(since)
        trade_pages = [r for r in emu.hits("/v5/execution/list")
                       if r.params.get("execType") == "Trade"]
        assert len(trade_pages) == 2  # the first page and the one naming it again


def test_binance_a_from_id_that_does_not_move_on_is_unreadable(tmp_path) -> None:  # noqa: ANN001
    with gateway_on_emulator("binanceusdm", tmp_path, venue=FromIdIgnored) as (gw, emu):
        book = emu.venue.book
        since = book.now_ms
        _many_small_trades(gw, book)
        emu.clear()
        with pytest.raises(errors.TemporaryError, match="fromId.* again"):
            gw.poll_updates(since, symbols=[BTC])
        assert len(emu.hits("/fapi/v1/userTrades")) == 2


def test_bybit_funding_a_cursor_named_again_is_unreadable_not_two_hundred_pages(
        tmp_path) -> None:  # noqa: ANN001
    """The funding read followed the same cursor up to BYBIT_MAX_PAGES (200 requests, at the
    polling priority of the account's budget) and then handed over one page as the read."""
    with gateway_on_emulator("bybit", tmp_path, venue=LoopingTrades) as (gw, emu):
        since = _funded_long(emu.venue.book)
        emu.clear()
        with pytest.raises(errors.TemporaryError, match="names page '100' again"):
            gw.fetch_funding_history(None, since)
        assert len(emu.hits("/v5/execution/list")) == 2


class TimelessFundingRow(BybitVenue):
    """Lists one funding row without `execTime` at the top of the first page (100 rows)."""

    BAD = {"symbol": "BTCUSDT", "execType": "Funding", "execId": "no-time-1",
           "execFee": "0.05", "feeRate": "0.0001", "orderId": "", "orderLinkId": ""}

    def h_v5_execution_list(self, p):  # noqa: ANN001, ANN201
        if p.get("execType") != "Funding" or p.get("cursor"):
            return super().h_v5_execution_list(p)
        status, body = super().h_v5_execution_list({**p, "limit": "99"})
        body["result"]["list"].insert(0, dict(self.BAD))
        return status, body


def test_bybit_funding_row_without_a_time_is_warned_and_the_next_page_still_read(
        tmp_path) -> None:  # noqa: ANN001
    """ccxt, given a since, dropped the row without a time unsaid: no warning, and the first
    page (one row short of 100) read as the last, so 20 older payments were never read."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        with gateway_on_emulator("bybit", tmp_path, venue=TimelessFundingRow) as (gw, emu):
            found = gw.fetch_funding_history(None, _funded_long(emu.venue.book))
        assert len(found) == 120
        warned = [line for line in lines if "funding row skipped" in line]
        assert len(warned) == 1 and "no-time-1" in warned[0]
    finally:
        logger.remove(sink)


class IdsNotNumbers(BinanceVenue):
    """Answers userTrades with ids that are not numbers (a damaged answer)."""

    def get_fapi_v1_userTrades(self, p):  # noqa: ANN001, ANN201, N802
        status, rows = super().get_fapi_v1_userTrades(p)
        return status, [{**r, "id": f"t-{r['id']}"} for r in rows]


def test_binance_a_full_page_without_a_numeric_trade_id_is_unreadable_not_the_end(
        tmp_path) -> None:  # noqa: ANN001
    """A full page (1,000 trades) naming no trade id to go on from ended the read silently:
    the poll took the first 1,000 trades as all of them and moved its start past the rest."""
    with gateway_on_emulator("binanceusdm", tmp_path, venue=IdsNotNumbers) as (gw, emu):
        book = emu.venue.book
        since = book.now_ms
        _many_small_trades(gw, book)
        with pytest.raises(errors.TemporaryError, match="no numeric trade id"):
            gw.poll_updates(since, symbols=[BTC])
