"""The price slot between the feed thread and the actor when they interleave: prices written
while the actor decides (against a band it is about to replace), and a replaced incarnation
that wakes up late and still shares the slot. Real pykka actors, feed, supervisor and SQLite."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from actors.messages import Tick
from storage import queries
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

D = Decimal
BTC = "BTC/USDT:USDT"


class Gate:
    """A strategy that, once armed, holds its actor inside the decision of the next price until
    released: the feed thread writes prices meanwhile, as it does while an actor is busy."""

    name = "gate"

    def __init__(self) -> None:
        self.armed = threading.Event()
        self.entered = threading.Event()
        self.release = threading.Event()

    def on_price(self, price: Decimal, volume: Any, now: float, position: Any) -> None:
        if self.armed.is_set():
            self.armed.clear()
            self.entered.set()
            assert self.release.wait(30)

    def hold(self) -> None:
        self.armed.set()


def opened(h: Harness) -> tuple[Decimal, Decimal]:
    """A long opened through the actor: (entry price, the market's price tick)."""
    h.poll()
    assert h.signal(BTC, Side.LONG)
    h.idle(BTC)
    view = h.view(BTC)
    assert view.phase == "open"
    return D(view.position["entry_price"]), h.core_for(BTC).rules.market.price_tick


def callback_pct(h: Harness) -> Decimal:
    return h.core_for(BTC).rules.risk.trailing_callback_pct


def close_reasons(h: Harness) -> list[str]:
    return [e["data"]["reason"] for e in queries.events(BTC, "CloseRequested")]


def test_a_price_quiet_under_the_old_band_but_crossing_the_new_trigger_closes(tmp_path):
    """The actor decides a new best (its trailing trigger ratchets) while the feed writes a
    price above the old best, then one between the old and the new trigger. Judged against the
    band the actor had, the second is quiet and the first is not; against the new band the
    second crosses the trigger. Deciding every price closes the position (bot-side trailing)."""
    gate = Gate()
    h = Harness(tmp_path, [BTC], risk={"bot_side_stops": True},
                strategy_for=lambda s: gate).start()
    try:
        entry, tick = opened(h)
        market = h.core_for(BTC).rules.market
        best1 = market.price_ceil(entry * D("1.01"))
        h.feed.deliver_tick(BTC, Tick(price=best1))  # activates the trailing stop
        wait_until(lambda: h.view(BTC).trailing["state"] == "active"
                   and h.view(BTC).position["mark_price"] == str(best1), message="active")
        trigger1 = D(h.view(BTC).trailing["trigger_price"])
        best2 = market.price_ceil(best1 * D("1.005"))  # a new best: the trigger passes best1
        trigger2 = market.price_floor(best2 * (1 - callback_pct(h) / 100))
        assert trigger1 < best1 <= trigger2 < best2 - tick
        gate.hold()
        h.feed.deliver_tick(BTC, Tick(price=best2))
        assert gate.entered.wait(10), "the actor decides best2"
        # the actor has taken best2 and not yet published its new band
        h.feed.deliver_tick(BTC, Tick(price=best2 - tick))  # above best1: not quiet (old band)
        h.feed.deliver_tick(BTC, Tick(price=best1))  # quiet under the old band
        gate.release.set()
        h.idle(BTC)  # the wake of best2 - tick is in the mailbox before this ask
        assert close_reasons(h) == ["trailing_stop"]
    finally:
        h.stop()


def test_a_replaced_incarnation_woken_late_does_not_take_the_new_ones_price(tmp_path):
    """The hung incarnation is replaced; when it wakes up, the wakes and timers left in its
    mailbox must not take a price out of the slot it shares with the new incarnation (its
    decision is fenced off and the new one would never see the price)."""
    gates: list[Gate] = []

    def strategy_for(symbol: str) -> Gate:
        gates.append(Gate())
        return gates[-1]

    h = Harness(tmp_path, [BTC], risk={"bot_side_stops": True}, heartbeat_timeout_s=1.0,
                strategy_for=strategy_for).start()
    try:
        entry, tick = opened(h)
        old, first = gates[0], h.child(BTC).ref
        old.hold()
        h.feed.deliver_tick(BTC, Tick(price=entry))
        assert old.entered.wait(10), "the first incarnation hangs"
        wait_until(lambda: h.child(BTC).ref is not first and h.child(BTC).state.value == "running",
                   message="replaced by a new incarnation")
        new = gates[-1]
        new.hold()  # the new incarnation busy with a price while the old one wakes up
        h.feed.deliver_tick(BTC, Tick(price=entry + tick))
        assert new.entered.wait(10), "the new incarnation decides a price"
        stop = D(h.view(BTC).stop_price)
        h.feed.deliver_tick(BTC, Tick(price=stop - 5 * tick))  # through the stop: its wake waits
        old.release.set()
        wait_until(lambda: not first.is_alive(), message="the old incarnation ended")
        new.release.set()
        h.idle(BTC)
        assert close_reasons(h) == ["stop_loss"]
    finally:
        for g in gates:
            g.release.set()
        h.stop()

