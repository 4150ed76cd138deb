"""Binance USDⓈ-M in hedge mode: every ACCOUNT_UPDATE carries the symbol's BOTH position row
(pa 0 in a hedge account) next to the changed LONG or SHORT row (Binance's user data stream
upgrade notice: "When a position of a symbol is changed: "P" will push the details in the
"BOTH" position of this symbol; if the change happens in LONG or SHORT, the changed LONG or
SHORT position will be pushed"). ccxt.pro parses that row as side "both", not hedged, 0
contracts: a NET flat position. It says nothing about the legs, so the stream position check
must not compare it with the grid's long - short: it did, and every leg change of a grid whose
legs differ sent a Reconcile that could never resolve.

The real ccxt.pro binanceusdm against the WebSocket emulator (which sends the BOTH row as the
venue does), the real stream feed, the actor's view a real GridState."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from actors.actor_view import Published
from actors.messages import Reconcile
from exchange.records import PositionSide
from tests.exchange.ccxt.stream_rig import BTC, PREFIX, StreamRig
from tests.support.waiting import wait_until
from trading.grid.model import GridState, Leg
from trading.primitives import Side

DEADLINE_S = 10.0
"""A position changed on the venue -> Reconcile at the actor: about a second (the feed's 0.5 s
grace plus its check interval); the deadline leaves room for a loaded CI machine."""


def _grid(long: str, short: str) -> Published:
    state = GridState(symbol=BTC, long=Leg(side=Side.LONG, contracts=Decimal(long)),
                      short=Leg(side=Side.SHORT, contracts=Decimal(short)))
    return Published(state=state, last_tick_at=None, reconciled=True)


def _from_stream(rig: StreamRig) -> list[Reconcile]:
    return [r for r in rig.reconciles_of(BTC) if r.reason.startswith("position stream")]


def _streamed(rig: StreamRig, side: PositionSide) -> Decimal | None:
    """The last size the check took from the stream for BTC's `side`."""
    sizes = rig.feed.positions._sizes.get(BTC, {})  # noqa: SLF001 - the test looks inside
    return sizes.get(side)


def _trade(rig: StreamRig, side: str, leg: str, amount: str, cid: str) -> None:
    """A market order of ours on one leg (positionSide LONG / SHORT), through the gateway."""
    rig.gateway.create_order(BTC, "market", side, Decimal(amount),
                             params={"clientOrderId": f"{PREFIX}{cid}", "positionSide": leg})


def _no_reconcile_after_the_grace(rig: StreamRig) -> None:
    """Past the grace (and a few of the feed's checks) with nothing pending: a difference the
    check saw would have been sent by now."""
    deadline = time.monotonic() + rig.feed.positions.grace_s + 0.3
    wait_until(lambda: time.monotonic() > deadline and not rig.feed.positions._pending,  # noqa: SLF001
               timeout=DEADLINE_S, message="the grace to pass with nothing pending")
    # StreamPositions.due takes a symbol off _pending and decides its Reconcile under its
    # lock, then delivers and counts it after: one in flight shows only in _queued
    assert BTC not in rig.feed.positions._queued  # noqa: SLF001
    assert _from_stream(rig) == []
    assert rig.feed.positions.reconciles == 0


@pytest.fixture
def rig(tmp_path):
    r = StreamRig("binanceusdm", tmp_path, views={BTC: _grid("0", "0")})
    r.book.hedge = True  # the account's position mode on the venue
    r.gateway.hedge_mode = True  # and the bot's (exchange.hedge_mode = true)
    r.start()
    try:
        r.wait_mode("stream")
        yield r
    finally:
        r.stop()


def test_leg_changes_of_a_hedge_grid_with_unequal_legs_send_no_reconcile(rig):
    # each step: the actor books its fill (the view), the venue's ACCOUNT_UPDATE follows with
    # the BOTH row (pa 0) and the changed leg; long and short always differ
    steps = [("buy", "LONG", "0.03", ("0.03", "0")),  # open the long leg
             ("sell", "SHORT", "0.01", ("0.03", "0.01")),  # open the short leg
             ("buy", "LONG", "0.02", ("0.05", "0.01")),  # a grid level adds to the long
             ("sell", "LONG", "0.01", ("0.04", "0.01")),  # a take-profit reduces it
             ("sell", "SHORT", "0.005", ("0.04", "0.015"))]  # a level adds to the short
    for n, (side, leg, amount, (long, short)) in enumerate(steps, start=1):
        rig.views[BTC] = _grid(long, short)
        _trade(rig, side, leg, amount, f"g{n}")
        named = PositionSide.LONG if leg == "LONG" else PositionSide.SHORT
        held = Decimal(long if leg == "LONG" else short)
        wait_until(lambda: _streamed(rig, named) == held, timeout=DEADLINE_S,  # noqa: B023
                   message=f"step {n}: the stream's {leg} {held}")
        _no_reconcile_after_the_grace(rig)
    assert rig.book.position("BTCUSDT", "long")[0] == Decimal("0.04")
    assert rig.book.position("BTCUSDT", "short")[0] == Decimal("-0.015")
    # the venue sent its BOTH row with every update (the streams pass a row on only when its
    # size changed: the first one here); the check set it aside
    assert rig.feed.positions.ignored >= 1
    assert _streamed(rig, PositionSide.NET) is None


def test_a_real_leg_difference_in_a_hedge_account_still_sends_a_reconcile(rig):
    rig.views[BTC] = _grid("0.03", "0")
    _trade(rig, "buy", "LONG", "0.03", "g1")
    rig.views[BTC] = _grid("0.03", "0.01")
    _trade(rig, "sell", "SHORT", "0.01", "g2")
    wait_until(lambda: _streamed(rig, PositionSide.SHORT) == Decimal("0.01"),
               timeout=DEADLINE_S, message="the short leg on the stream")
    _no_reconcile_after_the_grace(rig)
    # by hand on the venue's website: part of the short leg bought back, not by us
    rig.book.place(cid="manual-1", symbol="BTCUSDT", side="buy", type="market",
                   qty=Decimal("0.004"), price=None, trigger=None, trigger_direction=None,
                   reduce_only=False, extra={"positionSide": "SHORT"})
    (got,) = wait_until(lambda: _from_stream(rig), timeout=DEADLINE_S,
                        message="a position-stream Reconcile")
    assert got.reason == "position stream: short 0.006 on the venue, 0.01 in our books"
    # counted just after the delivery the recorder saw: wait for the count, then check it
    wait_until(lambda: rig.feed.status()["position_reconciles"] >= 1,
               message="the Reconcile counted")
    assert rig.feed.status()["position_reconciles"] == 1
