"""The hedge grid's per-decision context: the shared scratchpad (trading/decision.py) with the
grid's way of creating and cancelling orders. Grid orders are the one order model and go out
through the one PlaceOrder command (`PlaceGridOrder` is its former name)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from trading.commands import CancelOrder, Escalate, PlaceOrder
from trading.decision import BaseCtx
from trading.grid.model import GridState
from trading.grid.rules import GridRules
from trading.orders import Order, OrderPurpose
from trading.primitives import Side

PlaceGridOrder = PlaceOrder
"""Former name of PlaceOrder for grid orders (with `margin`)."""

GridCommand = PlaceOrder | CancelOrder | Escalate


class GridCtx(BaseCtx[GridRules]):
    __slots__ = ()

    def place(self, state: GridState, leg: Side, purpose: OrderPurpose, side: str,
              amount: Decimal, *, price: Decimal | None = None, level: int = 0,
              replaces: str | None = None, margin: Decimal | None = None) -> GridState:
        """A pending order with the next client id, committed before PlaceOrder sends it."""
        seq = state.order_seq + 1
        order = Order(client_order_id=self.rules.client_order_id(seq, purpose), leg=leg,
                      purpose=purpose, side=side, amount=amount, price=price, level=level,
                      reduce_only=purpose.reduces, created_at=self.now, replaces=replaces,
                      position_id=state.leg(leg).position_id)
        self.emit(PlaceOrder(order=order, margin=margin))
        return replace(state, order_seq=seq).with_order(order)

    def cancel(self, state: GridState, order: Order) -> GridState:
        """Ask for a cancel; the order stays live until the exchange confirms it."""
        self.emit(CancelOrder.of(order))
        return state.with_order(replace(order, cancel_requested_at=self.now))
