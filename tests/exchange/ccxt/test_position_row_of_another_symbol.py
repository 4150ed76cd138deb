"""A position row of a symbol this account does not trade (one traded by hand on the same
account) that cannot be read no longer fails the reads of the symbols it does trade.

On Binance every position read is the one all-symbol positionRisk read, shared by the actors
(exchange/ccxt/fresh_read.py), and the REST fills poll reads it first to learn which symbols
to ask for trades: one unreadable row of another symbol (here one without `positionAmt`) made
every actor's reconciliation and every fills poll fail, for as long as the venue listed it so.
The sweep's all-symbol read (both venues) failed the same way. Such a row is now skipped with
one warning; an unreadable row of a symbol the account trades still fails the read, as before
(tests/exchange/ccxt/test_position_size_estimate.py). Real ccxt classes, the emulators."""

from __future__ import annotations

from decimal import Decimal

import pytest
from loguru import logger

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
D = Decimal


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit"])
def test_another_symbols_unreadable_row_fails_no_read_of_ours(exchange_id, tmp_path):
    emu = start_emulator(exchange_id)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        fake = FakeTime()
        gw = make_gateway(exchange_id, emu, tmp_path, fake=fake, symbols=[BTC])
        gw.load_markets()
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
        emu.venue.book.positions[("ETHUSDT", "net")] = (D("0.5"), D("3000"))  # by hand
        emu.venue.size_left_out.add("ETHUSDT")

        for read in (lambda: gw.fetch_positions([BTC]), gw.fetch_positions):
            held = read()
            assert [(p.symbol, p.contracts) for p in held] == [(BTC, D("0.01"))]
        fills = gw.poll_updates(int(fake.now * 1000) - 60_000, [BTC])
        assert [f.client_order_id for f in fills] == ["e-1"]
        said = [line for line in lines if "ETH/USDT:USDT" in line and "skipped" in line]
        assert len(said) == 1, lines  # said once, not at every read

        emu.venue.size_left_out.add("BTCUSDT")  # our own symbol's row: still unreadable
        with pytest.raises(errors.TemporaryError, match="without its size"):
            gw.fetch_positions([BTC])
    finally:
        logger.remove(sink)
        emu.stop()


def test_another_symbols_unreadable_open_order_fails_no_sweep(tmp_path):
    """The sweep's all-symbol open-order read (Bybit) with an order placed by hand on a symbol
    the account does not trade, listed without its filled quantity: the whole read failed, so
    no sweep ran for as long as that order rested; it is skipped now, said once."""
    emu = start_emulator("bybit")
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        gw = make_gateway("bybit", emu, tmp_path, symbols=[BTC])
        gw.load_markets()
        gw.place_stop(BTC, "sell", D("0.01"), D("45000"), "s-1")
        emu.venue.book.place(cid="by-hand", symbol="ETHUSDT", side="buy", type="limit",
                             qty=D("0.1"), price=D("2000"), trigger=None,
                             trigger_direction=None, reduce_only=False)
        emu.venue.filled_left_out.add("by-hand")
        for _ in range(2):
            listed = gw.fetch_open_orders(None)
            assert [o.client_order_id for o in listed] == ["s-1"]
        said = [line for line in lines if "ETH/USDT:USDT" in line and "skipped" in line]
        assert len(said) == 1, lines

        emu.venue.filled_left_out.add("s-1")  # our own symbol's order: still unreadable
        with pytest.raises(errors.TemporaryError, match="without its filled quantity"):
            gw.fetch_open_orders(None)
    finally:
        logger.remove(sink)
        emu.stop()


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit"])
def test_another_symbols_row_ccxt_cannot_parse_fails_no_read_of_ours(exchange_id, tmp_path):
    """The same row garbled so that ccxt's own parser raises (a "NaN" mark price: Precise's
    ValueError): Binance's shared all-symbol read failed for every actor, and the sweep's read
    on both venues. The answer is now parsed row by row; the row is skipped, said once."""
    emu = start_emulator(exchange_id)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        gw = make_gateway(exchange_id, emu, tmp_path, symbols=[BTC], max_attempts=2)
        gw.load_markets()
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
        emu.venue.book.positions[("ETHUSDT", "net")] = (D("0.5"), D("3000"))  # by hand
        emu.venue.book.prices["ETHUSDT"] = D("NaN")
        for read in (lambda: gw.fetch_positions([BTC]), gw.fetch_positions) * 2:
            held = read()
            assert [(p.symbol, p.contracts) for p in held] == [(BTC, D("0.01"))]
        said = [line for line in lines if "ETH" in line and "skipped" in line]
        assert len(said) == 1, lines

        emu.venue.book.prices["BTCUSDT"] = D("NaN")  # our own symbol's row: still unreadable
        with pytest.raises(errors.TemporaryError, match="unreadable"):
            gw.fetch_positions([BTC])
    finally:
        logger.remove(sink)
        emu.stop()


