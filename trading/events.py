"""Events: what happened, as input to `decide`. Past tense, frozen, no I/O objects inside."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from trading.model import Side


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceTicked:
    price: Decimal
    """Last traded price from the exchange's ticker."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalRaised:
    """A strategy or an external source wants a position (side) or wants out (side=None)."""

    side: Side | None
    reason: str = "strategy"
    signal_id: str | None = None
    size_usdt: Decimal | None = None
    """Overrides risk.order_size_usdt for this entry."""
    priced_at: float | None = None
    """When the shell last read the symbol's price (a tick, a reconciliation's read): an entry
    is not sized on one older than risk.max_price_age_s. None: the signal came with its price
    (the strategy's, decided on a tick)."""
    expires_at: float | None = None
    """An external signal's end (epoch seconds, as `now`: its own `expires_at`, or its arrival +
    signals.max_age_s): its entry set aside by our own rate budget is not sent again after it
    (trading/entry_resend.py). None: no end (the strategy's)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAccepted:
    """The exchange acknowledged an order that now rests (a stop)."""

    client_order_id: str
    exchange_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFilled:
    """Cumulative fill state of one of our orders as the exchange reports it.

    Cumulative values make the event idempotent: applying the same report twice books nothing
    the second time (P&L is booked once, from confirmed fills).
    """

    client_order_id: str
    exchange_id: str | None
    filled: Decimal
    average: Decimal
    fee: Decimal
    complete: bool = True
    realized_pnl: Decimal | None = None
    """Cumulative realized P&L of the order's fills as the exchange reports it (paper and
    Binance report it per trade, Bybit does not: None, and the core computes it)."""
    fee_known: bool = field(default=True, repr=False)
    """False when the venue did not tell the fee (`fee` is then 0, a placeholder): Binance's
    order answers carry none and its trade list may not show the order's trades yet. The core
    books no fee from such a report and looks again until it is known (trading/late_fees.py).
    Left out of the repr, as always True on the paper and backtest paths."""
    filled_at: int | None = field(default=None, repr=False)
    """When the venue says the order last filled (ms; None: not told). A fill booked late (a
    stop that filled while the bot was down) is dated by it for what counts by time: the
    ledger row, the cooldown after a loss, hence the daily loss and the stop-loss guard
    (`decision.fill_time` bounds it by the order's creation and the booking time)."""
    trigger_price: Decimal | None = field(default=None, repr=False)
    """A stop's trigger as the venue says it filled at it (None: not told, or no stop). A move
    in place whose answer was lost (killed with the amend in flight) left the books at the old
    level: a fill is labelled by the venue's (live chaos, Bybit: a trailed stop's profitable
    fill booked as `stop_loss`)."""
    position_gone: bool = field(default=False, repr=False)
    """For a close that ended filled short of its amount: the exchange lists no position after
    it (read by the shell, actors/exchange_facts.py). The venue cut a reduce-only close to a
    position smaller than the books' (a fill hidden from us closed the rest): the close closed
    the position, no failed attempt; reconciliation books the rest. Left out of the repr."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCanceled:
    client_order_id: str
    unseen: bool = field(default=False, repr=False)
    """The venue knew no such order: its cancel and a lookup by client id both answered not
    found. Proof the order ended, except for an intent that may have landed unseen (sent
    moments ago, never acknowledged, within the venue's send grace: `order_evidence.in_grace`;
    never on the in-process paper exchange, whose grace is 0), which stays as it is. Left
    out of the repr (never set on the paper and backtest paths)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFailed:
    """Placing or handling an order failed: exchange rejection or an exception in our code.

    `never_reached` is True only when a lookup by client order id proved the exchange does not
    have it.
    """

    client_order_id: str
    error: str
    never_reached: bool = True
    lost: bool = field(default=False, repr=False)
    """It never reached the venue and nothing says the venue refused it: its send's outcome
    was unknown (a timeout, an answer never read, a crash before the answer) or it was never
    sent, and a lookup by client order id then found no such order. Nothing was wrong with
    the order itself: a lost stop is placed again at once, where a refused one waits its
    backoff (`order_reports._stop_failed`, the grid's `handlers._backed_off`). False for a
    refusal (the venue's error answer, an order it ended at once) and on the paper and
    backtest paths; left out of the repr (the backtest's decisions digest)."""
    set_aside: bool = field(default=False, repr=False)
    """Never sent: our own rate budget set its create aside for an order report waiting in the
    mailbox (`exchange/fence.py` Preempted). Nothing was refused, by the venue or our budget:
    the hedge grid retries such an opening order or level after `retry_s`, without counting a
    refusal (a live grid chaos run: the long leg's order reports set the short leg's entry
    aside again and again, each counted a refusal of the doubling open wait, and the short leg
    almost never opened: 23 long legs to 0 short). Left out of the repr, as `lost`."""
    unseen: bool = field(default=False, repr=False)
    """Ended by reconciliation: an intent never acknowledged that a lookup by client id did
    not find once its send grace was over (a kill between its commit and its send). Nothing
    refused it, so an opening order so ended counts no refusal: the one-way core's next entry
    and the grid's leg wait no `entry_retry_s` / `open_retry_s` (10 s, doubling) for it
    (chaos reviews: a flat grid leg reopened 10.4-15.1 s after its lost opening order was
    ended). A refusal of our own rate budget or of blocked entries is not `unseen`.
    Left out of the repr, as `lost`."""
    position_gone: bool = False
    """For a reduce-only close: the exchange shows no position any more (another order, e.g.
    the exchange stop, closed it first). Not a failed attempt; reconciliation books the fill."""
    market_price: Decimal | None = None
    """For a refused stop: the exchange's last price right after the refusal (the shell reads
    it). A stop is refused mostly because the price is already through it, and the last price
    the core saw may be far behind: with this one it can close at once (issue 16 items 2, 5)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeOrder:
    client_order_id: str
    exchange_id: str | None
    status: str
    """ccxt status: open, closed, canceled, rejected, expired."""
    filled: Decimal
    average: Decimal | None
    fee: Decimal
    reduce_only: bool = False
    realized_pnl: Decimal | None = None
    """As in OrderFilled: the exchange's cumulative realized P&L for the order, if reported."""
    fee_known: bool = field(default=True, repr=False)
    """As in OrderFilled: False when the venue did not tell the fee (`fee` is 0 then)."""
    last_fill_at: int | None = None
    """When the exchange says it last filled (ms), so that fills found together are booked
    in the order they happened (trading/evidence.py `in_fill_order`)."""
    trigger_price: Decimal | None = None
    """As in OrderFilled: a stop's trigger as the exchange lists it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangePosition:
    side: Side
    contracts: Decimal
    entry_price: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalFill:
    """A fill on this symbol that no booked or live order of ours explains (manual close,
    liquidation, or one of our orders whose fill was never applied)."""

    side: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    client_order_id: str | None = None
    realized_pnl: Decimal | None = None
    """The exchange's realized P&L for this fill, if it reports it."""
    position_side: Side | None = None
    """Hedge mode: the leg the fill acted on (None: unknown or one-way)."""
    fee_known: bool = True
    """False: the trade row told no fee in the settle currency (`fee` is then 0, not booked)."""
    filled_at: int | None = field(default=None, repr=False)
    """When the venue says it traded (ms; None: not told), as `OrderFilled.filled_at`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconciled:
    """What the exchange says about this symbol, gathered by the shell for reconciliation."""

    position: ExchangePosition | None
    orders: dict[str, ExchangeOrder] = field(default_factory=dict)
    """Our live orders looked up by client order id; a missing key = the exchange has no such
    order."""
    orphans: tuple[ExchangeOrder, ...] = ()
    """Open orders on the exchange for this symbol that none of our live orders owns."""
    external_fills: tuple[ExternalFill, ...] = ()
    price: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FeesLooked:
    """The orders whose fee is owed (trading/late_fees.py), looked up alone for their fees: a
    fee-only look, where a whole reconciliation also read the position, every live order, the
    open orders, trades and a price (~12-15 requests, run for every Binance order whose fee its
    create did not tell: the cancel report of a removed stop waited behind it in the mailbox)."""

    orders: dict[str, ExchangeOrder] = field(default_factory=dict)
    """Each owed order as the exchange has it, by client order id (missing: not found)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EntriesBlocked:
    """Kill switch, shutdown or a protection (its reason): no new entries while blocked."""

    blocked: bool
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class QuarantineLifted:
    """A person ran `bot.py resume SYMBOL`."""

    by: str = "operator"


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired:
    """Time passed (supervisor heartbeat): lets retries happen without price ticks."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconcileFailed:
    """A reconciliation failed for a reason that is not temporary (a bug in our code, a
    permanent refusal): the shell's count of such failures in a row, with the last error. A
    core escalates a symbol whose close is pending once it reaches max_close_attempts, as a
    close failing that often does (incident 2); temporary errors only back off (actors/
    reconcile_retry.py)."""

    error: str
    failures: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StopAmended:
    """The exchange moved our resting stop to `stop_price` (same order, same client id)."""

    client_order_id: str
    stop_price: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class StopAmendFailed:
    """The exchange did not amend the stop (or could not say): it rests where it was."""

    client_order_id: str
    stop_price: Decimal
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingSettled:
    """The venue settled a funding payment on this symbol (trading/funding.py); the shell
    hands each one once (its id is not in the ledger yet)."""

    record_id: str
    """The venue's id of the payment (the ledger entry's client order id: funding-<id>)."""
    fee: Decimal
    """Positive: paid; negative: received."""
    at: float
    """When the venue settled it (s)."""
    position_side: Side | None = None
    """The leg it was paid on where the venue tells it (hedge mode), else None."""


Event = (
    PriceTicked
    | SignalRaised
    | OrderAccepted
    | OrderFilled
    | OrderCanceled
    | OrderFailed
    | Reconciled
    | FeesLooked
    | FundingSettled
    | EntriesBlocked
    | QuarantineLifted
    | TimerFired
    | ReconcileFailed
    | StopAmended
    | StopAmendFailed
)
