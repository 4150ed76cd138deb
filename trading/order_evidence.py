"""Evidence about one of our orders (the sibling of trading/evidence.py, which is about
positions): what a lookup by client order id may and may not be taken to prove.

Reconciliation (trading/reconcile.py, trading/grid/reconcile.py) looks each live order up and
applies the answer through the same handlers as live reports. Four answers are not evidence:

- **A fill without a price** (filled > 0, no average: ccxt gives None for some Bybit and
  Binance answers). Booked at 0 it made up the P&L, the entry and the stop level. A fill is
  booked only at a real price: the venue's average, or a limit order's own price when every
  new part is a maker fill (`fill_average`: a limit order we saw resting with nothing filled
  trades at its own price; a stop-market, a market order or a limit order never seen resting
  has no such price). Otherwise the report is not applied this round.
- **Not found right after an ambiguous send.** An intent still PENDING (sent, never
  acknowledged: a timeout, `OrderOutcomeUnknown`) may well have landed while the venue's
  lookup lags. Within the venue's send grace of its creation (the intent is sent right after
  it is committed) a not-found keeps an order that opens or grows a position (entry, grid
  level) pending; after that, not found is proof it never got there. The grace is a fact of
  the exchange, reaching the core as data (`Rules.send_grace_s`, `GridRules.send_grace_s`,
  from the port's `send_grace_s`, runtime/wiring.py): `SEND_GRACE_S` (60 s) for a venue
  reached over the network (the ccxt gateway: live venues, and the shared paper server
  cluster nodes use), 0 for an exchange inside our process whose create is synchronous and
  whose lookup is consistent at once (PaperExchange in paper and dry-run mode, the
  backtest's SimExchange): there, an intent not found after a kill -9 never will be, and
  the 60 s only held the symbol "already entering" (the paper chaos review: 55 entries held
  60-67 s after kills, a grid leg unable to reopen for ~60 s). Taken for never-sent, a landed
  entry left our books flat beside a position the exchange has (adopted later as unknown, its
  fee unbooked). A reduce-only intent (stop, close) gets no grace: it ends at once (`lost`), a
  stop sent again at once (trading/rules.py `stop_wait`), a close retried as a failed attempt
  (counted, backed off), since waiting would leave the position unprotected or the close
  undone, and a duplicate of it cannot grow the position (if the first did land, it is an
  orphan the next reconciliation cancels). An intent whose outcome the shell could not learn
  is looked at LOOK_AGAIN_S after it was sent (`recheck_due`), not at the next periodic
  reconciliation.
- **One not-found of an acknowledged order.** A single lookup glitch used to end a live order
  (for a stop: a second stop placed beside it; a partly filled order: the rest filled
  untracked). It ends only at `MISSES_TO_END` not-founds in a row, or at once when the
  exchange's trade history shows fills of it (then those fills book it). A stop of the open
  position is not left unprotected meanwhile: at its first miss a replacement is placed at the
  same level, as a trailing move places one (`replaces`): the new stop rests first, then the
  old one is cancelled by client id (a cancel of an order that does not exist is harmless and
  is itself a second and third look; one that does exist removes the duplicate). So a stop
  that really vanished is re-placed in the very reconciliation that missed it, as before, and
  a glitch costs one placed-and-cancelled stop, never two resting ones nor a gap. When the
  price is already through the level the stop ends at once (the close protects; no stop could
  rest there).
- **A status that cannot be read** (None, or anything outside `READABLE_STATUSES`: Binance's
  PENDING_CANCEL left raw or mapped to 'canceling'). The port's own records only carry ccxt's
  five unified statuses (exchange/records.py `VenueOrderStatus`; exchange/ccxt/convert.py
  raises on any other), but the core does not rely on every path going through it.

An answer that is not evidence leaves the order as it is, is journaled (`OrderReportDeferred`)
and opens a doubt; the loop looks again within `LOOK_AGAIN_S` (`recheck_due`, read on every
heartbeat by actors/reconcile_retry.py) rather than at the next periodic reconciliation (30 s,
or 300 s while the streams are up). A doubt that is not a not-found (those resolve themselves:
the grace runs out, or the misses reach the bound) and persists raises one alert, as a
contradiction about a position does (`evidence.ALERT_AFTER_RECONCILES` answers or
`evidence.ALERT_AFTER_S`): an `Escalate` with close=False.

Doubts live in the state (`doubts`) but are not persisted, like the position's `unconfirmed`:
a restart reconciles at once and starts counting from zero, which errs on the safe side (an
order is ended one lookup later, never earlier; an alert comes a few answers later). The grace
of a pending intent is measured from the order's `created_at`, which is persisted. Pure: no
clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from trading.commands import Escalate
from trading.evidence import Unconfirmed
from trading.frozen import replace
from trading.journal import JournalRecord
from trading.orders import Order, OrderPurpose, OrderStatus
from trading.primitives import ZERO, waiting

SEND_GRACE_S = 60.0
"""How long after an intent was committed (and sent) a not-found keeps it pending on a venue
reached over the network: the lookup of a just-placed order may lag the placement (a timed-out
send that did land). The ccxt gateway's `send_grace_s` and the default of the rules' own
`send_grace_s` (a core built without the port's fact errs on the safe side)."""
MISSES_TO_END = 2
"""Not-found answers in a row that end an acknowledged order (one may be a lookup glitch)."""
LOOK_AGAIN_S = 5.0
"""How soon the loop reconciles again while an order is in doubt (after the first answer)."""
MAX_LOOK_AGAIN_S = 120.0
"""The wait doubles after each answer that did not settle the doubt, up to this: a doubt that
never settles (a venue that keeps answering a fill without a price) is looked at again every
two minutes, not every 5 s for ever (720 reconciliations an hour against the rate budget)."""
READABLE_STATUSES = frozenset({"open", "closed", "canceled", "rejected", "expired"})
"""ccxt's unified order statuses (exchange/records.py `VenueOrderStatus`)."""
LIMIT_PURPOSES = frozenset({OrderPurpose.LEVEL, OrderPurpose.TAKE_PROFIT})
"""Orders whose `price` is a limit price (a stop's is a trigger: it fills at the market)."""

NOT_FOUND_YET = "not found yet, sent less than the grace ago"
NOT_FOUND = "not found once"
NO_PRICE = "filled without a price"
ENTRY_FIRST = "reduced a position whose entry is not reported yet"
LIST_AHEAD = "the position list shows a fill its lookup does not"


def unreadable(status: object) -> str:
    return f"status {status!r} unreadable"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderDoubt:
    """Answers in a row about one live order that did not settle it."""

    client_order_id: str
    why: str
    """The last answer's kind (one of the module's reasons)."""
    misses: int
    """Not-found answers in a row (0 after an answer that was found)."""
    episode: Unconfirmed
    """When the doubt began, how many answers, whether it alerted."""
    noted_at: float
    """When the last of them was decided (the next look is due LOOK_AGAIN_S after it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderReportDeferred(JournalRecord):
    """A lookup answer about one of our live orders that is not evidence: the order stays as
    it is and reconciliation looks again (trading/order_evidence.py)."""

    order: str
    why: str
    answers: int
    """Answers in a row that did not settle it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryShownByPosition(JournalRecord):
    """An entry the lookup could not find yet (send grace) while the exchange lists a position
    on its side no larger than it: booked from that position (its fee looked up later)."""

    order: str
    contracts: Decimal
    entry_price: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderReportAlerted(JournalRecord):
    """An order's doubt persisted: an alert went out (no emergency close)."""

    order: str
    reason: str


class _Doubtful(Protocol):
    @property
    def doubts(self) -> tuple[OrderDoubt, ...]: ...
    @property
    def orders(self) -> tuple[Order, ...]: ...


class _Ctx(Protocol):
    now: float

    def record(self, record: Any) -> None: ...
    def emit(self, command: Any) -> None: ...


S = TypeVar("S", bound=_Doubtful)


def doubt_of(state: _Doubtful, cid: str) -> OrderDoubt | None:
    return next((d for d in state.doubts if d.client_order_id == cid), None)


def misses(state: _Doubtful, cid: str) -> int:
    doubt = doubt_of(state, cid)
    return 0 if doubt is None else doubt.misses


def settled(state: S, cid: str) -> S:
    """The order's answer was evidence: its doubt (if any) ends."""
    if doubt_of(state, cid) is None:
        return state
    return replace(state, doubts=tuple(d for d in state.doubts if d.client_order_id != cid))


def pruned(state: S) -> S:
    """Doubts of orders that are no longer live are dropped."""
    live = {o.client_order_id for o in state.orders}
    kept = tuple(d for d in state.doubts if d.client_order_id in live)
    return state if len(kept) == len(state.doubts) else replace(state, doubts=kept)


def in_grace(order: Order, now: float, grace_s: float) -> bool:
    """A pending intent that would open or grow a position, committed less than `grace_s` (the
    venue's send grace, the rules' `send_grace_s`) ago (a clock stepped back by more than the
    grace ends it: the grace never lasts as long as the step). Orders stored before
    `created_at` was recorded read 0: long past. A grace of 0 (an in-process exchange): never."""
    return (sent_only(order) and not order.purpose.reduces
            and abs(now - order.created_at) < grace_s)


def unseen_yet(state: S, client_order_id: str, unseen: bool, ctx: _Ctx,
               grace_s: float) -> S | None:
    """A cancel that found no such order (`OrderCanceled.unseen`) of an order that opens or
    grows a position, when that is not evidence yet: an intent that may still land
    (`in_grace`: within the venue's `grace_s`), or an acknowledged order short of
    `MISSES_TO_END` not-founds in a row (the reconciliation's rule: Bybit answers "too late to
    cancel" for an order that just filled, and its history may not show it yet). The order
    stays as it is, in doubt, and is looked at again (the grid asks its cancel again,
    `_retry_cancels`). None: the cancel ends it. Booked as canceled, such an order's fill went
    unbooked (the sibling of actors/command_queue.py's chaos finding; the acknowledged case
    found by review: the grid only resized its leg)."""
    order = next((o for o in state.orders if o.client_order_id == client_order_id), None)
    if not unseen or order is None or order.purpose.reduces:
        return None
    if in_grace(order, ctx.now, grace_s):
        return defer(state, order, NOT_FOUND_YET, ctx, missed=True)
    before = doubt_of(state, client_order_id)
    if sent_only(order) or (before.misses if before is not None else 0) + 1 >= MISSES_TO_END:
        return None
    return defer(state, order, NOT_FOUND, ctx, missed=True)


def sent_only(order: Order) -> bool:
    """Never acknowledged and nothing of it filled: a not-found may mean it never got there.
    An order with fills reached the exchange, whatever its status says."""
    return order.status is OrderStatus.PENDING and order.filled == ZERO


def done_in_trades(order: Order, fills: Iterable[Any]) -> bool:
    """The exchange's trade history shows fills of the order beyond what we applied that make
    up its whole amount: it is done (nothing more of it can fill), and those fills book it."""
    cid = order.client_order_id
    traded = sum((f.amount for f in fills if f.client_order_id == cid), ZERO)
    return traded > ZERO and order.filled + traded >= order.amount


def fill_average(order: Order, filled: Decimal, average: Decimal | None) -> Decimal | None:
    """The cumulative average price to book a reported fill at, or None when nothing real
    tells it. The venue's average; else, for a limit order we saw resting with nothing filled
    (OPEN in our books), its limit price: a resting order is the maker of every trade it is in
    and trades at its own price. Nothing new filled: the average already booked."""
    if average is not None:
        return average
    if filled <= order.filled:
        return order.average
    rested = order.status is OrderStatus.OPEN and order.filled == ZERO
    if order.purpose in LIMIT_PURPOSES and order.price is not None and rested:
        return order.price
    return None


def defer(state: S, order: Order, why: str, ctx: _Ctx, *, missed: bool = False) -> S:
    """Keep the order as it is: journal why, count the answer, alert once if a doubt that
    does not resolve itself persists."""
    cid = order.client_order_id
    before = doubt_of(state, cid)
    if before is None:
        episode = Unconfirmed(since=ctx.now)
    else:
        episode = before.episode.again(ctx.now)
    count = ((before.misses if before is not None else 0) + 1) if missed else 0
    doubt = OrderDoubt(client_order_id=cid, why=why, misses=count, episode=episode,
                       noted_at=ctx.now)
    ctx.record(OrderReportDeferred(order=cid, why=why, answers=episode.count))
    if why not in (NOT_FOUND, NOT_FOUND_YET) and episode.alert_due(ctx.now):
        reason = (f"{order.purpose.value} order {cid}: {why} ({episode.count} answers in a "
                  f"row); kept as it was, check the venue")
        ctx.record(OrderReportAlerted(order=cid, reason=reason))
        ctx.emit(Escalate(reason=reason, attempts=episode.count, last_error=None, close=False))
        doubt = replace(doubt, episode=replace(episode, alerted=True))
    others = tuple(d for d in state.doubts if d.client_order_id != cid)
    return replace(state, doubts=others + (doubt,))


def recheck_due(state: Any, now: float) -> bool:
    """Whether a live order wants a reconciliation now: its doubt, LOOK_AGAIN_S after the last
    answer; or an intent still unanswered LOOK_AGAIN_S after it was sent (the shell could not
    learn its outcome: normally the answer comes in the same message). A deadline left far
    ahead by a clock that stepped back is due at once."""
    orders: tuple[Order, ...] = getattr(state, "orders", ()) or ()
    if not orders:
        return False  # every heartbeat of every symbol asks: the common answer is cheap
    doubts = {d.client_order_id: d for d in getattr(state, "doubts", ()) or ()}
    for order in orders:
        doubt = doubts.get(order.client_order_id)
        since = doubt.noted_at if doubt is not None else (
            order.created_at if sent_only(order) else None)
        wait = LOOK_AGAIN_S if doubt is None else look_again_s(doubt.episode.count)
        if since is not None and not waiting(now, since + wait, wait):
            return True
    return False


def look_again_s(answers: int) -> float:
    """The wait before the next look after `answers` unsettled answers in a row: 5, 10, 20,
    40, 80, then 120 s."""
    return min(LOOK_AGAIN_S * 2 ** max(min(answers, 16) - 1, 0), MAX_LOOK_AGAIN_S)
