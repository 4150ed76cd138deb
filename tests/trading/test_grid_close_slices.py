"""Hedge grid: a leg larger than the market's maximum order amount (adopted after buys by hand)
is closed in slices of the maximum; a slice that filled in full is no failed attempt, so the
next goes at once and the slices never escalate the symbol, as the one-way core's
(trading/lifecycle.py `send_close(counted=False)`). A slice that ends short of its amount is a
failed attempt, backed off. Found by review: every slice counted as a failed attempt, so a leg of
six times the maximum waited a growing backoff between slices, through its stop, and escalated
(quarantine, alert, emergency close) at the fifth though each slice closed in full. Driven
through production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.commands import Escalate
from trading.events import ExchangePosition, OrderCanceled, OrderFilled, PriceTicked
from trading.grid.context import PlaceGridOrder
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side
from trading.rules import MarketRules


def _closes(commands) -> list:
    return [c.order for c in commands
            if isinstance(c, PlaceGridOrder) and c.order.kind is GridKind.CLOSE]


def _adopted_long_through_its_stop(contracts: str) -> Book:
    market = MarketRules(amount_step=D("0.001"), price_tick=D("0.1"), min_amount=D("0.001"),
                         min_cost=D(5), max_amount=D(2))
    b = Book(market=market, levels=0, max_close_attempts=3)
    listed = {Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(contracts),
                                          entry_price=D(100))}
    b.send(GridReconciled(positions=listed, price=D(100)))  # adopted: bought by hand
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    b.accept(stop)
    b.send(OrderCanceled(client_order_id=stop.client_order_id))  # removed by hand
    return b


def test_slices_that_fill_in_full_go_at_once_and_never_escalate():
    b = _adopted_long_through_its_stop("12")
    pending = _closes(b.send(PriceTicked(price=D(90))).commands)  # below the 95 stop
    slices, escalations = [], 0
    while pending and len(slices) < 20:
        close = pending.pop()
        slices.append(close.amount)
        d = b.send(OrderFilled(client_order_id=close.client_order_id, exchange_id="c",
                               filled=close.amount, average=D(90), fee=D("0.01")))
        escalations += sum(isinstance(c, Escalate) for c in d.commands)
        pending += _closes(d.commands)
    assert slices == [D(2)] * 6, f"slices sent at once: {slices}"
    assert escalations == 0 and not b.state.quarantined
    assert not b.state.long.is_open


def test_a_slice_that_ends_short_is_a_failed_attempt():
    b = _adopted_long_through_its_stop("6")
    (close,) = _closes(b.send(PriceTicked(price=D(90))).commands)
    d = b.send(OrderFilled(client_order_id=close.client_order_id, exchange_id="c",
                           filled=D(1), average=D(90), fee=D("0.01"), complete=True))
    assert not _closes(d.commands), "sent again at once"
    assert b.state.long.close_attempts == 1 and b.state.long.close_retry_at > b.now


def test_a_slice_that_ends_short_after_full_slices_is_the_first_failed_attempt():
    """Slices filled in full take their counted attempt back: the first that ends short is the
    first failure (backed off once, no escalation), not the third (with max_close_attempts 3, the
    symbol quarantined and closed by the supervisor though two of three slices closed in full)."""
    b = _adopted_long_through_its_stop("6")
    (close,) = _closes(b.send(PriceTicked(price=D(90))).commands)
    for _ in range(2):  # two slices of 2 fill in full; each sends the next at once
        d = b.send(OrderFilled(client_order_id=close.client_order_id, exchange_id="c",
                               filled=close.amount, average=D(90), fee=D("0.01")))
        (close,) = _closes(d.commands)
    assert b.state.long.close_attempts == 1  # the slice in flight, counted before it was sent
    d = b.send(OrderFilled(client_order_id=close.client_order_id, exchange_id="c",
                           filled=D(1), average=D(90), fee=D("0.01"), complete=True))
    assert not any(isinstance(c, Escalate) for c in d.commands)
    assert not b.state.quarantined and "LegEscalated" not in b.journal
    assert b.state.long.close_attempts == 1 and b.state.long.contracts == D(1)
