"""A close refused while the exchange lists no position ("raced") is retried with the close
backoff and escalates after max_close_attempts, like any failed close (review 3, defect 4): a
venue that keeps listing no position while nothing shows the position closed is not asked every
2 s forever. Both styles, pure cores."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from tests.trading.test_grid_core import Book
from trading.commands import Escalate, PlaceOrder
from trading.decide import SymbolCore
from trading.events import (
    OrderAccepted,
    OrderFailed,
    OrderFilled,
    PriceTicked,
    SignalRaised,
    TimerFired,
)
from trading.grid.context import PlaceGridOrder
from trading.grid.model import GridKind
from trading.model import OrderPurpose, Phase, Side, SymbolState


def test_a_close_that_keeps_racing_is_backed_off_and_escalates_once():
    core = SymbolCore(make_rules(max_close_attempts=5))  # stop_retry_s = 2, backoff 1..8 s
    risk = core.rules.risk
    now = 1000.0
    state = SymbolState(symbol=core.rules.symbol)
    state = core.decide(state, PriceTicked(price=D(100)), now).state
    d = core.decide(state, SignalRaised(side=Side.LONG), now)
    (entry,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    d = core.decide(d.state, OrderFilled(client_order_id=entry.client_order_id, exchange_id="e",
                                         filled=entry.amount, average=D(100), fee=D(0)), now)
    (stop,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    state = core.decide(d.state, OrderAccepted(client_order_id=stop.client_order_id,
                                               exchange_id="s"), now).state
    d = core.decide(state, SignalRaised(side=None, reason="exit"), now)
    closes, escalations, delays = 0, 0, []
    for _ in range(20):
        sent = [c.order for c in d.commands
                if isinstance(c, PlaceOrder) and c.order.purpose is OrderPurpose.CLOSE]
        if not sent:
            break
        closes += 1
        d = core.decide(d.state, OrderFailed(client_order_id=sent[0].client_order_id,
                                             error="ReduceOnly rejected", position_gone=True), now)
        escalations += sum(isinstance(c, Escalate) for c in d.commands)
        if d.state.next_close_at is None:
            break
        delays.append(d.state.next_close_at - now)
        now = d.state.next_close_at
        d = core.decide(d.state, TimerFired(), now)
    assert closes == risk.max_close_attempts and escalations == 1
    assert d.state.quarantined and d.state.phase is Phase.CLOSING
    assert d.state.position is not None  # never booked closed without evidence
    assert all(delay >= risk.stop_retry_s for delay in delays)
    assert delays == sorted(delays) and delays[-1] > delays[0]  # backed off
    assert any(j.type == "Escalated" for j in d.journal)


def test_a_grid_leg_close_that_keeps_racing_escalates_once():
    b = Book(max_close_attempts=2)
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    stop = b.state.orders_of(Side.LONG, GridKind.STOP)[0]
    b.send(OrderFailed(client_order_id=stop.client_order_id, error="rejected"))
    closes = escalations = 0
    for _ in range(30):
        b.now += 100
        d = b.send(PriceTicked(price=D(90)))  # below the 95 stop, and no stop rests
        for c in d.commands:
            if isinstance(c, PlaceGridOrder) and c.order.kind is GridKind.CLOSE:
                closes += 1
                b.send(OrderFailed(client_order_id=c.order.client_order_id, error="refused",
                                   position_gone=True))
                escalations += sum(isinstance(x, Escalate) for x in b.commands)
            if isinstance(c, PlaceGridOrder) and c.order.kind is GridKind.STOP:
                b.send(OrderFailed(client_order_id=c.order.client_order_id, error="rejected"))
    assert closes == 2 and escalations == 1
    assert b.state.quarantined and b.state.long.contracts == D(1)  # never forgotten


def test_a_raced_grid_leg_close_waits_at_least_retry_s_as_the_one_way_cores():
    """The first raced close of a leg waits retry_s (2 s), not the close backoff's first 1 s:
    the venue listing no position is most often its position list lagging a fill of ours, which
    the next reconciliation shows; as the one-way core's raced close (the test above)."""
    b = Book(max_close_attempts=5)
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    stop = b.state.orders_of(Side.LONG, GridKind.STOP)[0]
    b.send(OrderFailed(client_order_id=stop.client_order_id, error="rejected"))
    b.now += 100
    b.send(PriceTicked(price=D(90)))  # below the 95 stop, and no stop rests
    (close,) = b.placed(GridKind.CLOSE, Side.LONG)
    b.send(OrderFailed(client_order_id=close.client_order_id, error="ReduceOnly rejected",
                       position_gone=True))
    failed_at = b.now
    assert b.state.long.close_retry_at - failed_at == b.core.rules.retry_s
    b.send(PriceTicked(price=D(90)))  # 1 s later
    assert b.placed(GridKind.CLOSE, Side.LONG) == [], "a raced close sent again after 1 s"
    b.now = failed_at + b.core.rules.retry_s  # the next message comes after retry_s
    b.send(PriceTicked(price=D(90)))
    assert len(b.placed(GridKind.CLOSE, Side.LONG)) == 1
