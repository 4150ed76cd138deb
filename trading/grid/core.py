"""GridCore.decide(state, event, now) -> GridDecision: the whole hedge-grid logic of one symbol.

Pure, like `trading/decide.py`. The seed grid bot's race bugs are impossible by construction:
- every exchange event is an event here, handled in mailbox order; reconciliation is one more
  event, so a take-profit fill is never dropped while a sync runs (incident 8);
- when a leg closes, every order of that leg and the pending levels of both legs are cancelled,
  and the leg reopens only once each cancel is confirmed (incident 9);
- every order, the take-profit included, has its client id committed before it is sent
  (incident 10);
- a pending level is recomputed after the price moves more than `recalc_pct` from the price it
  was computed from; reference quantities are cleared when both legs are flat.
After every event `maintain` (trading/grid/maintain.py) brings the orders in line with the legs:
each open leg has a stop covering it and a take-profit, and the next level rests on the exchange
while levels remain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from trading import funding, late_fees
from trading import journal_events as je
from trading import order_evidence as oe
from trading.decision import Decision
from trading.events import (
    EntriesBlocked,
    Event,
    FeesLooked,
    FundingSettled,
    OrderAccepted,
    OrderCanceled,
    OrderFailed,
    OrderFilled,
    PriceTicked,
    QuarantineLifted,
    ReconcileFailed,
    SignalRaised,
    TimerFired,
)
from trading.grid.account_events import on_blocked, on_lifted, on_reconcile_failed
from trading.grid.context import GridCtx
from trading.grid.events import GridReconciled
from trading.grid.handlers import (
    book_late_fee,
    on_accepted,
    on_canceled,
    on_failed,
    on_filled,
)
from trading.grid.maintain import maintain
from trading.grid.model import GridState
from trading.grid.reconcile import reconcile
from trading.grid.rules import GridRules

GridDecision = Decision[GridState]
GridEvent = Event | GridReconciled
"""The one-way core's events (its `Reconciled` excepted) and the grid's reconciliation."""


class GridCore:
    def __init__(self, rules: GridRules) -> None:
        self.rules = rules

    def decide(self, state: GridState, event: GridEvent, now: float, *,
               maintain_after: bool = True, reconciled: bool = True,
               admit: Callable[[str, Decimal | None], str | None] | None = None) -> GridDecision:
        ctx = GridCtx(rules=self.rules, now=now, reconciled=reconciled)
        if admit is not None:
            ctx.admit = admit
        state = replace(state, finished_orders=())
        match event:
            case PriceTicked(price=price):
                state = replace(state, last_price=price, price_seq=state.price_seq + 1)
            case OrderAccepted():
                state = on_accepted(state, event, ctx)
            case OrderFilled():
                state = on_filled(state, event, ctx)
            case OrderCanceled():
                kept = oe.unseen_yet(state, event.client_order_id, event.unseen, ctx,
                                     self.rules.send_grace_s)
                state = on_canceled(state, event.client_order_id, ctx) if kept is None else kept
            case OrderFailed():
                state = on_failed(state, event, ctx)
            case GridReconciled():
                state = reconcile(state, event, ctx)
            case FeesLooked(orders=orders):
                state = late_fees.settle(state, orders, ctx, book_late_fee)
            case FundingSettled():
                state = funding.book_grid(state, event, ctx)
            case TimerFired():
                pass
            case ReconcileFailed():
                state = on_reconcile_failed(state, event, ctx)
            case EntriesBlocked(blocked=blocked, reason=reason):
                state = on_blocked(state, blocked, reason, ctx)
            case QuarantineLifted(by=by):
                state = on_lifted(state, by, ctx)
            case SignalRaised():
                ctx.record(je.SignalSkipped(
                    side=event.side, signal_id=event.signal_id,
                    reason="the hedge grid trades its own levels, not external signals"))
            case _:
                raise TypeError(f"grid decide: unknown event {event!r}")
        if maintain_after:
            state = maintain(state, ctx)
        return ctx.decision(state)
