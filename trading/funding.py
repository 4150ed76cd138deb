"""Funding payments on perpetual positions, booked into the ledger (the sibling of
trading/late_fees.py).

A perpetual charges or pays funding every funding interval (mostly 8 h) on each open position.
The shell reads the account's payments a few minutes apart (actors/funding_feed.py) and hands
each one to its symbol's core as `FundingSettled`; the core books it as a ledger entry of
quantity 0 carrying only a fee, as a fee told late is: paid funding is a positive fee, received
funding a negative one (as a maker rebate is). Its client order id is `funding-<venue id>`
(`ledger_id`), unique per payment: the shell books a payment whose id is in the ledger already
(a poll overlapping the last, a restart reading the same hours again) no second time, and the
ledger entry and its journal record (`FundingBooked`) are committed in one transaction, so a
kill between the read and the commit leaves nothing, and the next read books it once.

Against what: the position (one-way) or leg (hedge grid) that was open when the venue settled
it, whose fees it joins (a position's net, its close's win or loss, the cooldown after a loss
see it); a one-way position closed since (the last close, `SymbolState.closed`) has its net
lowered as a late fee does; a payment no open position explains (a position closed before the
payment was read by a grid, a position the bot does not hold, a Binance hedge account with both
legs open: its income rows do not say which leg) is booked against no position (position id
"") and journaled with why, never dropped: the ledger's total still follows the wallet.

A funding entry is no fill: its amount is 0, it belongs to no order, and readers that compare
the ledger's fills with the exchange's per order skip it (`is_funding`). Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from trading.commands import LedgerEntry
from trading.frozen import replace
from trading.journal import JournalRecord
from trading.primitives import ZERO, Side

if TYPE_CHECKING:  # trading.events imports the model
    from trading.decision import Ctx
    from trading.events import FundingSettled
    from trading.grid.context import GridCtx
    from trading.grid.model import GridState
    from trading.model import SymbolState

PREFIX = "funding-"
NO_POSITION = ""
"""The position id of a payment booked against no position of ours."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingBooked(JournalRecord):
    """A funding payment booked: `fee` positive paid, negative received; `position_id` the
    position or leg it joined ("" none, `why` says why)."""

    record: str
    fee: Decimal
    position_id: str
    why: str | None


def ledger_id(record_id: str) -> str:
    return PREFIX + record_id


def is_funding(client_order_id: str) -> bool:
    """Whether a ledger row is a funding payment (no fill of any order)."""
    return client_order_id.startswith(PREFIX)


def entry(record_id: str, position_id: str, side: Side | None, fee: Decimal,
          at: float | None = None) -> LedgerEntry:
    """Quantity 0, no P&L, only the fee; `side` the position's entry side ("" none); `at`
    when the venue settled it (None: the booking time)."""
    return LedgerEntry(client_order_id=ledger_id(record_id), position_id=position_id,
                       side=side.entry_order_side if side is not None else "", amount=ZERO,
                       price=ZERO, fee=fee, realized_pnl=ZERO, at=at)


def book_one_way(state: SymbolState, ev: FundingSettled, ctx: Ctx) -> SymbolState:
    """The position open when it was settled, else the last closed one if it closed after,
    else none."""
    at, fee, pos, closed = ev.at, ev.fee, state.position, state.closed
    if pos is not None and pos.opened_at <= at:
        _book(ctx, ev, pos.position_id, pos.side, None)
        return replace(state, position=replace(pos, fees=pos.fees + fee))
    if closed is not None and closed.closed_at >= at:
        _book(ctx, ev, closed.position_id, None, None)
        state = replace(state, closed=replace(closed, net=closed.net - fee))
        if closed.net - fee < ZERO <= closed.net:  # the close turned a loss: as a late fee
            until = closed.closed_at + ctx.rules.risk.cooldown_after_loss_s
            state = replace(state, cooldown_until=max(state.cooldown_until, until))
        return state
    _book(ctx, ev, NO_POSITION, None, "no position of ours was open when it was settled")
    return state


def book_grid(state: GridState, ev: FundingSettled, ctx: GridCtx) -> GridState:
    """The leg it was paid on: the side the venue names, else the only open leg; else none."""
    legs = [state.leg(side) for side in (Side.LONG, Side.SHORT)]
    held = [leg for leg in legs if leg.is_open and leg.opened_at <= ev.at]
    if ev.position_side is not None:
        held = [leg for leg in held if leg.side is ev.position_side]
    if len(held) != 1 or held[0].position_id is None:
        why = ("both legs were open and the venue does not say which one paid it"
               if len(held) > 1 else "no leg of ours was open when it was settled")
        _book(ctx, ev, NO_POSITION, None, why)
        return state
    leg = held[0]
    _book(ctx, ev, leg.position_id or NO_POSITION, leg.side, None)
    return state.with_leg(replace(leg, fees=leg.fees + ev.fee))


def _book(ctx: Ctx | GridCtx, ev: FundingSettled, position_id: str, side: Side | None,
          why: str | None) -> None:
    # dated by its settlement (a payment found at a restart counts in the day it was paid),
    # never past the booking time (a venue clock ahead of ours)
    at = min(ev.at, ctx.now) if math.isfinite(ev.at) and ev.at > 0 else None
    ctx.ledger.append(entry(ev.record_id, position_id, side, ev.fee, at))
    ctx.record(FundingBooked(record=ev.record_id, fee=ev.fee, position_id=position_id, why=why))
