"""The hedge grid's per-decision context and its one command of its own (the rest are shared
with the one-way core: CancelOrder, Escalate, journal and ledger entries)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from trading.commands import CancelOrder, Escalate
from trading.decision import Ctx
from trading.grid.model import GridKind, GridOrder, GridState
from trading.model import Side


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaceGridOrder:
    """Send an order that is already committed as pending (write-ahead). For an order that
    can grow a position, `margin` is what it needs free: the shell checks the balance right
    before this one placement (one check, one place)."""

    order: GridOrder
    margin: Decimal | None = None


GridCommand = PlaceGridOrder | CancelOrder | Escalate


class GridCtx(Ctx):
    """The one-way core's context (rules, time, what to emit, `record`, `decision`) with the
    grid's way of creating and cancelling orders. `rules` is a GridRules here."""

    __slots__ = ()

    def place(self, state: GridState, leg: Side, kind: GridKind, side: str, amount: Decimal, *,
              price: Decimal | None = None, level: int = 0, replaces: str | None = None,
              margin: Decimal | None = None) -> GridState:
        """A pending order with the next client id, committed before PlaceGridOrder sends it."""
        seq = state.order_seq + 1
        order = GridOrder(client_order_id=self.rules.client_order_id(seq, kind), leg=leg, kind=kind,
                          side=side, amount=amount, price=price, level=level, created_at=self.now,
                          replaces=replaces, position_id=state.leg(leg).position_id)
        self.emit(PlaceGridOrder(order=order, margin=margin))
        return replace(state, order_seq=seq).with_order(order)

    def cancel(self, state: GridState, order: GridOrder) -> GridState:
        """Ask for a cancel; the order stays live until the exchange confirms it."""
        self.emit(CancelOrder(client_order_id=order.client_order_id, exchange_id=order.exchange_id))
        return state.with_order(replace(order, cancel_requested_at=self.now))
