"""Prices read from the venues' raw ticker messages (exchange/ccxt/raw_tickers.py): the
documented message shapes, deltas, bad rows, other messages left to ccxt, and end to end on
both venues' WebSocket emulators with the real ccxt.pro classes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from loguru import logger

from exchange.ccxt.raw_tickers import RawTickers, handles
from exchange.records import VenueTicker
from tests.exchange.ccxt.stream_rig import BTC, ETH, StreamRig
from tests.support.waiting import wait_until

D = Decimal


class Venue:
    """Stands in for a ccxt.pro exchange: an id, loaded markets and a message handler."""

    def __init__(self, venue_id: str) -> None:
        self.id = venue_id
        self.markets = {BTC: {"id": "BTCUSDT"}, ETH: {"id": "ETHUSDT"},
                        "SOL/USDT:USDT": {"id": "SOLUSDT"}}
        self.passed: list[Any] = []

    def handle_message(self, client: Any, message: Any) -> None:
        self.passed.append(message)


def installed(venue_id: str) -> tuple[Venue, RawTickers, list[VenueTicker], list[int]]:
    ex = Venue(venue_id)
    got: list[VenueTicker] = []
    seen: list[int] = []
    raw = RawTickers(ex, [BTC, ETH], got.extend, lambda: seen.append(1), logger).install()
    return ex, raw, got, seen


@contextmanager
def warned_on_a_clock(venue_id: str) -> Iterator[tuple[Venue, list[VenueTicker], list[float],
                                                        list[str]]]:
    """A RawTickers for BTC and ETH on a stand-in `venue_id` whose monotonic clock the test
    moves (`clock[0]`). Yields the stand-in, the tickers delivered, the clock and the WARNING
    messages logged meanwhile (each ending in a newline)."""
    lines: list[str] = []
    sink = logger.add(lines.append, format="{message}", level="WARNING")
    clock = [1000.0]
    try:
        ex = Venue(venue_id)
        got: list[VenueTicker] = []
        RawTickers(ex, [BTC, ETH], got.extend, lambda: None, logger,
                   monotonic=lambda: clock[0]).install()
        yield ex, got, clock, lines
    finally:
        logger.remove(sink)


def bybit(sym: str, kind: str = "snapshot", **data: Any) -> dict[str, Any]:
    return {"topic": f"tickers.{sym}", "type": kind, "data": {"symbol": sym, **data},
            "cs": 1, "ts": 1}


def mini(sym: str, close: str, quote: str = "5") -> dict[str, Any]:
    return {"e": "24hrMiniTicker", "E": 1, "s": sym, "c": close, "o": close, "h": close,
            "l": close, "v": "1", "q": quote}


def test_bybit_snapshot_then_deltas_keep_the_last_volume_and_skip_unchanged_prices():
    ex, _, got, seen = installed("bybit")
    ex.handle_message(None, bybit("BTCUSDT", lastPrice="50000.5", turnover24h="123.4"))
    ex.handle_message(None, bybit("BTCUSDT", "delta", markPrice="50001"))  # no new price
    ex.handle_message(None, bybit("BTCUSDT", "delta", lastPrice="50002"))  # volume unchanged
    ex.handle_message(None, bybit("BTCUSDT", "delta", turnover24h="200"))
    ex.handle_message(None, bybit("BTCUSDT", "delta", lastPrice="49999"))
    assert [(t.symbol, t.last, t.quote_volume) for t in got] == [
        (BTC, D("50000.5"), D("123.4")), (BTC, D("50002"), D("123.4")),
        (BTC, D("49999"), D("200"))]
    assert len(seen) == 5 and ex.passed == []  # every ticker message is a sign of life


def test_other_messages_and_unwanted_markets_are_left_to_ccxt_or_ignored():
    ex, raw, got, _ = installed("bybit")
    order = {"topic": "order", "data": [{"orderLinkId": "x"}]}
    ack = {"op": "subscribe", "success": True}
    ex.handle_message(None, order)
    ex.handle_message(None, ack)
    ex.handle_message(None, bybit("SOLUSDT", lastPrice="150"))  # traded by nobody here
    assert ex.passed == [order, ack]
    assert got == [] and raw.taken == 1


def test_binance_array_plain_and_wrapped_and_a_bad_row_skips_only_itself():
    ex, _, got, _ = installed("binanceusdm")
    ex.handle_message(None, [mini("BTCUSDT", "50000", "7"), mini("ETHUSDT", "oops"),
                             mini("SOLUSDT", "150")])
    ex.handle_message(None, {"stream": "!miniTicker@arr", "data": [mini("ETHUSDT", "3000")]})
    ex.handle_message(None, mini("ETHUSDT", "0"))  # not a price
    user = {"e": "ORDER_TRADE_UPDATE", "o": {}}
    ex.handle_message(None, user)
    assert [(t.symbol, t.last, t.quote_volume) for t in got] == [
        (BTC, D("50000"), D("7")), (ETH, D("3000"), D("5"))]
    assert ex.passed == [user]


def test_a_failing_sink_does_not_reach_ccxts_receive_loop():
    ex = Venue("bybit")

    def broken(tickers: list[VenueTicker]) -> None:
        raise RuntimeError("sink down")

    RawTickers(ex, [BTC], broken, lambda: None, logger).install()
    ex.handle_message(None, bybit("BTCUSDT", lastPrice="1"))  # does not raise
    assert ex.passed == []


def test_only_known_venues_are_read_raw():
    assert handles("bybit") and handles("binanceusdm") and handles("binance")
    assert not handles("okx")


@pytest.mark.parametrize("venue_id", ["bybit", "binanceusdm"])
def test_stream_prices_come_from_the_raw_messages_on_both_venues(venue_id, tmp_path):
    rig = StreamRig(venue_id, tmp_path).start()
    try:
        rig.wait_mode("stream")
        raw = rig.streams.raw_tickers
        assert raw is not None
        rig.book.set_price("BTCUSDT", D("51234.5"))
        wait_until(lambda: D("51234.5") in rig.prices_of(BTC), message="stream price")
        rig.book.set_price("ETHUSDT", D("3111.25"))
        wait_until(lambda: D("3111.25") in rig.prices_of(ETH), message="stream price ETH")
        assert raw.taken > 0
        # ccxt's own ticker handler never ran: its cache holds no ticker
        assert not rig.streams._ex.tickers
    finally:
        rig.stop()


def test_a_price_that_stays_bad_is_warned_once_until_a_good_one_comes():
    """Bybit pushes a symbol's ticker up to 10 times a second: a bad price warned each time."""
    with warned_on_a_clock("bybit") as (ex, got, clock, lines):
        for _ in range(50):
            ex.handle_message(None, bybit("BTCUSDT", "delta", lastPrice="-1"))
        ex.handle_message(None, bybit("ETHUSDT", lastPrice="NaN"))
        ex.handle_message(None, bybit("BTCUSDT", "delta", lastPrice="50000"))
        clock[0] += 60  # (at most once a minute: test_raw_tickers_bad_fields.py)
        ex.handle_message(None, bybit("BTCUSDT", "delta", lastPrice="0"))
    assert [t.last for t in got] == [D("50000")]
    assert [line.split(": last")[0] for line in lines] == [
        f"stream: skipped a bad ticker for {BTC}", f"stream: skipped a bad ticker for {ETH}",
        f"stream: skipped a bad ticker for {BTC}"]
