"""The account's first reconciliation of every symbol served from one account-wide read.

Why: at a live start every actor's first reconciliation read its own position (twice), open
orders (Binance: and open algo orders) and price, one symbol at a time through the shared rate
budget: ~3-4 requests a symbol, ~41 s (Bybit) and ~75 s (Binance) for 500 symbols before every
actor was reconciled (bench/bench_rate_budget.py). Both venues list the same for the whole
account in a few requests (the reads of the all-symbol sweep, actors/exchange_sweep.py).

How: each actor says when its restored state is loaded (`loaded`); its start reconciliation asks
`port` for what to read through. The first asker after every symbol loaded (or after no symbol
loaded for `quiet_s`) leads one account-wide read: positions, open orders (stops among them),
positions again, tickers (a symbol that loaded after it was sent waits for the next such read,
at most MAX_ROUNDS in a start). Every waiting actor is then served from it: `SnapshotPort` answers
that symbol's position, open-order and price reads from the read, and sends everything else
(each live order's own lookup by client id, its trades) to the venue as before.

When a symbol reads on its own instead (the plain exchange), never from a doubtful answer:
- the read failed, or it was not taken within `wait_s` (a symbol's own read is always right);
  an open-order list the venue pages and the gateway read only in part is a failed read
  (exchange/whole_listing.py: served from it, an order nobody owns on a page left unread
  was never cancelled);
- its part is ambiguous: a position row without an entry price, two rows of one position side,
  an order row naming no id, or its positions listed differently by the two position reads
  (something filled while the orders were read: `consistent` repeats such a read);
- its state was loaded after the read was sent, or this is not its first reconciliation. Why
  the rule is safe: an actor sends nothing before its first reconciliation (entries wait for it,
  its stops come from it), so what its books hold when it loaded is what the read was taken
  against. A later load (a restarted incarnation) may hold what its predecessor did after the
  read (a position it opened would be listed flat): that load reads on its own. So does every
  later reconciliation: the snapshot is used once per symbol, then dropped.
What changes between the read and the actor's use of it is what changes between two reads of
any reconciliation (the venues' lists lag their orders too), and is handled the same way: each
live order of ours is still looked up by its own id at use, so its fill or cancel is evidence
from that moment (a position listed by the older read is never adopted against its own order's
fill, trading/reconcile.py); an order placed after the read is missing from its open orders,
so it is not cancelled (a missing row makes nothing happen); a position closed in the books
needs a fill that closed it (never a list without it); one opened by hand after the read is
found by the next sweep. A position the read lists without its stop gets one from this very
reconciliation, as from a reconciliation of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors.command_executor import describe
from exchange import whole_listing
from exchange.budget import Priority, call_priority
from exchange.fence import Fenced, Preempted, check_preempted, waiting
from exchange.port import ExchangePort
from exchange.records import VenueOrder, VenuePosition, VenueTicker

LOOK_S = 0.25
"""How often a waiting actor looks whether its reconciliation is set aside (an order report)."""
MAX_ROUNDS = 5
"""Account reads at most in one start: symbols loaded after one was sent wait for the next."""


@dataclass
class AccountRead:
    """One account-wide read: each symbol's rows, and the symbols whose part is doubtful."""

    sent_at: float
    """The monotonic time before its first request (states loaded before it may use it)."""
    positions: dict[str, list[VenuePosition]] = field(default_factory=dict)
    orders: dict[str, list[VenueOrder]] = field(default_factory=dict)
    tickers: dict[str, VenueTicker] = field(default_factory=dict)
    apart: dict[str, str] = field(default_factory=dict)
    """Symbol -> why its part is not used (it reads on its own)."""


def take(exchange: ExchangePort, symbols: list[str], sent_at: float) -> AccountRead:
    """The account-wide read; positions before and after the open orders, as `consistent`."""
    ours = set(symbols)
    before = [p for p in exchange.fetch_positions(None) if p.symbol in ours]
    with whole_listing.whole():  # one cut short (Bybit: past 2,000 orders) fails the read
        orders = [o for o in exchange.fetch_open_orders(None) if o.symbol in ours]
    after = [p for p in exchange.fetch_positions(None) if p.symbol in ours]
    read = AccountRead(sent_at=sent_at)
    for p in after:
        read.positions.setdefault(p.symbol, []).append(p)
    moved = {key[0] for key in set(map(_held, before)) ^ set(map(_held, after))}
    for symbol in moved:
        read.apart[symbol] = "its position changed while the account was read"
    for symbol, rows in read.positions.items():
        sides = [p.position_side for p in rows]
        if len(set(sides)) != len(sides):
            read.apart.setdefault(symbol, "two rows of one position")
        elif any(p.entry_price is None for p in rows):
            read.apart.setdefault(symbol, "a position row without an entry price")
    for o in orders:
        read.orders.setdefault(o.symbol, []).append(o)
        if o.id is None and o.client_order_id is None:
            read.apart.setdefault(o.symbol, "an open order naming no id")
    try:  # a price missing here is read on its own (`SnapshotPort.fetch_tickers`)
        read.tickers = exchange.fetch_tickers(symbols if len(symbols) > 1 else None)
    except Fenced:
        raise
    except Exception:  # noqa: BLE001 - the prices are read per symbol then
        read.tickers = {}
    return read


def _held(p: VenuePosition) -> tuple[Any, ...]:
    """What a position read says of a position (its mark price moves between two reads)."""
    return (p.symbol, p.position_side, p.side, p.contracts, p.entry_price)


