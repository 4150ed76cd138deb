"""Hedge grid: a symbol quarantined for a position it does not know
(`supervision.adopt_unknown_positions = false`: a short opened by hand) while our long is open.
That quarantine is no escalation: no emergency close runs for it. Our long's stop went (cancelled
by hand, or refused) and the price fell through the stop level: the bot must close the long
itself, as it would without the flag. It held the close back for any quarantine (meant for an
escalation, whose emergency path closes the legs), so the long stayed open past its stop with no
stop and nothing closing it, for as long as a person took to look at the flag.
Driven through production's decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.commands import Escalate
from trading.events import (
    ExchangeOrder,
    ExchangePosition,
    OrderCanceled,
    OrderFailed,
    PriceTicked,
    ReconcileFailed,
)
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side
from trading.orders import Order
from trading.reconcile import UNKNOWN_POSITION


def long_alone_and_protected() -> tuple[Book, Order]:
    """A grid that does not adopt unknown positions, its short's opening refused and its long
    opened at 100; the long's stop accepted. The book and that stop."""
    b = Book(adopt_unknown_positions=False)
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    b.send(OrderFailed(client_order_id=opens[Side.SHORT].client_order_id, error="rejected"))
    b.fill(opens[Side.LONG], "100")
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    b.accept(stop)
    return b, stop


def reconciled_with_an_unknown_short(b: Book) -> None:
    """A reconciliation finding our long and a short of 2 nobody here opened, every order of
    ours open."""
    listed = {Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(1), entry_price=D(100)),
              Side.SHORT: ExchangePosition(side=Side.SHORT, contracts=D(2), entry_price=D(99))}
    found = {o.client_order_id: ExchangeOrder(client_order_id=o.client_order_id,
                                              exchange_id="x", status="open", filled=D(0),
                                              average=None, fee=D(0))
             for o in b.state.orders}
    b.send(GridReconciled(positions=listed, orders=found, price=D(100)))


def _long_past_its_stop_while_the_short_is_flagged() -> Book:
    b, stop = long_alone_and_protected()
    reconciled_with_an_unknown_short(b)
    assert b.state.quarantined and b.state.quarantine_reason == UNKNOWN_POSITION
    long = b.state.long
    assert long.is_open and long.stop_price is not None

    b.send(OrderCanceled(client_order_id=stop.client_order_id))  # the stop went (by hand)
    for new in b.placed(GridKind.STOP, Side.LONG):  # and every new one is refused
        b.send(OrderFailed(client_order_id=new.client_order_id, error="refused"))
    b.send(PriceTicked(price=long.stop_price - D(1)))
    return b


def test_an_unprotected_leg_past_its_stop_is_closed_while_the_other_side_is_flagged():
    b = _long_past_its_stop_while_the_short_is_flagged()
    long = b.state.long
    closes = b.placed(GridKind.CLOSE, Side.LONG)
    assert closes, "the long stayed open past its stop, unprotected, with no close"
    assert closes[0].amount == long.contracts
    assert b.state.long.close_attempts == 1


def test_a_close_whose_outcome_cannot_be_learnt_escalates_while_the_other_side_is_flagged():
    """Its sibling (handlers.py `on_reconcile_failed`): reconciliation failing for good while
    that close is out escalated for no quarantine at all; the flag's held it back too."""
    b = _long_past_its_stop_while_the_short_is_flagged()
    assert b.placed(GridKind.CLOSE, Side.LONG)
    b.send(ReconcileFailed(error="bug", failures=b.core.rules.max_close_attempts))
    assert [c for c in b.commands if isinstance(c, Escalate)], "no escalation"
    assert b.state.quarantine_reason != UNKNOWN_POSITION


def test_once_that_close_escalated_the_flag_does_not_take_the_escalation_back():
    """An escalation of our leg's close stays the quarantine's reason: the next reconciliation
    still listing the unknown short flagged the symbol again (UNKNOWN_POSITION), and the bot's
    own closes of the long, with their escalations, started over beside the emergency close.
    The unknown short's reduce-only stop (its owner's) still stays."""
    b = _long_past_its_stop_while_the_short_is_flagged()
    for _ in range(b.core.rules.max_close_attempts):
        (close,) = b.placed(GridKind.CLOSE, Side.LONG)
        b.send(OrderFailed(client_order_id=close.client_order_id, error="refused"))
        b.now += 120  # past the close backoff
        b.send(PriceTicked(price=b.state.long.stop_price - D(1)))
    assert b.state.quarantined and b.state.quarantine_reason != UNKNOWN_POSITION
    reason = b.state.quarantine_reason
    listed = {Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(1), entry_price=D(100)),
              Side.SHORT: ExchangePosition(side=Side.SHORT, contracts=D(2), entry_price=D(99))}
    owner_stop = ExchangeOrder(client_order_id="web-stop", exchange_id="s9", status="open",
                               filled=D(0), average=None, fee=D(0), reduce_only=True)
    b.send(GridReconciled(positions=listed, orphans=(owner_stop,),
                          price=b.state.long.stop_price - D(1)))
    assert b.state.quarantine_reason == reason
    assert "s9" not in [getattr(c, "exchange_id", None) for c in b.commands]
    b.now += 120
    b.send(PriceTicked(price=b.state.long.stop_price - D(1)))
    assert not b.placed(GridKind.CLOSE, Side.LONG), "the bot's closes started over"
