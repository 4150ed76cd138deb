"""Messages to a SymbolActor's mailbox, handled by its DecisionLoop (actors/loop.py). Everything
about a symbol goes through its mailbox, in order, including reconciliation (incident 8: nothing
is dropped while a sync runs)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from trading.model import Side


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    price: Decimal
    """Last price from the feed."""
    volume: Decimal | None = None
    """24h quote volume (USDT), for the strategy's volume filter (strategy.min_volume)."""
    sent_at: float = 0.0
    """When the feed sent it (for latency measurement)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TickReady:
    """Wake-up from the market feed: the symbol's price slot holds a new latest price
    (actors/price_slots.py). At most one is pending per symbol."""


TICK_READY = TickReady()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalSignal:
    """A signal from outside the strategy (manual command, signal receiver)."""

    side: Side | None
    signal_id: str | None = None
    size_usdt: Decimal | None = None
    reason: str = "external"
    expires_at: float | None = None
    """Epoch seconds; handled at or after it (behind a busy mailbox), it is skipped."""
    max_age_s: float | None = None
    """Set when `expires_at` is its arrival + signals.max_age_s (sooner than its own)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderActivity:
    """The exchange reported fills for these orders; the actor looks them up."""

    client_order_ids: tuple[str, ...] = ()
    unknown: bool = False
    """A fill nobody's client id explains: reconcile."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconcile:
    """Compare storage with the exchange and fix what differs."""

    reason: str = "periodic"
    handled: threading.Event | None = field(default=None, compare=False, repr=False)
    """Set by the actor once it has handled this message (actors/symbol_actor.py): a sender
    that queued it (actors/stream_positions.py) queues no other behind it meanwhile."""
    needed: Callable[[], bool] | None = field(default=None, compare=False, repr=False)
    """Asked by the actor when the message's turn comes (None: always needed): false when what
    prompted it is settled by then. The position stream's difference was, most of the time,
    one the actor booked while the Reconcile waited behind the message it was working on (73-83 %
    of a hedge grid's in a live soak, ~12-15 requests each, crowding out its orders)."""
    urgent: bool = False
    """It reports a lost stop (the stop watch's for a stop the venue has no record of): a
    reconciliation or a read that may be set aside gives way to it as to an order report
    (actors/symbol_actor.py `_urgent`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Timer:
    """Periodic wake-up from the supervisor, with one meaning for every style: take a price left
    in the slot, retry a failed reconciliation, then the core's time-driven duties (due close
    retries, missing stops, the grid's order maintenance)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    """Heartbeat (sent with ask and a timeout); the reply is the actor's current view."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockEntries:
    blocked: bool
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Resume:
    by: str = "operator"
    done: Callable[[], None] | None = None
    """Called once the lifted quarantine is committed (supervision/resume_ticket.py)."""
    refused: Callable[[str], None] | None = None
    """Called with the reason when it lifts nothing: the symbol escalated after it was asked."""
    asked_ns: int | None = None
    """When the person asked (`time.monotonic_ns`); None: lifts whatever quarantine it finds."""
