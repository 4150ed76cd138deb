"""Fees the venue tells after the fill (the sibling of trading/order_evidence.py).

Binance USDⓈ-M order answers carry no fee: the shell reads it from the order's trades
(exchange/ccxt/lookup.py `with_trade_fees`), and the venue's trade list lags its order state
and its user-data stream (a fill is streamed within milliseconds, its trades may be listed a
second or more later). A fill read in between is reported with its fee unknown
(`OrderFilled.fee_known=False`). Its quantity and price are evidence and are booked at once
(the position must follow the venue); its fee is booked when a later answer tells it:

- an order still live is reported again (a later fill, a reconciliation's lookup): the cores
  book a fee increase even when the quantity did not grow, as a ledger entry of quantity 0
  carrying only the difference (`fee_entry`), and never a change towards zero (a fee unknown
  again, read as 0, is no refund); a maker rebate is a negative fee, booked as it grows
  (`unbooked_fee`);
- an order that ended with its fee unknown leaves the live orders, so nothing would report it
  again: it is kept here (`FeeOwed`) and looked up with the live orders by every
  reconciliation; the loop reconciles for it when it is due (`due`: LOOK_AGAIN_S after it
  ended, the wait doubling after each look). Its fee is booked as soon as an answer tells it.
  After FEE_LOOKS looks (5, 10, 20, 40 and 80 s apart: about 2.5 minutes) it is given up with
  one warning (`FeeUnbooked`, logged as a warning by the loop): the ledger's net is then high
  by that order's fee.

Owed fees live in the state (`fees_owed`) and are stored with it (a one-way symbol's in
`actor_state.fees_owed`, a grid's in its document: storage/grid_codec.py), so a restart within
those minutes (a crash, kill -9, the supervisor restarting the actor from the database) looks
again instead of losing the fee without a word. Every change that matters is committed with
the decision that makes it: an order ending owed ends an order, a fee booked late is a ledger
entry, a fee given up a journal record. The rest is written with the next commit: a look that
found nothing (its count and time: a restart may bring back an older count, so the next look
comes at once, `due`, and the fee is given up after more looks, never fewer) and a fee told no
higher than booked (dropped with nothing to book: a restart looks once more and books nothing
again). The paper exchange and the backtest always tell fees at once: nothing is ever owed
there, so the backtest's decisions are unchanged. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from trading.commands import LedgerEntry
from trading.frozen import replace
from trading.journal import JournalRecord
from trading.order_evidence import LOOK_AGAIN_S
from trading.orders import Order
from trading.primitives import ZERO, waiting

if TYPE_CHECKING:  # trading.events imports the model, which imports this module
    from trading.events import ExchangeOrder

FEE_LOOKS = 5
"""Looks at an ended order whose fee is unknown before it is given up (waits doubling from
LOOK_AGAIN_S: 5 + 10 + 20 + 40 + 80 s)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeOwed:
    """An order that ended with its fee unknown, as it was booked (its fee so far)."""

    order: Order
    looks: int = 0
    noted_at: float
    """When it ended, or was last looked at (the next look is due after `wait`)."""

    @property
    def wait(self) -> float:
        return LOOK_AGAIN_S * 2 ** self.looks


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeBookedLate(JournalRecord):
    """An order's fee told after its fill was booked: booked now, on its own."""

    order: str
    fee: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeUnbooked(JournalRecord):
    """A fill's fee was never told: an ended order's, given up after FEE_LOOKS looks; or a
    fill reconciliation books from the venue's trades (a trade by hand, a liquidation) whose
    row told none in the settle currency, booked without it (trading/unbooked_fills.py
    `no_fee_told`, `looks` 1)."""

    WARN: ClassVar[bool] = True
    """The loop logs this record as a warning."""
    symbol: str
    order: str
    looks: int
    why: str = "the venue did not tell the fee of this fill; it is not booked"


class _Owing(Protocol):
    @property
    def symbol(self) -> str: ...
    @property
    def fees_owed(self) -> tuple[FeeOwed, ...]: ...


class _Ctx(Protocol):
    now: float
    ledger: list[LedgerEntry]

    def record(self, record: Any) -> None: ...


S = TypeVar("S", bound=_Owing)
Book = Callable[[S, Order, Decimal, Any], S]
"""Books a late fee (state, the order as booked, the fee's increase, the decision's ctx): the
ledger entry (`fee_entry`) and the fees of the position or leg it belongs to, if still open."""


def unbooked_fee(booked: Decimal, told: Decimal) -> Decimal:
    """The part of an order's cumulative fee `told` that is not booked yet: what moved it
    further from zero, a charge that grew or a maker rebate (a negative fee) that did. A fee
    nearer zero than booked (an older read, an unknown one read as 0) books nothing."""
    return told - booked if abs(told) > abs(booked) else ZERO


def fee_entry(order: Order, position_id: str, fee: Decimal) -> LedgerEntry:
    """A fee told after the fill it belongs to: quantity 0, no P&L, only the fee."""
    return LedgerEntry(client_order_id=order.client_order_id, position_id=position_id,
                       side=order.side, amount=ZERO, price=order.average or ZERO, fee=fee,
                       realized_pnl=ZERO)


def owe(state: S, order: Order, now: float) -> S:
    """The order ended with its fee unknown: look at it again until the fee is told."""
    others = tuple(o for o in state.fees_owed if o.order.client_order_id != order.client_order_id)
    return replace(state, fees_owed=others + (FeeOwed(order=order, noted_at=now),))


def owed_orders(state: Any) -> tuple[Order, ...]:
    """The ended orders the shell looks up with the live ones."""
    return tuple(o.order for o in getattr(state, "fees_owed", ()) or ())


def due(state: Any, now: float) -> bool:
    """Whether an owed fee wants a look now (a deadline a clock step left far ahead: at once)."""
    return any(not waiting(now, o.noted_at + o.wait, o.wait)
               for o in getattr(state, "fees_owed", ()) or ())


def settle(state: S, answers: Mapping[str, ExchangeOrder], ctx: _Ctx, book: Book[S]) -> S:
    """A reconciliation looked the owed orders up: book each fee it tells, count a look for
    the others, give up those looked at FEE_LOOKS times."""
    if not state.fees_owed:
        return state
    kept: list[FeeOwed] = []
    for owed in state.fees_owed:
        order = owed.order
        found = answers.get(order.client_order_id)
        if found is not None and found.fee_known and found.filled >= order.filled:
            fee = unbooked_fee(order.fee, found.fee)
            if fee:
                ctx.record(FeeBookedLate(order=order.client_order_id, fee=fee))
                state = book(state, order, fee, ctx)
            continue
        if owed.looks + 1 >= FEE_LOOKS:
            ctx.record(FeeUnbooked(symbol=state.symbol, order=order.client_order_id,
                                   looks=owed.looks + 1))
            continue
        kept.append(replace(owed, looks=owed.looks + 1, noted_at=ctx.now))
    return replace(state, fees_owed=tuple(kept))
