"""A create still waiting in the decision loop's queue is never sent after a decision made
meanwhile ended its order (actors/command_queue.py).

Found by the hedge grid's kill -9 chaos run (tests/e2e/test_chaos_grid.py, 2 of 8 seeds): one
decision reopened the long leg and placed a short level order; the entry filled, its
take-profit filled at once and closed the leg, and that decision canceled the level order still
waiting in the queue. The cancel found nothing and was booked; then the create went out and
filled, and the fill was never booked: the exchange held a leg the bot did not know.

Production's decision loop (actors/loop.py) around the real grid core; the test plays a venue
whose price moves while it answers (so a take-profit can be marketable the moment it arrives),
fills market and marketable limit orders at once, rests the others, and keeps each leg's
position from the fills it made.
"""

from __future__ import annotations

import random
from collections import deque
from decimal import Decimal as D

from actors.command_queue import send_next
from tests.trading.scenario import QuietLog, loop_for
from tests.trading.test_grid_core import SYMBOL, rules
from trading.commands import AmendStop, CancelOrder, PlaceOrder
from trading.events import Event, OrderAccepted, OrderCanceled, OrderFilled, PriceTicked
from trading.grid.core import GridCore
from trading.grid.model import GridState
from trading.orders import Order, OrderPurpose, OrderStatus, Side

SEEDS = range(6)


class MovingVenue:
    """Fills at the current price; the price takes a random step on every call."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.now = 1000.0
        self.price = D(100)
        self.resting: dict[str, Order] = {}
        self.fills: dict[str, OrderFilled] = {}
        self.position = {Side.LONG: D(0), Side.SHORT: D(0)}
        self.loop = None
        self.creates = 0
        self.creates_of_ended: list[tuple[str, str]] = []

    def step(self, cents: list[int]) -> None:
        """A random step, pulled back toward 100 (the grid keeps trading)."""
        pull = (D(100) - self.price) / 20
        self.price = max(D(50), self.price + pull + D(self.rng.choice(cents)) / 100)

    def execute(self, command: object) -> list[Event]:
        self.now += 0.01
        self.step([-80, -40, 0, 40, 80])
        if isinstance(command, CancelOrder):  # what the executor books after the venue's answer
            cid = command.client_order_id or ""
            self.resting.pop(cid, None)
            return [self.fills.get(cid) or OrderCanceled(client_order_id=cid)]
        if not isinstance(command, PlaceOrder):
            return []
        order, cid = command.order, command.order.client_order_id
        self.creates += 1
        mine = self.loop.state.order(cid)  # what the bot holds as it sends
        if mine is None or mine.status is not OrderStatus.PENDING:
            self.creates_of_ended.append((cid, "gone" if mine is None else mine.status.value))
        accepted = OrderAccepted(client_order_id=cid, exchange_id="x" + cid)
        if order.stop_price is not None or not self._marketable(order):  # stops rest
            self.resting[cid] = order
            return [accepted]
        return [accepted, self._fill(order)]

    def crossed(self) -> list[Event]:
        """Fill the resting orders the price has reached (stops trigger, limits fill)."""
        due = [o for o in self.resting.values() if self._marketable(o)]
        for order in due:
            del self.resting[order.client_order_id]
        return [self._fill(order) for order in due]

    def _fill(self, order: Order) -> OrderFilled:
        grows = (order.side == "buy") == (order.leg is Side.LONG)
        held = self.position[order.leg]
        amount = order.amount if grows else min(order.amount, held)  # reduces what is held
        self.position[order.leg] = held + amount if grows else held - amount
        cid = order.client_order_id
        self.fills[cid] = OrderFilled(client_order_id=cid, exchange_id="x" + cid,
                                      filled=amount, average=self.price, fee=D("0.01"))
        return self.fills[cid]

    def _marketable(self, order: Order) -> bool:
        if order.stop_price is not None:  # a stop: triggered when the price reaches it
            return (self.price >= order.stop_price if order.side == "buy"
                    else self.price <= order.stop_price)
        if order.price is None:
            return True
        return order.price >= self.price if order.side == "buy" else order.price <= self.price


def test_no_create_goes_out_for_an_order_ended_while_it_waited() -> None:
    creates = 0
    for seed in SEEDS:
        venue = MovingVenue(seed)
        loop, _ = loop_for(GridCore(rules()), GridState(symbol=SYMBOL),
                           clock=lambda v=venue: v.now, execute=venue.execute)
        venue.loop = loop
        for _ in range(2000):
            venue.now += 1
            venue.step([-30, -10, -5, 5, 10, 30])
            for event in [*venue.crossed(), PriceTicked(price=venue.price)]:
                loop.apply(event)
            legs = {side: loop.state.leg(side).contracts for side in Side}
            assert legs == venue.position, (
                f"seed {seed}: the venue holds {venue.position}, the bot books {legs}")
        assert venue.creates_of_ended == [], f"seed {seed}"
        creates += venue.creates
    assert creates > 1000, creates  # the venue was asked to place orders, many of them


class Held:
    """A state holding the given orders (what `send_next` reads of the loop's state)."""

    def __init__(self, *orders: Order) -> None:
        self.orders = orders

    def order(self, cid: str) -> Order | None:
        return next((o for o in self.orders if o.client_order_id == cid), None)


def stop(cid: str, status: OrderStatus) -> Order:
    return Order(client_order_id=cid, purpose=OrderPurpose.STOP, side="sell", amount=D(1),
                 status=status, exchange_id="x" + cid)


def test_a_cancel_takes_a_waiting_create_out_and_an_ended_stop_is_not_amended() -> None:
    sent: list[object] = []
    pending = stop("s2", OrderStatus.PENDING)
    queued = deque([CancelOrder(client_order_id="s2", exchange_id=None),
                    PlaceOrder(order=pending),
                    AmendStop(client_order_id="s1", exchange_id="xs1", side="sell",
                              stop_price=D(90))])
    ended = Held(pending, stop("s1", OrderStatus.CANCELED))
    assert send_next(queued, ended, lambda c: sent.append(c) or [], QuietLog()) == [
        OrderCanceled(client_order_id="s2")]  # answered here, no call
    assert [type(c) for c in queued] == [AmendStop]  # the create is out of the queue
    assert send_next(queued, ended, lambda c: sent.append(c) or [], QuietLog()) == []
    assert sent == [] and not queued
    amend = AmendStop(client_order_id="s1", exchange_id="xs1", side="sell", stop_price=D(90))
    resting = Held(stop("s1", OrderStatus.OPEN))
    send_next(deque([amend]), resting, lambda c: sent.append(c) or [], QuietLog())
    assert sent == [amend]  # a stop still open is amended
