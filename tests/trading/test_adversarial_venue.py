"""An unlucky venue against the real one-way core: stops refused, left pending or removed,
closes filled in part or refused, stops filling in part when the price crosses them. After
every step: the believed stop never loosens while a position lives, no position books more
exits than entries, and a position past its stop retry has a stop or is through its level."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading import trailing_stop as ts
from trading.commands import AmendStop, Command, PlaceOrder
from trading.decide import SymbolCore
from trading.decision import Ctx
from trading.events import (
    Event,
    OrderCanceled,
    OrderFailed,
    OrderFilled,
    PriceTicked,
    SignalRaised,
    StopAmended,
    TimerFired,
)
from trading.model import OrderPurpose, OrderStatus, Phase, Side
from trading.stop_rules import intended_stop

D = Decimal
TICK = D("0.1")
MOODS = ["ok"] * 6 + ["refuse", "hold", "partial", "fail"]


class Venue(Scenario):
    def __post_init__(self) -> None:
        super().__post_init__()
        self.mood = "ok"
        self.held: list[Command] = []

    def _execute(self, cmd: Command) -> list[Event]:
        if isinstance(cmd, AmendStop):
            return [StopAmended(client_order_id=cmd.client_order_id, stop_price=cmd.stop_price)]
        if not isinstance(cmd, PlaceOrder):
            return self.exchange_reply(cmd)
        o, mood = cmd.order, self.mood
        cid = o.client_order_id
        if mood == "hold":
            self.held.append(cmd)
            return []
        if mood == "refuse" and o.purpose is OrderPurpose.STOP:
            return [OrderFailed(client_order_id=cid, error="429", never_reached=True)]
        if o.purpose is OrderPurpose.CLOSE and mood == "fail":
            return [OrderFailed(client_order_id=cid, error="busy", never_reached=False)]
        if o.purpose is OrderPurpose.CLOSE and mood == "partial":
            part = (o.amount / 2).quantize(D("0.001"))
            price = self.state.last_price
            return [OrderFilled(client_order_id=cid, exchange_id="x" + cid, filled=part,
                                average=price, fee=D("0.01"), complete=True)]
        return self.exchange_reply(cmd)

    def answer_held(self) -> None:
        held, self.held = self.held, []
        for cmd in held:
            if self.state.order(cmd.order.client_order_id) is None:
                continue
            for ev in self.exchange_reply(cmd):
                self.send(ev)

    def cross_stops(self, price: Decimal, partial: bool) -> None:
        pos = self.state.position
        for o in list(self.state.orders):
            if pos is None or o.purpose is not OrderPurpose.STOP:
                continue
            if o.status is not OrderStatus.OPEN:
                continue
            if not self.state.owns(o) or not ts.crossed_against(pos.side, price, o.price):
                continue
            pos = self.state.position
            if pos is None:
                return
            qty = (pos.contracts / 2).quantize(D("0.001")) if partial else pos.contracts
            self.send(OrderFilled(client_order_id=o.client_order_id, exchange_id="x",
                                  filled=qty, average=o.price, fee=D("0.01"), complete=True))


steps = st.lists(st.tuples(st.integers(-6, 6), st.sampled_from(MOODS + ["long", "short", "exit",
                                                                        "answer", "timer",
                                                                        "yank", "cross"]),
                           st.floats(0, 5)), min_size=40, max_size=120)


def check(sc: Venue, seen: dict) -> None:
    s = sc.state
    pos = s.position
    if pos is None:
        seen.clear()
        return
    best = seen.get(pos.position_id)
    if s.stop_price is not None:
        if best is not None:
            assert not ts.better(pos.side, best, s.stop_price), (best, s.stop_price)
        seen[pos.position_id] = s.stop_price
    entries = sum((e.amount for e in sc.ledger() if e.position_id == pos.position_id
                   and e.side == pos.side.entry_order_side), D(0))
    exits = sum((e.amount for e in sc.ledger() if e.position_id == pos.position_id
                 and e.side == pos.side.exit_order_side), D(0))
    assert exits <= entries and pos.contracts == entries - exits


@settings(max_examples=300, deadline=None)
@given(steps=steps, risk=st.sampled_from([{}, {"amend_stops": True},
                                          {"take_profit_pct": D("1.5")}]))
def test_an_unlucky_venue(steps, risk):
    sc = Venue(SymbolCore(make_rules(**risk)))
    price, seen = D("100"), {}
    sc.send(PriceTicked(price=price))
    for ticks, action, dt in steps:
        if action in MOODS:
            sc.mood = action
        elif action == "answer":
            sc.answer_held()
        elif action in ("long", "short"):
            sc.send(SignalRaised(side=Side(action)), dt=0.1)
        elif action == "exit":
            sc.send(SignalRaised(side=None, reason="exit"))
        elif action == "timer":
            sc.send(TimerFired(), dt=dt)
        elif action == "yank":
            for o in sc.state.live_orders(OrderPurpose.STOP):
                if o.status is OrderStatus.OPEN:
                    sc.send(OrderCanceled(client_order_id=o.client_order_id))
                    break
        price = max(D("80"), price + ticks * TICK)
        sc.send(PriceTicked(price=price), dt=dt)
        if action == "cross" or ticks < 0:
            sc.cross_stops(price, partial=ticks % 2 == 0)
        check(sc, seen)
    # the venue comes good: after the stop retry every position is protected or closing
    sc.mood = "ok"
    sc.answer_held()
    sc.send(TimerFired(), dt=30)
    sc.send(TimerFired(), dt=30)
    s = sc.state
    if s.position is not None and s.phase in (Phase.OPEN, Phase.CLOSING):
        intended = intended_stop(s, Ctx(rules=sc.core.rules, now=sc.now))
        through = ts.crossed_against(s.position.side, s.last_price, intended)
        assert s.live_orders(OrderPurpose.STOP) or through, s


def test_a_closed_positions_late_close_fill_stays_off_the_next_position():
    """Found by the test above (seed 29): a short's close order the venue held unanswered, the
    short then closed by its stop, a long opened, and only then the held close's fill came.
    It was booked under the long and took 0.5 off it (a buy shrinking a long): the books said
    0.502 where the ledger held 1.002 of entries. It is booked under its own (closed) position
    now, as a fill without its position, and the long keeps its size."""
    sc = Venue(SymbolCore(make_rules()))
    sc.send(PriceTicked(price=D("100")))
    sc.send(SignalRaised(side=Side.SHORT), dt=0.1)
    sc.send(PriceTicked(price=D("100")))
    short = sc.state.position
    assert short is not None and short.side is Side.SHORT
    sc.send(PriceTicked(price=D("99.5")))  # the trailing stop tightens the short's stop
    sc.mood = "hold"  # from here the venue answers nothing
    sc.send(PriceTicked(price=D("99.6")))
    sc.send(PriceTicked(price=D("99.8")))
    sc.cross_stops(D("99.8"), partial=True)  # half the short stopped: the rest is closed
    held = [c.order for c in sc.held if c.order.purpose is OrderPurpose.CLOSE]
    assert held, "the close of the short's rest is held by the venue"
    sc.mood = "ok"
    for price in ("99.7", "99.9", "99.8"):
        sc.send(PriceTicked(price=D(price)))
    sc.cross_stops(D("99.8"), partial=False)  # the stop takes the rest: flat
    assert sc.state.position is None
    sc.send(SignalRaised(side=Side.LONG), dt=0.1)
    sc.send(PriceTicked(price=D("99.8")))
    long = sc.state.position
    assert long is not None and long.side is Side.LONG
    sc.answer_held()  # the short's close fills only now
    assert sc.state.position is not None and sc.state.position.contracts == long.contracts
    late = [e for e in sc.ledger() if e.client_order_id == held[0].client_order_id]
    assert [e.position_id for e in late] == [short.position_id]
    check(sc, {})
