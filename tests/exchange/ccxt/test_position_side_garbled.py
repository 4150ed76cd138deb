"""A Bybit position row whose `positionIdx` is garbled ("NaN", "3", "-1"): ccxt 4.5.90 reads
any positionIdx but "0" and "1" as the SHORT hedge leg, so a one-way long came out of the
gateway as a short hedge leg of the same size (reconciliation and an emergency close then
worked on the wrong side). Such a row is an unreadable answer now (temporary: the reading is
retried), naming the symbol and the field, and the next whole answer is read as it is. Real
ccxt.bybit against the HTTP emulator, the real gateway."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange import errors
from exchange.records import PositionSide
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator

S = "BTC/USDT:USDT"
D = Decimal


@pytest.fixture
def venue(tmp_path):
    emu = start_emulator("bybit")
    emu.venue.book.positions[("BTCUSDT", "net")] = (D("0.01"), D("50000"))  # a one-way long
    yield emu, make_gateway("bybit", emu, tmp_path)
    emu.stop()


@pytest.mark.parametrize("garbled", ["NaN", "3", "-1", "abc"])
def test_a_position_with_a_garbled_position_index_is_unreadable_not_a_short_leg(venue,
                                                                                  garbled):
    emu, gw = venue
    emu.venue.garbled_idx["BTCUSDT"] = garbled
    with pytest.raises(errors.TemporaryError, match=f"BTC/USDT:USDT position with an "
                                                    f"unreadable position side \\(positionIdx "
                                                    f"'{garbled}'"):
        gw.fetch_positions([S])
    with pytest.raises(errors.TemporaryError, match="unreadable position side"):
        gw.fetch_positions(None)
    emu.venue.garbled_idx.clear()
    (pos,) = gw.fetch_positions([S])
    assert (pos.side, pos.contracts, pos.position_side, pos.hedged) == (
        "long", D("0.01"), PositionSide.NET, False)
