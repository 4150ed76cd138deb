"""The market feed: polls the exchange for all symbols' prices in one call and for new fills,
and delivers them to each symbol's mailbox. One thread; it holds no lock while delivering.

Prices are conflated per symbol when the composition root passes `PriceSlots`: the latest price
goes into the symbol's slot and the actor gets one `TickReady` wake when none is pending
(actors/price_slots.py). Fills are delivered as messages, in order, as before."""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from actors.messages import TICK_READY, OrderActivity, Tick
from actors.price_slots import QUIET_WAKE, URGENT_WAKE, PriceSlot, PriceSlots
from actors.trade_ids import FillBatch, TradeIds
from actors.wake_pacer import WakePacer, shared_pacer
from exchange.budget import Priority, call_priority
from exchange.port import ExchangePort
from exchange.price_marks import PriceMarks
from exchange.records import VenueFill
from observability.poll_outage import REMINDER_S, PollOutage

Deliver = Callable[[str, Any], bool]

SINCE_LAG_MS = 60_000
"""After a poll answered, the next one starts this long before the newest trade it read, or
before the moment it was asked when it read nothing new (a trade may show in the venue's
history a little after it happened, after newer ones, and clocks differ). Trades read again in
that overlap are skipped by id (`TradeIds` keeps 20,000, far more than a minute of fills)."""

POLL_FAILING_REMINDER_S = REMINDER_S
"""While every poll fails (an exchange outage), a reminder line this often; the first failure,
a failure of another kind and the first poll that answers again are said at once."""

UNPRICED_LINE_EVERY_S = 3600.0
"""A symbol's "no REST price" line at most once in this long (a row that comes and goes every
poll would otherwise log two lines a second)."""


