"""Deadlines inside the cores are wall-clock times (they are persisted and must mean the same
after a restart). A wall clock stepped back (NTP, a VM restore) used to stall every one of them
for as long as the step: a failed close not retried for an hour, a refused stop not re-placed,
a grid leg's orders throttled. A deadline further away than it can ever be set is now due
(trading/primitives.py `waiting`); one inside its bound still waits."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from tests.trading.test_grid_core import Book
from trading.commands import PlaceOrder
from trading.decide import SymbolCore
from trading.events import OrderFailed, OrderFilled, PriceTicked, SignalRaised, TimerFired
from trading.grid.model import GridKind
from trading.model import OrderPurpose, Side, SymbolState
from trading.primitives import waiting

T = 1_800_000_000.0


def _closing_after_a_failed_close() -> tuple[SymbolCore, SymbolState]:
    core = SymbolCore(make_rules(close_backoff_initial_s=1.0, close_backoff_max_s=8.0,
                                 max_close_attempts=5))
    s = core.decide(SymbolState(symbol=core.rules.symbol), PriceTicked(price=D(100)), T).state
    d = core.decide(s, SignalRaised(side=Side.LONG), T)
    entry = next(c.order for c in d.commands if isinstance(c, PlaceOrder))
    s = core.decide(d.state, OrderFilled(client_order_id=entry.client_order_id, exchange_id="e1",
                                         filled=entry.amount, average=D(100), fee=D(0)), T).state
    d = core.decide(s, SignalRaised(side=None, reason="exit"), T + 1)
    close = next(c.order for c in d.commands
                 if isinstance(c, PlaceOrder) and c.order.purpose is OrderPurpose.CLOSE)
    failed = OrderFailed(client_order_id=close.client_order_id, error="429", never_reached=True)
    return core, core.decide(d.state, failed, T + 1).state


def _close_sent(core: SymbolCore, s: SymbolState, now: float) -> bool:
    return any(isinstance(c, PlaceOrder) and c.order.purpose is OrderPurpose.CLOSE
               for c in core.decide(s, TimerFired(), now).commands)


def test_a_failed_close_is_retried_after_the_wall_clock_stepped_back_an_hour():
    core, s = _closing_after_a_failed_close()
    assert s.next_close_at is not None and s.next_close_at - T <= 8.0
    assert not _close_sent(core, s, T + 1.5)  # inside its backoff: it waits
    assert _close_sent(core, s, T + 3)
    assert _close_sent(core, s, T + 3 - 3600)  # stepped back: due now, not in an hour


def test_a_grid_leg_whose_stop_failed_is_not_left_unprotected_by_a_step_back():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    b.fill(opens[Side.LONG], "100")
    (stop,) = b.placed(GridKind.STOP, Side.LONG)
    b.send(OrderFailed(client_order_id=stop.client_order_id, error="timeout", never_reached=True))
    assert b.state.leg(Side.LONG).retry_at > b.now  # the next stop waits retry_s
    b.now -= 3600  # the wall clock steps back an hour
    b.send(PriceTicked(price=D(100)))
    assert b.placed(GridKind.STOP, Side.LONG), "the leg's stop is re-placed at once"


def test_the_bound():
    assert waiting(100.0, 105.0, 8.0) and not waiting(106.0, 105.0, 8.0)
    assert not waiting(100.0 - 3600, 105.0, 8.0)  # set 3,605 s ahead of "now": a step back
    assert waiting(100.0, 108.0, 8.0)  # exactly the longest it can be set: still waits
