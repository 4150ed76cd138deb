"""The funding feed: reads the account's funding payments a few minutes apart and hands each
one to its symbol's actor, in order, to be booked into the ledger (trading/funding.py).

One thread per account, one read for every symbol (exchange/ccxt/funding.py: Bybit's funding
executions, Binance's FUNDING_FEE income), every `interval_s` (FUNDING_INTERVAL_S, 5 minutes: a
payment every 8 h per position needs no faster look), at the POLLING priority of the venue's
rate budget (exchange/ccxt/budget_hook.py), below reconciliations and entries. The paper
exchange and the backtest charge no funding and answer nothing.

Each read starts LAG_MS before the last one asked (a payment may be listed a little after its
time; the overlap reads it again and it is skipped by id) and at most at the oldest payment an
actor could not take (not running: it is offered again by the next read). Where each read
started is kept in the account's database (`MetaCursor`, written after the read), so the first
read after a restart starts where the last read before it did: a payment settled while the bot
was down, or read and not yet committed when it was killed, is booked by that read. The very
first start reads from then on: funding paid before this bot ran (on positions it never held)
is not its to book. Booked once: the feed hands each id again at each read until its ledger entry
is seen (an actor that died with it in its mailbox lost it; the reads' start stays at or before
it meanwhile), and the actor books no id whose ledger entry exists (`book`), so the overlap, a
payment handed again and a restart's look back book nothing twice.
A payment on a symbol no actor of this account trades is logged once (a warning naming it) and
not booked.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from actors.periodic import Periodic
from exchange.errors import NotSupported
from exchange.port import ExchangePort
from exchange.records import PositionSide, VenueFunding
from observability.error_text import message
from trading import funding
from trading.events import FundingSettled
from trading.primitives import Side

FUNDING_INTERVAL_S = 300.0
LAG_MS = 15 * 60_000
SEEN_KEPT = 50_000

Deliver = Callable[[str, Any], bool]
CURSOR_KEY = "funding_since_ms"


class Cursor(Protocol):
    def load(self) -> int | None: ...
    def save(self, since_ms: int) -> None: ...


class MetaCursor:
    """Where the funding reads start, kept in the account's meta table across restarts."""

    def __init__(self, repo: Any) -> None:
        self.repo = repo

    def load(self) -> int | None:
        raw = self.repo.get_meta(CURSOR_KEY)
        try:
            return None if raw is None else int(raw)
        except ValueError:  # unreadable: the feed says so and reads from now on
            raise ValueError(f"the stored start of the funding reads ({CURSOR_KEY} = "
                             f"{str(raw)[:40]!r}) is not a time in ms") from None

    def save(self, since_ms: int) -> None:
        self.repo.set_meta(CURSOR_KEY, str(since_ms))


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingPaid:
    """Mailbox message: funding payments on this symbol, oldest first."""

    payments: tuple[FundingSettled, ...]


def settled(f: VenueFunding) -> FundingSettled:
    side = {PositionSide.LONG: Side.LONG, PositionSide.SHORT: Side.SHORT}.get(
        f.position_side) if f.position_side is not None else None
    return FundingSettled(record_id=f.id, fee=f.fee, at=f.timestamp / 1000, position_side=side)


def book(loop: Any, message: FundingPaid) -> None:
    """The actor's part (actors/loop.py): each payment whose ledger entry is not there yet,
    decided and committed (its ledger entry and journal record in one transaction)."""
    ids = {funding.ledger_id(p.record_id) for p in message.payments}
    booked = loop.repo.booked_among(ids)
    for payment in message.payments:
        if funding.ledger_id(payment.record_id) not in booked:
            loop.apply(payment)