class SnapshotPort:
    """The exchange as one symbol's first reconciliation sees it: its position, open orders and
    price from the account-wide read, everything else from the venue."""

    def __init__(self, inner: ExchangePort, read: AccountRead, symbol: str) -> None:
        self._inner, self._read, self._symbol = inner, read, symbol

    def fetch_positions(self, symbols: list[str] | None = None,
                        params: dict[str, Any] | None = None) -> list[VenuePosition]:
        if symbols == [self._symbol] and not params:
            return list(self._read.positions.get(self._symbol, ()))
        return self._inner.fetch_positions(symbols, params)

    def fetch_open_orders(self, symbol: str | None = None, since: int | None = None,
                          limit: int | None = None,
                          params: dict[str, Any] | None = None) -> list[VenueOrder]:
        if symbol == self._symbol and since is None and limit is None and not params:
            return list(self._read.orders.get(self._symbol, ()))
        return self._inner.fetch_open_orders(symbol, since, limit, params)

    def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, VenueTicker]:
        ticker = self._read.tickers.get(self._symbol)
        if symbols == [self._symbol] and ticker is not None and ticker.last is not None:
            return {self._symbol: ticker}
        return self._inner.fetch_tickers(symbols)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class FirstRead:
    """One account-wide read for the account's first reconciliation of every symbol."""

    def __init__(self, *, exchange: ExchangePort, symbols: list[str], logger: Any,
                 quiet_s: float = 0.5, wait_s: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """`quiet_s`: how long no symbol loaded before the read is led with some not loaded
        (a quarantined symbol starts no actor); `wait_s`: the longest an actor waits for it."""
        self.exchange, self.symbols, self.log = exchange, list(symbols), logger
        self.quiet_s, self.wait_s, self._now = quiet_s, wait_s, monotonic
        self._cond = threading.Condition()
        self._loaded: dict[str, float] = {}
        self._last_load = 0.0
        self._reading = self._failed = False  # a read in flight; one failed (no more rounds)
        self._read: AccountRead | None = None  # the last one
        self.rounds = 0
        self._used: set[str] = set()
        self.served = 0
        """First reconciliations served from the read (the others read on their own)."""

    def loaded(self, symbol: str) -> None:
        """The symbol's restored state is loaded now (each incarnation's load)."""
        with self._cond:
            self._loaded[symbol] = self._last_load = self._now()
            self._cond.notify_all()

    def port(self, symbol: str, exchange: ExchangePort) -> ExchangePort:
        """What the symbol's first reconciliation reads through: the account-wide read's part
        for it, or `exchange` itself (see the module for when)."""
        with self._cond:
            if symbol in self._used or symbol not in self._loaded:
                return exchange
            self._used.add(symbol)
            lead = self._wait(symbol, self._now() + self.wait_s)
        if lead:
            self._lead()
        with self._cond:
            read = self._read
            if read is None or self._loaded[symbol] > read.sent_at or symbol in read.apart:
                if read is not None and symbol in read.apart:
                    self.log.bind(symbol=symbol).warning(
                        "account-wide read not used: {}; reading the symbol on its own",
                        read.apart[symbol])
                return exchange
            self.served += 1
        return SnapshotPort(exchange, read, symbol)

    def _wait(self, symbol: str, deadline: float) -> bool:
        """Under the lock: wait for a read sent after the symbol's state loaded; True when this
        caller leads it. A symbol that loaded after the last read was sent (a slow start, its
        load later than `quiet_s` after the one before) waits for the next, up to MAX_ROUNDS
        (found by measuring: on a loaded machine 437 of 500 symbols loaded after the first
        read and read on their own, 1,748 requests)."""
        while True:
            read = self._read
            if read is not None and self._loaded[symbol] <= read.sent_at:
                return False  # served by it (or its part is doubtful)
            if self._failed or self.rounds >= MAX_ROUNDS:
                return False
            now = self._now()
            if not self._reading and (len(self._loaded) >= len(self.symbols)
                                      or now - self._last_load >= self.quiet_s):
                self._reading = True
                self.rounds += 1
                return True
            if now >= deadline:
                return False
            check_preempted()  # an order report waits: this reconciliation is set aside
            waiting(deadline - now + LOOK_S)
            self._cond.wait(LOOK_S)

    def _lead(self) -> None:
        """The read, on the first asker's thread (its fence and liveness mark): whatever ends
        it, the others stop waiting. A failure leaves each to its own read, unless it was the
        leader's own (its call set aside for its order report, or its incarnation replaced):
        then the next asker leads another round (found by review: one actor's order report
        during the start left all 500 to their own reads)."""
        read: AccountRead | None = None
        own = False
        try:
            with call_priority(Priority.RECONCILE):
                read = take(self.exchange, self.symbols, self._now())
        except (Preempted, Fenced) as exc:
            own = True
            self.log.info("account-wide read for the first reconciliations not taken: {}; "
                          "another symbol takes it", describe(exc))
        except Exception as exc:  # noqa: BLE001 - every symbol reads on its own
            self.log.warning("account-wide read for the first reconciliations failed: {}; "
                             "each symbol reads on its own", describe(exc))
        finally:
            with self._cond:
                self._reading, self._failed = False, read is None and not own
                self._read = read or self._read
                self._cond.notify_all()
        if read is not None:
            self.log.info("account read for the first reconciliations: {} positions, {} open "
                          "orders of {} symbols; {} read on their own", sum(map(
                              len, read.positions.values())), sum(map(len, read.orders.values())),
                          len(self.symbols), len(read.apart))