class MarketFeed:
    def __init__(self, *, exchange: ExchangePort, symbols: list[str], deliver: Deliver,
                 interval_s: float, own_prefix: str, logger: Any,
                 clock: Callable[[], float] = time.time,
                 fetch_fills: Callable[[int], list[VenueFill]] | None = None,
                 prices: PriceSlots | None = None, quiet_wake_s: float | None = 0.25,
                 trade_ids: TradeIds | None = None,
                 gap_fills: Callable[[int], list[VenueFill]] | None = None,
                 pace_quiet: bool | WakePacer = True) -> None:
        self.exchange = exchange
        self.fetch_fills = fetch_fills or (
            lambda since_ms: exchange.fetch_my_trades(None, since_ms))
        self.gap_fills = gap_fills
        """The streams' gap fill's read (None: `fetch_fills`): also the fills no order of ours
        made, which no stream message carried while the sockets were gone."""
        self.symbols = list(symbols)
        self.deliver = deliver
        self.interval_s = interval_s
        self.own_prefix = own_prefix
        self.log = logger
        self.clock = clock
        self.prices = prices
        self.quiet_wake_s = quiet_wake_s
        # quiet wakes go out spread over half the quiet-wake interval, not in one burst, from
        # the process's one pacer (actors/wake_pacer.py); urgent ones always at once.
        # `pace_quiet`: True (that pacer), False (none: at once), or a pacer of the caller's
        self.pacer: WakePacer | None = (
            None if not (pace_quiet and quiet_wake_s)
            else pace_quiet if isinstance(pace_quiet, WakePacer)
            else shared_pacer(quiet_wake_s / 2))
        self.since_ms = int(clock() * 1000) - 60_000
        # shared with the stream feed when streams are on (actors/stream_feed.py)
        self.trade_ids = trade_ids or TradeIds()
        self.stream_marks: PriceMarks | None = None
        """Set by the stream feed: a symbol it priced during a REST call keeps that price."""
        self._unpriced: dict[str, tuple[float, bool]] = {}
        """Symbols the last REST ticker read left without a price: since when, and whether
        this spell was said."""
        self._unpriced_said: dict[str, float] = {}
        self._outage = PollOutage(logger, "market feed poll", clock, POLL_FAILING_REMINDER_S)
        """While polls fail: said once per outage (observability/poll_outage.py)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="market-feed", daemon=True)
        self.polls = 0
        self.dropped = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():  # (never started: the account's start failed before it)
            self._thread.join(timeout=10)
        # (the process's pacer serves the other accounts too: it is not stopped here; a wake
        # of ours still queued goes out, or finds the actor stopped and is handed back)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.poll_round()
            self._stop.wait(max(self.interval_s - (time.monotonic() - started), 0.0))

    def poll_round(self) -> None:
        """One poll of the feed's thread. Its failures are said once per outage and kind of
        error, with a reminder every POLL_FAILING_REMINDER_S, and the first poll that answers
        again says so (found by review: an outage logged a warning at every poll, two lines a
        second per account at the default interval; observability/poll_outage.py)."""
        try:
            self.poll_once()
        except Exception as exc:  # noqa: BLE001 - a feed hiccup must not stop the feed
            self._outage.failed(exc)
            return
        self._outage.answered()

    def _deliver_now(self, symbol: str, message: Any) -> bool:
        """A paced wake goes out through `deliver` as it is then (an owner may replace it)."""
        return self.deliver(symbol, message)

    def wait_delivered(self, timeout: float = 10.0) -> bool:
        """Every wake of the prices delivered so far is in its actor's mailbox (the paced
        quiet ones too); False on timeout. For callers that step the market by hand."""
        return self.pacer is None or self.pacer.wait_delivered(timeout)

    def poll_once(self) -> None:
        try:
            self._poll_prices()
        finally:  # fills even when the prices could not be read (a refused or failed call)
            self._poll_fills()
        self.polls += 1

    def _poll_prices(self) -> None:
        now = self.clock()
        marks = self.stream_marks
        mark = marks.seq if marks is not None else 0
        tickers = self.exchange.fetch_tickers(self.symbols)
        ticks = []
        unpriced: dict[str, str] = {}
        for symbol in self.symbols:
            t = tickers.get(symbol)
            if marks is not None and marks.newer(symbol, mark):
                continue  # (the stream's price, come during the call, is newer)
            if t is None or t.last is None:
                unpriced[symbol] = ("not in the exchange's ticker answer" if t is None else
                                    "no last price (none, zero or unreadable)")
                continue
            # strategy.min_volume is 24 h quote volume (USDT), so the tick carries that
            ticks.append((symbol, Tick(price=t.last, volume=t.quote_volume, sent_at=now)))
        self.dropped += self.deliver_ticks(ticks, None if marks is None
                                           else lambda symbol: marks.newer(symbol, mark))
        self._say_unpriced(unpriced, now)

    def _say_unpriced(self, unpriced: dict[str, str], now: float) -> None:
        """One line when a symbol's REST ticker comes without a price, one when it has one
        again (said at most every UNPRICED_LINE_EVERY_S): skipped in silence, its actor went on
        deciding on a frozen price with nothing but its status age telling it."""
        for symbol in [s for s in self._unpriced if s not in unpriced]:
            began, said = self._unpriced.pop(symbol)
            if said:
                self.log.info("market feed: {} has a REST price again after {:.0f} s",
                              symbol, now - began)
        for symbol, why in unpriced.items():
            if symbol in self._unpriced:
                continue
            said = now - self._unpriced_said.get(symbol, -math.inf) >= UNPRICED_LINE_EVERY_S
            self._unpriced[symbol] = (now, said)
            if said:
                self._unpriced_said[symbol] = now
                self.log.warning("market feed: no price for {} from REST: {}; its actor keeps "
                                 "its last price until one comes", symbol, why)

    def deliver_ticks(self, ticks: list[tuple[str, Tick]],
                      superseded: Callable[[str], bool] | None = None) -> int:
        """Many prices at once (one poll, one venue message): every price goes into its slot
        first, then the wakes go out, those of prices that leave their actor's quiet band
        first. A crossing price is so never queued behind hundreds of quiet wakes (each one a
        mailbox put and a thread made runnable); each symbol's slot ends the same as with one
        `deliver_tick` per price. With a pacer the quiet wakes go to it instead (spread over
        time). Returns how many could not be delivered (actor not running; the pacer counts
        its own). `superseded(symbol)` (REST prices): a newer price of `symbol` came from the
        stream since the call; asked at the write (`PriceSlot.offer`), and such a price is
        not delivered."""
        if self.prices is None:
            return sum(1 for symbol, tick in ticks
                       if not (superseded is not None and superseded(symbol))
                       and not self.deliver(symbol, tick))
        now = time.monotonic()
        urgent: list[tuple[str, PriceSlot]] = []
        quiet: list[tuple[str, PriceSlot]] = []
        dropped = 0
        for symbol, tick in ticks:
            slot = self.prices.get(symbol)
            if slot is None:
                if superseded is None or not superseded(symbol):
                    dropped += not self.deliver(symbol, tick)
                continue
            wake = slot.offer(tick, now, self.quiet_wake_s,
                              None if superseded is None else partial(superseded, symbol))
            if wake == URGENT_WAKE:
                urgent.append((symbol, slot))
            elif wake == QUIET_WAKE and self.pacer is not None:
                self.pacer.add(symbol, slot, self._deliver_now)
            elif wake:
                quiet.append((symbol, slot))
        for symbol, slot in itertools.chain(urgent, quiet):
            if not self.deliver(symbol, TICK_READY):
                slot.wake_failed()
                dropped += 1
        return dropped

    def deliver_tick(self, symbol: str, tick: Tick) -> bool:
        """Hand one price to the symbol's actor: into its slot (waking it if no wake is
        pending), or as a `Tick` message without slots. False when the actor is not running."""
        slot = self.prices.get(symbol) if self.prices is not None else None
        if slot is None:
            return self.deliver(symbol, tick)
        wake = slot.offer(tick, time.monotonic(), self.quiet_wake_s)
        if not wake:
            return True  # a pending wake, the next wake or the next Timer picks this price up
        if wake == QUIET_WAKE and self.pacer is not None:
            self.pacer.add(symbol, slot, self._deliver_now)
            return True
        if self.deliver(symbol, TICK_READY):
            return True
        slot.wake_failed()
        return False

    def poll_fills(self) -> None:
        """New fills since `since_ms` from REST, each delivered once (the streams' gap fill).
        At its own priority, above the reconciliations (exchange/budget.py GAP_FILL): it
        settles what happened while the bot was blind, and the streams count as up only after
        it; below them, the reconciliations that fill the budget while the streams are down
        starved it, and the streams stayed "down"."""
        with call_priority(Priority.GAP_FILL):
            self._poll_fills(self.gap_fills)

    def _poll_fills(self, fetch: Callable[[int], list[VenueFill]] | None = None) -> None:
        asked_ms = int(self.clock() * 1000)
        trades = (fetch or self.fetch_fills)(self.since_ms)
        batch = FillBatch()
        newest, fresh = self.since_ms, False
        for t in sorted(trades, key=lambda t: t.timestamp or 0):  # Bybit lists newest first
            newest = max(newest, t.timestamp or 0)
            if self.trade_ids.add(t.symbol, t.id):
                fresh = True
                batch.add(t.symbol, t.client_order_id, self.own_prefix)
        for symbol in batch.symbols():
            self.deliver(symbol, OrderActivity(client_order_ids=batch.ids(symbol),
                                               unknown=symbol in batch.unknown))
        # overlap; duplicates are skipped. SINCE_LAG_MS, not 5 s: a trade listed after a newer
        # one with a time more than 5 s older was never asked for again. An empty answer moves
        # the start on too: a start left days back would be answered with the wrong window
        # (Bybit: the 7 days after it) and miss every new fill; so does one with nothing new (a
        # source that lists known trades again, e.g. the paper exchange, held the start before
        # its last trade for good); a page of new trades does not (the rest may be behind it)
        caught_up = asked_ms - SINCE_LAG_MS if not fresh else 0
        self.since_ms = max(self.since_ms, newest - SINCE_LAG_MS, caught_up)
