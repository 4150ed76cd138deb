"""The hedge grid's leg close, as the one-way core's (tests/trading/
test_unsent_close_counted_once.py): a close committed and never sent (the process killed
between its commit and its send) is found by the restart's reconciliation as never reached
(`OrderFailed.unseen`). Each such kill counted one more attempt (trading/grid/maintain.py
`_protect` counts at the commit): a bot killed at that moment again and again escalated the
leg at max_close_attempts although the venue never refused one close. A row of never-sent
closes now counts once; refused closes still count every time and escalate."""

from __future__ import annotations

from decimal import Decimal as D

from storage.grid_codec import dumps, loads
from tests.trading.test_grid_close_counted_before_send import _closes, _unprotected_long
from tests.trading.test_grid_core import Book
from trading.commands import Escalate
from trading.events import ExchangeOrder, ExchangePosition, OrderFailed, PriceTicked
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side


def _restart(b: Book) -> list:
    """The process was killed once the close was committed; the restart restores the state as
    stored (the grid_state row's JSON: storage/grid_codec.py) and its reconciliation finds the
    long leg listed, every other live order resting, and no such close."""
    b.loop.adopt(loads(b.state.symbol, dumps(b.state)), reconciled=False)
    others = {o.client_order_id: ExchangeOrder(client_order_id=o.client_order_id,
                                               exchange_id="x" + o.client_order_id,
                                               status="open", filled=D(0), average=None,
                                               fee=D(0))
              for o in b.state.orders if o.status.live and o.kind is not GridKind.CLOSE}
    listed = {Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(1), entry_price=D(100))}
    d = b.send(GridReconciled(positions=listed, orders=others, price=D(90)))
    escalations = [c for c in d.commands if isinstance(c, Escalate)]
    b.now += 100
    d = b.send(PriceTicked(price=D(90)))
    return escalations + [c for c in d.commands if isinstance(c, Escalate)]


def _live_close(b: Book):
    return [o for o in b.state.orders_of(Side.LONG, GridKind.CLOSE) if o.status.live]


def test_a_leg_close_killed_before_its_send_again_and_again_never_escalates():
    b = Book(max_close_attempts=3)
    _unprotected_long(b)
    assert len(_closes(list(b.send(PriceTicked(price=D(90))).commands))) == 1
    counts = []
    for _ in range(9):
        assert len(_live_close(b)) == 1, f"no close in flight after {counts}"
        escalations = _restart(b)
        assert not escalations, f"escalated after {counts}: no close was ever refused"
        counts.append(b.state.long.close_attempts)
    assert not b.state.quarantined and b.state.long.contracts == D(1)
    assert max(counts) <= 2, counts


def test_refused_leg_closes_after_a_row_of_unsent_ones_still_escalate():
    b = Book(max_close_attempts=3)
    _unprotected_long(b)
    b.send(PriceTicked(price=D(90)))
    for _ in range(4):
        _restart(b)
    escalated = False
    for _ in range(4):
        (close,) = _live_close(b)
        d = b.send(OrderFailed(client_order_id=close.client_order_id, error="refused",
                               never_reached=False))
        escalated = any(isinstance(c, Escalate) for c in d.commands)
        if escalated:
            break
        b.now += 100
        b.send(PriceTicked(price=D(90)))
    assert escalated and b.state.quarantined
