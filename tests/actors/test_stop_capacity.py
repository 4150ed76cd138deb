"""The venue's cap on open conditional orders at the entry gate (issue 12): an entry that would
leave its position without room for its stop is refused and journaled; real actors, the paper
exchange, the account gate."""

from __future__ import annotations

import pytest

from actors.entry_gate import AccountGate
from storage import queries
from tests.support.harness import Harness
from trading.model import Side
from trading.stop_capacity import (
    CAPS,
    STOPS_PER_POSITION,
    ConditionalCap,
    StopCapacity,
    stop_capacity_for,
)

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
TINY = ConditionalCap(per_account=3, per_symbol=10, source="test venue")


def test_an_entry_without_room_for_its_stop_is_refused_and_journaled(tmp_path):
    h = Harness(tmp_path, [BTC, ETH])
    h.gate.add_limit(StopCapacity(cap=TINY))
    h.start()
    try:
        h.poll()
        h.signal(BTC, Side.LONG)
        h.idle(BTC)
        assert h.view(BTC).protected  # 2 of the 3 conditional orders: stop + a move's stop
        h.signal(ETH, Side.LONG)
        h.idle(ETH)
        assert h.exchange_position(ETH) is None and h.view(ETH).phase == "flat"
        (skipped,) = queries.events(ETH, "SignalSkipped")
        assert "stop capacity" in skipped["data"]["reason"]
        assert "3 the venue allows per account (test venue)" in skipped["data"]["reason"]
    finally:
        h.stop()


def test_binance_cap_is_known_and_counts_two_stop_orders_per_position():
    gate = AccountGate(max_open_positions=None)
    limit = stop_capacity_for("binanceusdm")
    assert limit is not None and CAPS["binanceusdm"].per_account == 200
    assert stop_capacity_for("bybit") is None
    gate.add_limit(limit)
    admitted = 0
    while gate.admit(f"S{admitted}", "signal", reconciled=True) is None:
        admitted += 1
        assert admitted <= 200
    assert admitted == 100  # 200 conditional orders / (stop + a move's new stop)


@pytest.mark.parametrize("per_symbol", [1])
def test_a_venue_that_cannot_hold_a_position_and_its_move_refuses_every_entry(per_symbol):
    cap = ConditionalCap(per_account=200, per_symbol=per_symbol, source="v")
    reason = StopCapacity(cap=cap).refuse_held("BTC", 0)
    assert reason is not None and "1 per symbol" in reason


def test_a_venue_that_holds_exactly_a_position_and_its_move_admits_the_entry():
    """Per symbol, a position needs its stop and a move's new stop (STOPS_PER_POSITION): a venue
    that allows exactly that many admits the entry through the account gate (found by the
    mutation audit: refusing at `per >= per_symbol` failed no test, and would have refused every
    entry on such a venue)."""
    cap = ConditionalCap(per_account=200, per_symbol=STOPS_PER_POSITION, source="v")
    gate = AccountGate(max_open_positions=None)
    gate.add_limit(StopCapacity(cap=cap))
    assert gate.admit(BTC, "signal", reconciled=True) is None
