"""Rule 2 (incident 2), hedge-grid style: after a leg's close attempts run out and the symbol
escalates, it opens nothing new: no leg is opened and no averaging level is placed, however
long the price keeps moving. The position stays tracked (never forgotten) meanwhile.

Found by a mutation audit: with `_entries_allowed` ignoring the quarantine, every other grid
test still passed while an escalated symbol reopened its flat leg."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book
from trading.commands import Escalate
from trading.events import OrderFailed, PriceTicked
from trading.grid.context import PlaceGridOrder
from trading.grid.model import GridKind
from trading.model import Side


def escalate_long_leg(b: Book) -> None:
    """Long leg open, the short leg's opens refused (flat), the long leg's stops refused, the
    price through the stop: every close fails until the symbol escalates."""
    b.send(PriceTicked(price=D(100)))
    opens = {o.leg: o for o in b.placed(GridKind.OPEN)}
    b.send(OrderFailed(client_order_id=opens[Side.SHORT].client_order_id, error="rejected"))
    b.fill(opens[Side.LONG], "100")
    escalations = 0
    for _ in range(30):
        if b.state.quarantined:
            break
        b.now += 100
        b.send(PriceTicked(price=D(90)))  # below the 95 stop
        todo = [c for c in b.commands if isinstance(c, PlaceGridOrder)]
        while todo:  # the exchange refuses every order: each answer may place the next
            b.send(OrderFailed(client_order_id=todo.pop(0).order.client_order_id, error="boom"))
            escalations += sum(isinstance(x, Escalate) for x in b.commands)
            todo += [c for c in b.commands if isinstance(c, PlaceGridOrder)]
    assert b.state.quarantined and escalations == 1
    assert b.state.short.contracts == D(0) and b.state.orders_of(Side.SHORT, GridKind.OPEN) == []


def test_an_escalated_grid_symbol_opens_no_leg_and_places_no_level():
    b = Book(max_close_attempts=2)
    escalate_long_leg(b)
    for stop in b.state.orders_of(Side.LONG, GridKind.STOP):  # the long leg's stop rests at last
        b.accept(stop)
    opened = []
    for price in ["100", "101", "99", "97", "103", "100"] * 4:
        b.now += 3600  # far past every retry, reopen and throttle delay
        d = b.send(PriceTicked(price=D(price)))
        for c in d.commands:
            if not isinstance(c, PlaceGridOrder):
                continue
            if c.order.kind in (GridKind.OPEN, GridKind.ADD):
                opened.append(c.order)
                b.accept(c.order)
            if c.order.kind is GridKind.STOP:
                b.accept(c.order)
    assert b.state.protected(Side.LONG)  # covered: only the quarantine holds a level back
    assert opened == []
    assert b.state.quarantined and b.state.long.contracts == D(1)  # never forgotten
