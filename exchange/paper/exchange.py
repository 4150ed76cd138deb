"""PaperExchange: a simulated linear-perpetuals exchange behind the ExchangePort.

Concurrency: each symbol has its own lock (`Book.lock`) for order/position work; the account
has a short lock for balance; SQLite writes go through the store's small lock. Lock order is
always book -> account -> store, and the latency sleep happens outside every lock.

Prices advance lazily: every call touching a symbol first walks the price source's points
from the symbol's last processed time up to `clock()`, processing resting orders at each
point, so stops also fire for time when no bot was calling (the exchange "kept running").

Position mode: one-way (default; one net position per symbol) or hedge (`hedge_mode=True`; a
long and a short position per symbol, every order names its side with positionIdx /
positionSide). The mode is persisted in the store; see `exchange/port.py` for the contract.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from exchange import errors
from exchange.decimals import to_decimal
from exchange.paper.account import Account
from exchange.paper.engine import Book, Draft, Fees, Matcher
from exchange.paper.faults import Fault, FaultInjector
from exchange.paper.markets import (
    amount_step,
    amount_to_step,
    build_market,
    price_tick,
    price_to_tick,
    round_to_tick,
    venue_market,
)
from exchange.paper.models import (
    HEDGE_SIDES,
    ONE_WAY_SIDES,
    SETTLE,
    Submission,
)
from exchange.paper.notices import kept_balance_notice
from exchange.paper.order_entry import OrderEntryMixin
from exchange.paper.prices import PriceSource
from exchange.paper.queries import QueryMixin
from exchange.paper.store import Snapshot, Store, Tx
from exchange.records import VenueMarket

CATCH_UP_CHUNK_MS = 600_000
"""Price points asked of the source at a time while orders rest (10 minutes of them)."""


class PaperExchange(OrderEntryMixin, QueryMixin):
    """Implements `exchange.port.ExchangePort` on simulated prices, persisted in SQLite."""

    id = "paper"
    send_grace_s = 0.0
    """In our process: a create is synchronous, a lookup consistent at once (exchange/port.py)."""

    def __init__(
        self,
        *,
        store_path: str | Path,
        symbols: list[str],
        price_source: PriceSource,
        starting_balance: Decimal = Decimal("10000"),
        taker_fee: Decimal = Decimal("0.00055"),
        maker_fee: Decimal = Decimal("0.0002"),
        slippage_bps: Decimal = Decimal("1"),
        leverage: int = 5,
        latency_s: float = 0.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        hedge_mode: bool = False,
        starting_balance_key: str = "paper.starting_balance_usdt",
    ) -> None:
        """`starting_balance_key`: what set `starting_balance` (a config key or a command-line
        option), named in the start line when an existing store keeps its own balance."""
        self._clock = clock
        self.hedge_mode = bool(hedge_mode)
        self._sides = HEDGE_SIDES if self.hedge_mode else ONE_WAY_SIDES
        self._sleep = sleep
        self._latency_s = latency_s
        self._source = price_source
        self.leverage = int(leverage)
        self.leverages: dict[str, int] = {}  # set_leverage's, by symbol (the margin: leverage)
        self.faults = FaultInjector()
        self._closed = False
        self._store = Store(store_path, SETTLE)
        fees = Fees(Decimal(taker_fee), Decimal(maker_fee), Decimal(slippage_bps), self.leverage)
        try:
            started = self._store.initialise(self._now_ms(), Decimal(starting_balance),
                                             hedge_mode=self.hedge_mode)
            snapshot = self._store.load()
            self._restore(snapshot, symbols, fees, store_path)
        except BaseException:
            self._store.close()
            raise
        if started is not None and started != Decimal(starting_balance):
            kept_balance_notice(store_path, starting_balance_key, Decimal(starting_balance),
                                started, snapshot.wallet)
        self.created_ms = snapshot.created_ms
        self._ids_lock = threading.Lock()
        self._order_seq = itertools.count(snapshot.max_order_seq + 1)
        self._trade_seq = itertools.count(snapshot.max_trade_seq + 1)
        self._client_ids = snapshot.client_ids
        self._matcher = Matcher(fees, self._next_trade_seq, self._account.free)
        try:
            self._catch_up_holdings()
        except BaseException:
            self._store.close()
            raise

    def _catch_up_holdings(self) -> None:
        """Bring every symbol holding a position or an order up to now at start: the account's
        free balance sums each symbol's unrealized P&L at its last processed price, and after
        downtime those are the prices from before it (an order on one symbol would be afforded
        against another's loss it no longer counts)."""
        now = self._now_ms()
        for book in self._active_books():
            with book.lock:
                self._catch_up(book, now)
        self._store.flush()

    def _restore(
        self, snapshot: Snapshot, symbols: list[str], fees: Fees, store_path: str | Path
    ) -> None:
        """Books for the configured symbols and any the store holds state for (an open
        position or order), with the store's positions, open orders and wallet installed."""
        self.markets: dict[str, dict[str, Any]] = {}
        self._books: dict[str, Book] = {}
        stateful = ({p.symbol for p in snapshot.positions if p.qty != 0}
                    | {o.symbol for o in snapshot.open_orders})
        listed: list[tuple[str, Decimal]] = []
        for symbol in dict.fromkeys([*symbols, *sorted(stateful)]):
            kept = snapshot.market_prices.get(symbol) if symbol in stateful else None
            listed += self._add_book(symbol, fees, snapshot.checkpoints.get(symbol), kept)
        if listed:
            self._store.write(Tx(markets=listed))
        self.symbols = list(self.markets)
        for position in snapshot.positions:
            book = self._books.get(position.symbol)
            if book is None:  # a flat position of a symbol no longer configured
                continue
            if position.side in book.positions:
                book.positions[position.side] = position
            elif position.qty != 0:  # the store's mode check makes this unreachable
                raise RuntimeError(f"{store_path}: {position.symbol} has a {position.side!r} "
                                   f"position, which a {self._mode_name} exchange cannot hold")
        for order in snapshot.open_orders:
            self._books[order.symbol].open_orders[order.id] = order
        self._account = Account(snapshot.wallet)
        with self._account.lock:
            for book in self._books.values():
                self._account.set_symbol(book.symbol, book.used_margin(self.leverage),
                                         book.unrealized())

    def _add_book(self, symbol: str, fees: Fees, checkpoint: tuple[int, Decimal] | None,
                  listed_at: Decimal | None) -> list[tuple[str, Decimal]]:
        """`listed_at`: the price the symbol's steps were derived from when its position or
        open orders were made (None: it has none, and the steps follow the price the books
        open at, so a CSV file swapped for another era's gets its own). A dry run opens its
        books at the live price, and steps derived again from a price across a power of ten
        left the position the store kept off the new step (a close refused: "not a multiple
        of 1"). Returns the listing to record when it is new."""
        initial = Decimal(self._source.initial_price(symbol))
        market_price = initial if listed_at is None else listed_at
        self.markets[symbol] = build_market(symbol, market_price, fees.maker, fees.taker)
        last_ms, price = checkpoint if checkpoint else (0, initial)
        if checkpoint is not None:
            resume = getattr(self._source, "resume_from", None)
            if resume is not None:
                resume(symbol, last_ms, price)
        self._books[symbol] = Book(symbol, self.markets[symbol], price, last_ms, self._sides)
        return [(symbol, initial)] if listed_at is None else []

    # ---- plumbing ----------------------------------------------------------------------

    @property
    def _mode_name(self) -> str:
        return "hedge-mode" if self.hedge_mode else "one-way"

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _next_trade_seq(self) -> int:
        with self._ids_lock:
            return next(self._trade_seq)

    def _next_order_seq(self) -> int:
        with self._ids_lock:
            return next(self._order_seq)

    def _book(self, symbol: str) -> Book:
        book = self._books.get(symbol)
        if book is None:
            raise errors.BadSymbol(f"paper: unknown symbol {symbol!r}")
        return book

    def _enter(self, method: str, call: dict[str, Any]) -> Fault | None:
        """Network round trip (outside any lock), then scripted faults. Raises a pre-accept
        fault; returns an after-accept fault for the caller to raise after the work."""
        if self._closed:
            raise errors.ExchangeUnavailable("paper: exchange is closed")
        if self._latency_s > 0:
            self._sleep(self._latency_s)
        fault = self.faults.take(method, call)
        if fault is not None and not fault.after_accept:
            raise fault.error
        return fault

    def _call(self, method: str, call: dict[str, Any], work: Callable[[], Any]) -> Any:
        fault = self._enter(method, call)
        try:
            result = work()
        finally:
            self._store.flush()  # nothing is reported before it is durable
        if fault is not None:
            raise fault.error
        return result

    # ---- time --------------------------------------------------------------------------

    def _catch_up(self, book: Book, now_ms: int) -> None:
        """Walk the book's price points up to now, processing resting orders (holds book.lock).

        Points are read a chunk of time at a time while an order rests; after that (or with
        none resting) only the last point is read: nothing else can act on the rest."""
        if now_ms <= book.last_ms:
            return
        start, price = book.last_ms, None
        while book.open_orders and start < now_ms:
            end = min(now_ms, start + CATCH_UP_CHUNK_MS)
            points = self._source.path(book.symbol, start, end)
            self._process_points(book, points)
            if points:
                price = points[-1][1]
            start = end
        final = self._last_point(book.symbol, start, now_ms) if start < now_ms else None
        if final is not None:
            price = final[1]
        if price is not None:
            book.price = price
        book.last_ms = now_ms
        book.checkpoint_dirty = True
        with self._account.lock:
            self._account.set_symbol(book.symbol, book.used_margin(self.leverage),
                                     book.unrealized())

    def _process_points(self, book: Book, points: list[tuple[int, Decimal]]) -> None:
        """Match each point, then commit it only if the account did not change since the
        matching read its free balance (a trigger afforded against margin another symbol's
        thread took meanwhile); otherwise match it again under the account lock and commit
        that: the check and the reservation are one step."""
        before = book.mark  # the last point's mark: a point that changed nothing is not committed
        for ts, raw in points:
            if not book.open_orders:
                return
            mark = round_to_tick(raw, book.tick)
            seen = self._account.version
            draft = Draft(book, ts, mark)
            self._matcher.on_point(draft, before)
            if not draft.changed or self._commit(draft, raw_price=raw, last_ms=ts, seen=seen):
                before = mark
                continue
            with self._account.lock:
                draft = Draft(book, ts, mark)
                self._matcher.on_point(draft, before)
                before = mark
                if draft.changed:
                    self._commit(draft, raw_price=raw, last_ms=ts)

    def _last_point(self, symbol: str, from_ms: int, to_ms: int) -> tuple[int, Decimal] | None:
        """The price source's last point in (from_ms, to_ms]: its `last_point` if it has one,
        else its path read backwards, in windows doubling from a chunk while they are empty."""
        last_point = getattr(self._source, "last_point", None)
        if last_point is not None:
            result: tuple[int, Decimal] | None = last_point(symbol, from_ms, to_ms)
            return result
        end, span = to_ms, CATCH_UP_CHUNK_MS
        while end > from_ms:
            start = max(from_ms, end - span)
            points = self._source.path(symbol, start, end)
            if points:
                return points[-1]
            end, span = start, span * 2
        return None

    def _active_books(self, *, positions: bool = True) -> list[Book]:
        return [
            b for b in self._books.values()
            if b.open_orders or (positions and b.has_position)
        ]

    # ---- committing --------------------------------------------------------------------

    def _commit(
        self,
        d: Draft,
        *,
        raw_price: Decimal,
        last_ms: int,
        required: Decimal | None = None,
        submissions: list[Submission] | None = None,
        seen: int | None = None,
    ) -> bool:
        """Queue a draft's transaction and install it in memory (holds book.lock); False,
        nothing done, when `seen` is given and the account's version is no longer it (the
        draft was matched against a free balance that has changed since).

        Changes are queued in the order they happen (under the account lock) and made durable
        by group commit in `Store.flush`, which every public method runs before returning.
        If storage fails, the store refuses all further work (a restart reloads the file)."""
        book = d.book
        tx = Tx(
            orders=list(d.orders.values()),
            trades=d.trades,
            positions=d.changed_positions(),
            checkpoints=[(book.symbol, last_ms, raw_price)],
            submissions=submissions or [],
        )
        with self._account.lock:
            if seen is not None and self._account.version != seen:
                return False
            free = self._account.free()
            if required is not None and free < required:
                raise errors.InsufficientFunds(
                    f"paper: {book.symbol} needs {required:.4f} USDT of margin and fees, "
                    f"free balance is {free:.4f} USDT"
                )
            if d.wallet_delta:
                tx.wallet = self._account.wallet + d.wallet_delta
            self._store.enqueue(tx)
            if tx.wallet is not None:
                self._account.set_wallet(tx.wallet)
            self._install(d, raw_price, last_ms)
            self._account.set_symbol(book.symbol, book.used_margin(self.leverage),
                                     book.unrealized())
        return True

    @staticmethod
    def _install(d: Draft, raw_price: Decimal, last_ms: int) -> None:
        book = d.book
        book.positions = d.positions
        for order in d.orders.values():
            if order.is_open:
                book.open_orders[order.id] = order
            else:
                book.open_orders.pop(order.id, None)
        book.price = raw_price
        book.last_ms = last_ms
        book.checkpoint_dirty = False

    # ---- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Persist every symbol's price checkpoint, then close the database."""
        if self._closed:
            return
        checkpoints = []
        for book in self._books.values():
            with book.lock:
                if book.checkpoint_dirty:
                    checkpoints.append((book.symbol, book.last_ms, book.price))
                    book.checkpoint_dirty = False
        self._closed = True
        if checkpoints:
            self._store.enqueue(Tx(checkpoints=checkpoints))
        self._store.close()

    def set_leverage(self, leverage: int, symbol: str) -> None:
        """Recorded (`leverages`), as a venue accepts it; the paper margin stays `leverage`,
        the config's, which is what the bot sets. Scripted faults apply, as to every call."""
        self._book(symbol)  # BadSymbol for a symbol it does not trade
        if int(leverage) < 1:
            raise errors.BadRequest(f"paper: leverage {leverage} of {symbol} is below 1")
        self._call("set_leverage", {"symbol": symbol, "leverage": leverage},
                   lambda: self.leverages.__setitem__(symbol, int(leverage)))

    # ---- precision ---------------------------------------------------------------------

    def market(self, symbol: str) -> VenueMarket:
        return venue_market(self._book(symbol).market)

    def amount_to_precision(self, symbol: str, amount: Decimal) -> Decimal:
        """Truncated to the amount step; InvalidOrder when nothing is left, as ccxt (and so
        the live gateway) refuses it, never an amount of 0 to send."""
        step = amount_step(self._book(symbol).market)
        return amount_to_step("paper", symbol, to_decimal(amount), step)

    def price_to_precision(self, symbol: str, price: Decimal) -> Decimal:
        """Rounded to the nearest tick; InvalidOrder when that is 0, as ccxt refuses it."""
        tick = price_tick(self._book(symbol).market)
        return price_to_tick("paper", symbol, to_decimal(price), tick)