def _rest_by_hand(book, cid: str, symbol: str, price: str):
    """A limit order resting on `symbol`, as one placed by hand on the same account."""
    return book.place(cid=cid, symbol=symbol, side="buy", type="limit", qty=D("0.1"),
                      price=D(price), trigger=None, trigger_direction=None, reduce_only=False)


@pytest.mark.parametrize("exchange_id", ["binanceusdm", "bybit"])
def test_another_symbols_order_ccxt_cannot_parse_fails_no_sweep(exchange_id, tmp_path):
    """The sweep's all-symbol open-order read with an order placed by hand on a symbol the
    account does not trade whose price ccxt's own parser cannot read ("NaN": Precise's
    ValueError): ccxt failed the whole answer before our conversion saw the row, so no sweep
    ran while it rested. The answer is now parsed row by row: the row is skipped, said once
    (on Binance it is the only row of the plain order book; our stop is in the algo book)."""
    emu = start_emulator(exchange_id)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        gw = make_gateway(exchange_id, emu, tmp_path, symbols=[BTC], max_attempts=2)
        gw.load_markets()
        gw.place_stop(BTC, "sell", D("0.01"), D("45000"), "s-1")
        _rest_by_hand(emu.venue.book, "by-hand", "ETHUSDT", "2000").price = D("NaN")
        for _ in range(2):
            listed = gw.fetch_open_orders(None)
            assert [o.client_order_id for o in listed] == ["s-1"]
        said = [line for line in lines if "ETH/USDT:USDT" in line and "skipped" in line]
        assert len(said) == 1, lines

        # our own symbol's order that ccxt cannot parse: the read is still unreadable
        _rest_by_hand(emu.venue.book, "l-1", "BTCUSDT", "40000").price = D("NaN")
        with pytest.raises(errors.TemporaryError, match="unreadable"):
            gw.fetch_open_orders(None)
    finally:
        logger.remove(sink)
        emu.stop()


def test_an_open_order_read_with_no_readable_row_stays_unreadable(tmp_path):
    """Skipping rows never turns an answer none of whose rows ccxt can read into "no open
    orders": with only the other symbol's garbled order listed, the read fails as before."""
    emu = start_emulator("bybit")
    try:
        gw = make_gateway("bybit", emu, tmp_path, symbols=[BTC], max_attempts=2)
        gw.load_markets()
        _rest_by_hand(emu.venue.book, "by-hand", "ETHUSDT", "2000").price = D("NaN")
        with pytest.raises(errors.TemporaryError, match="unreadable"):
            gw.fetch_open_orders(None)
    finally:
        emu.stop()


def test_a_traded_symbols_unreadable_row_skipped_in_anothers_read_is_not_called_untraded(
        tmp_path):
    """Binance's shared all-symbol answer read for BTC alone skips ETH's unreadable row; the
    account trades ETH too (ETH's own read fails on it), so the warning may not call it 'a
    symbol this account does not trade' (found by review). Still said once."""
    emu = start_emulator("binanceusdm")
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        gw = make_gateway("binanceusdm", emu, tmp_path, fake=FakeTime(), symbols=[BTC, ETH])
        gw.load_markets()
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
        emu.venue.book.positions[("ETHUSDT", "net")] = (D("0.5"), D("3000"))
        emu.venue.size_left_out.add("ETHUSDT")
        for _ in range(2):
            assert [(p.symbol, p.contracts) for p in gw.fetch_positions([BTC])] == [
                (BTC, D("0.01"))]
        with pytest.raises(errors.TemporaryError, match="without its size"):
            gw.fetch_positions([ETH])
        said = [line for line in lines if ETH in line and "skipped" in line]
        assert len(said) == 1, lines
        assert "does not trade" not in said[0], said[0]
        assert "this account trades" in said[0], said[0]
    finally:
        logger.remove(sink)
        emu.stop()