class FundingFeed:
    def __init__(self, *, exchange: ExchangePort, symbols: list[str], deliver: Deliver,
                 logger: Any, interval_s: float = FUNDING_INTERVAL_S,
                 lookback_s: float = 0.0, cursor: Cursor | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 booked: Callable[[set[str]], set[str]] | None = None) -> None:
        self.exchange, self.symbols, self.deliver = exchange, set(symbols), deliver
        self.booked = booked
        """Which of these ledger ids are booked (the repository's `booked_among`); None: a
        payment handed to a running actor counts as booked."""
        self.log, self.clock, self.interval_s = logger, clock, interval_s
        self.cursor = cursor
        try:
            stored = cursor.load() if cursor is not None else None
        except ValueError as exc:  # read from now on, as at the first start: said, since the
            stored = None  # payments settled while the bot was down are not booked
            logger.warning("funding feed: {}; reading from now on: payments settled while "
                           "the bot was down are not booked", exc)
        self.since_ms = stored if stored is not None else int((clock() - lookback_s) * 1000)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._unconfirmed: dict[str, int] = {}
        """Payments handed over whose ledger entry was not seen yet: id -> their time."""
        self.reads = 0
        self.delivered = 0
        self._loop = Periodic(name="funding-feed", work=self.poll_once,
                              pace=lambda: self.interval_s, look_s=min(interval_s, 60.0),
                              logger=logger, what="funding read", monotonic=monotonic)

    def start(self) -> None:
        if self.interval_s > 0:
            self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def poll_once(self) -> int:
        """One read for every symbol; returns how many payments were handed to actors."""
        self._confirm()
        asked_ms, used_ms = int(self.clock() * 1000), self.since_ms
        # at the polling priority: the gateway's own (exchange/ccxt/budget_hook.py FIXED)
        try:
            payments = self.exchange.fetch_funding_history(None, used_ms)
        except NotSupported as exc:  # a venue whose payments the gateway cannot read: said
            self._loop.stop()  # once, not as a failed read every interval for good
            self.log.warning("funding payments are not read on this venue ({}): they are not "
                             "booked in the ledger", message(exc))
            return 0
        self.reads += 1
        per_symbol: dict[str, list[VenueFunding]] = {}
        fresh = [f for f in sorted(payments, key=lambda f: (f.timestamp, f.id))
                 if f.id not in self._seen]
        for f in fresh:
            if f.symbol not in self.symbols:
                self._foreign_payment(f)
                continue
            per_symbol.setdefault(f.symbol, []).append(f)
        held: list[int] = []
        sent = 0
        for symbol, found in per_symbol.items():
            if not self.deliver(symbol, FundingPaid(payments=tuple(map(settled, found)))):
                held.append(found[0].timestamp)  # its actor is not running: offered again
                continue
            for f in found:
                self._handed(f)
            sent += len(found)
        newest = max((f.timestamp for f in fresh), default=asked_ms)
        # a page limit may have cut the read at its newest new payment (only payments read
        # before move nothing: a window left behind them would miss newer ones, Bybit's reads
        # covering 7 days from their start); a payment held back or not seen booked yet is
        # read again
        self.since_ms = max(self.since_ms, min(asked_ms - LAG_MS, newest, *held,
                                               *self._unconfirmed.values()))
        self.delivered += sent
        if self.cursor is not None:  # where this read started: what it handed over may not be
            self.cursor.save(used_ms)  # committed yet, so a restart reads it again
        return sent

    def _handed(self, f: VenueFunding) -> None:
        """In a running actor's mailbox: done once its ledger entry is seen (`_confirm`). An
        actor that dies first loses its mailbox (pykka drops it): remembered as done at once,
        such a payment was never offered again and was missing from the ledger for good."""
        if self.booked is None:
            self._remember(f.id)
        else:
            self._unconfirmed[f.id] = f.timestamp

    def _confirm(self) -> None:
        """The payments handed over whose ledger entry is there now are done; the others are
        handed again by this read (the actor books an id once)."""
        if not self._unconfirmed or self.booked is None:
            return
        booked = self.booked({funding.ledger_id(i) for i in self._unconfirmed})
        for record_id in [i for i in self._unconfirmed if funding.ledger_id(i) in booked]:
            del self._unconfirmed[record_id]
            self._remember(record_id)

    def _foreign_payment(self, f: VenueFunding) -> None:
        """Logged once (remembered as seen): the ledger of this account does not hold it."""
        self._remember(f.id)
        self.log.warning("funding {} on {} ({} paid): no actor of this account trades it; "
                         "not booked", f.id, f.symbol, f.fee)

    def _remember(self, record_id: str) -> None:
        self._seen[record_id] = None
        if len(self._seen) > SEEN_KEPT:
            self._seen.popitem(last=False)
