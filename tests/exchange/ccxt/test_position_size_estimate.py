"""A position row whose raw answer has no size (Bybit `size`, Binance `positionAmt`) is
unreadable, never sized from ccxt's estimate. ccxt 4.5.90's `safe_position` fills a missing
`contracts` in from what else the row says (notional / mark price; on an isolated row, from
the margins and the liquidation price): Bybit's `positionValue` is the position's value at its
entry, so with the mark elsewhere the estimate was another size, and that size reached the
reconciliation, the stop's amount and the close's. Now the row takes the path of any
unreadable position answer: a temporary error, the reading retried, the position kept as our
books hold it; the next whole answer is read as it is. Real ccxt.bybit / ccxt.binanceusdm
against the emulators."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors import exchange_snapshot
from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator

S = "BTC/USDT:USDT"
D = Decimal


@pytest.fixture(params=["bybit", "binanceusdm"])
def venue(request, tmp_path):
    emu = start_emulator(request.param)
    emu.venue.book.positions[("BTCUSDT", "net")] = (D("0.01"), D("50000"))  # opened by hand
    emu.venue.book.prices["BTCUSDT"] = D("40000")  # the mark moved since the entry
    yield emu, make_gateway(request.param, emu, tmp_path)
    emu.stop()


def test_a_row_without_its_size_is_unreadable_not_sized_from_the_estimate(venue):
    emu, gw = venue
    emu.venue.size_left_out.add("BTCUSDT")
    # before: Bybit 0.0125 (positionValue 500 / mark 40000), Binance notional / mark
    with pytest.raises(errors.TemporaryError, match="without its size"):
        gw.fetch_positions([S])
    with pytest.raises(errors.TemporaryError, match="without its size"):
        gw.fetch_positions(None)
    with pytest.raises(errors.TemporaryError, match="without its size"):
        exchange_snapshot.positions(gw, S)
    emu.venue.size_left_out.clear()  # the next whole answer: read as it is
    (pos,) = gw.fetch_positions([S])
    assert (pos.side, pos.contracts, pos.entry_price) == ("long", D("0.01"), D("50000"))


def test_a_held_row_without_its_position_side_is_unreadable(tmp_path):
    """ccxt 4.5.90 reads Binance's `hedged` as positionSide != 'BOTH', so a one-way row without
    `positionSide` came as a hedge account's long leg (hedged, position side LONG): an
    emergency close then asked for positionIdx 1, which a one-way gateway refuses (InvalidOrder,
    a mode mismatch): the emergency close failed."""
    emu = start_emulator("binanceusdm")
    try:
        emu.venue.book.positions[("BTCUSDT", "net")] = (D("0.01"), D("50000"))
        gw = make_gateway("binanceusdm", emu, tmp_path)
        emu.venue.position_side_left_out.add("BTCUSDT")
        with pytest.raises(errors.TemporaryError, match="without its position side"):
            gw.fetch_positions([S])
        emu.venue.position_side_left_out.clear()
        (pos,) = gw.fetch_positions([S])
        assert (pos.hedged, pos.position_side, pos.contracts) == (False, "net", D("0.01"))
    finally:
        emu.stop()
