"""The stream feed: prices, order updates and fills from the venue's streams into each symbol's
mailbox, with REST polling taking over while the streams are down.

The streams (exchange/ccxt/streams.py) call `on_tickers` / `on_orders` / `on_fills` on their
own thread. Prices go into the symbol's price slot exactly as the REST poller's do
(`MarketFeed.deliver_tick`). A fill is delivered as `OrderActivity` (the actor looks the order
up), once: trade ids are shared with the REST poller (`TradeIds`). An order update is delivered
when it ends the order without a fill (canceled, expired, rejected: a stop gone on the
exchange); a duplicate, or an older update arriving late, is dropped. A streamed position whose
size differs from the actor's gets the symbol a `Reconcile` (actors/stream_positions.py), never
a close.

A watch thread checks the streams' health every poll interval. Down (disconnected, or connected
but silent for `stale_s`): REST takes over (`MarketFeed.poll_once`: prices and fills), from a
point safely before the last message the streams delivered, and a silent connection is
dropped so the streams resubscribe. Up again: one REST gap fill (fills since the last REST
poll; ids already delivered are skipped), then the streams carry on alone. So no fill is missed
or delivered twice across a disconnect. While they are up, a symbol the price stream has not
carried for `silent_s` gets its price from REST at the poll pace until the stream carries it
again (exchange/ccxt/silent_symbols.py: a refused or dead topic is invisible to the health).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from actors.market_feed import MarketFeed
from actors.messages import OrderActivity, Tick
from actors.stream_ended import EndedOrders
from actors.stream_positions import PositionCheck
from actors.trade_ids import FillBatch
from exchange.ccxt.silent_symbols import SilentSymbols
from exchange.price_marks import PriceMarks
from exchange.records import VenueFill, VenueOrder, VenueOrderStatus, VenuePosition, VenueTicker
from observability.error_text import describe
from observability.poll_outage import REMINDER_S

_ENDED_WITHOUT_FILL = frozenset(
    {VenueOrderStatus.CANCELED, VenueOrderStatus.EXPIRED, VenueOrderStatus.REJECTED})
"""Order updates that reach the mailbox: a fill reaches it as its trade (once per trade id),
so a filled order's update would only repeat it; a stop canceled, expired or rejected on the
exchange has no trade and must be seen at once."""

CHECK_S = 0.1
"""How often the streams' health is looked at (a dict read; REST is polled only while down)."""

OVERLAP_MS = 30_000
"""How far before the streams' last message REST starts looking for fills (clock skew, fills
stamped before their message went out); ids already delivered are skipped."""

GAP_LOOKBACK_MS = 3_600_000
"""The earliest a gap fill looks back (an hour before the last healthy look). Fills older than
that are found by the reconciliation of the symbols holding something (every
streamed_reconcile_interval_s while the streams are up)."""

GAP_RETRY_MAX_S = 30.0
"""The longest wait between two tries of a failing gap fill."""

GAP_RECHECK_S = 5.0
"""A gap is read once more this long after its gap fill: a venue lists a trade a moment after
it happened (Binance's userTrades lag the fills by a second or more), so a fill made just before
the reconnect could be missing from the first read, and no stream message carries it (a grid
level's fill then waited for the periodic reconcile, 300 s while the streams are up). The poll's
start trails by a minute (market_feed.SINCE_LAG_MS): the second read covers the first's."""

REST_GRACE_S = 2.0
"""After the streams go down, the first REST poll waits this long: a dropped socket is most
often back within a second, and that poll (tickers, positions, a userTrades read per active
Binance symbol, at polling priority) held the feed's one thread for 6-10 s, refused in the end
under load, before it could see the streams back and read the gap (a reviewer's repro: 13.4 s
to stream mode with the gap fill's priority alone, 5.9 s with this too)."""


class Streams(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    def reconnect(self) -> None: ...

    def health(self) -> Any: ...


class StreamFeed:
    def __init__(self, *, rest: MarketFeed, stale_s: float, logger: Any,
                 views: Mapping[str, Any] | None = None, silent_s: float | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rest = rest
        self.stale_s = stale_s
        self.log = logger
        self.clock = clock
        self.monotonic = monotonic
        self.streams: Streams | None = None
        self.own_prefix = rest.own_prefix
        self.mode = "rest"
        """'stream' while the streams are healthy, else 'rest'."""
        self.switches = 0
        self.fills_streamed = 0
        self.dropped_duplicates = 0
        self.resumed = 0
        """Gaps read (the streams counted as up again). An order update lost in a gap (a stop
        canceled while the socket was gone) is in no fill: the stop watch looks once more."""
        self.positions = PositionCheck(views=views if views is not None else {},
                                       deliver=rest.deliver, logger=logger, monotonic=monotonic)
        """Streamed positions against the actors' views (actors/stream_positions.py)."""
        self.ended = EndedOrders(views=self.positions.views, deliver=rest.deliver,
                                 logger=logger, monotonic=monotonic)
        """Orders the stream ended that their actor still holds live: told again (the
        venue's REST lookup may lag its stream; actors/stream_ended.py)."""
        self.marks = rest.stream_marks = PriceMarks()
        """Symbols the stream priced: a REST price asked before is not delivered after it."""
        self._orders: OrderedDict[str, tuple[int, Decimal]] = OrderedDict()
        self._orders_lock = threading.Lock()
        self._healthy_ms = int(clock() * 1000)
        self._last_fill_ms: int | None = None
        self._last_reconnect = monotonic()  # a fresh connection gets stale_s to speak
        self._was_connected = False
        """The last look found the streams connected (a connection back restarts the grace)."""
        self._reconnects_seen = 0
        self._was_healthy = False
        """The last look found the streams up (the first connection counts no reconnect)."""
        self._gap_open = True
        """A gap whose fills are not read yet (`rest.since_ms` holds its start); always while
        on REST, from the start on: the streams count as up only once it is read."""
        self._gap_failures, self._gap_retry_at, self._gap_logged_at = 0, 0.0, -float("inf")
        self._gap_failing_since = 0.0
        self._recheck_at: float | None = None
        """When the last gap is read once more (GAP_RECHECK_S); None: not due."""
        self.rechecked = 0
        """Gaps read the second time (GAP_RECHECK_S)."""
        self._last_poll = -float("inf")
        self._down_since = -float("inf")
        self.silent = (SilentSymbols(rest.symbols, silent_s=silent_s, logger=logger,
                                     monotonic=monotonic) if silent_s else None)
        """Symbols the price stream stopped carrying (None: not watched)."""
        self._last_silent_poll = -float("inf")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream-feed", daemon=True)

    def attach(self, streams: Streams) -> StreamFeed:
        self.streams = streams
        return self

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        assert self.streams is not None, "attach() the streams first"
        self.streams.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():  # (never started: the account's start failed before it)
            self._thread.join(timeout=10)
        if self.streams is not None:
            self.streams.stop()

    # -- the streams' callbacks (their thread) -----------------------------------------------
    def on_tickers(self, tickers: list[VenueTicker]) -> None:
        now = self.clock()
        # a ticker without a price (ccxt's parser path makes a bad one None) carries none: a
        # symbol stamped by it never went silent, so it got no REST price and no line
        priced = [t for t in tickers if t.last is not None]
        self.marks.took(t.symbol for t in priced)  # before the slots
        if self.silent is not None:
            self.silent.took(priced)
        # one message's prices together: urgent wakes first (MarketFeed.deliver_ticks)
        self.rest.dropped += self.rest.deliver_ticks(
            [(t.symbol, Tick(price=t.last, volume=t.quote_volume, sent_at=now))
             for t in priced if t.last is not None])

    def on_fills(self, fills: list[VenueFill]) -> None:
        batch = FillBatch()
        for f in sorted(fills, key=lambda f: f.timestamp or 0):
            if not self.rest.trade_ids.add(f.symbol, f.id):
                self.dropped_duplicates += 1
                continue
            self.fills_streamed += 1
            if f.timestamp:
                self._last_fill_ms = max(self._last_fill_ms or 0, f.timestamp)
            batch.add(f.symbol, f.client_order_id, self.own_prefix)
        for symbol in batch.symbols():
            self.rest.deliver(symbol, OrderActivity(client_order_ids=batch.ids(symbol),
                                                    unknown=symbol in batch.unknown))

    def on_unreadable(self, symbol: str, client_order_id: str) -> None:
        """Our order's update or fill came unreadable: its actor looks the order up now."""
        if client_order_id.startswith(self.own_prefix):
            self.rest.deliver(symbol, OrderActivity(client_order_ids=(client_order_id,)))

    def on_orders(self, orders: list[VenueOrder]) -> None:
        for order in orders:
            cid = order.client_order_id or ""
            if not cid.startswith(self.own_prefix) or not self._moves_on(order):
                continue
            if order.status in _ENDED_WITHOUT_FILL:
                self.ended.tell(order.symbol, cid)  # and again while REST lags the stream

    def _moves_on(self, order: VenueOrder) -> bool:
        """True when `order` is further along than every update seen before for it (a
        duplicate, or an older update arriving late, is dropped)."""
        # Binance numbers orders per symbol, and its algo (stop) orders apart from plain ones
        # (an ALGO_UPDATE's id is the algoId): neither the id nor the symbol and id are unique,
        # so an order's cancel hid a stop's with the same number. Our client id tells them
        # apart (every update here carries ours); a triggered stop's order is its own key
        key = f"{order.symbol}|{order.client_order_id or ''}|{order.id or ''}"
        progress = (0 if order.status.is_open else 1, order.filled)
        with self._orders_lock:
            seen = self._orders.get(key)
            if seen is not None and (progress[0] < seen[0] or progress[1] < seen[1]
                                     or progress == seen):
                self.dropped_duplicates += 1
                return False
            self._orders[key] = progress
            self._orders.move_to_end(key)
            while len(self._orders) > 20_000:
                self._orders.popitem(last=False)
            return True

    def on_positions(self, positions: list[VenuePosition]) -> None:
        self.positions.on_positions(positions)

    def on_connection(self, connected: bool) -> None:
        self._wake.set()  # decide on the mode now, not at the next poll

    def on_unstreamed(self, symbols: list[str]) -> None:
        if self.silent is not None:
            self.silent.unstreamed(symbols)
            self._last_silent_poll = -float("inf")
            self._wake.set()  # their REST prices now, not after silent_s

    # -- the watch thread --------------------------------------------------------------------
    def _run(self) -> None:
        # health is looked at every CHECK_S (cheap); REST is polled every poll interval, only
        # while the streams are down
        check_s = min(CHECK_S, self.rest.interval_s)
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.positions.due()  # first: a REST poll below may take a while
                self.ended.due()
                self.check_once()
            except Exception as exc:  # noqa: BLE001 - a REST hiccup must not stop the feed
                self.log.warning("stream feed: REST poll failed: {}", describe(exc))
            self._wake.wait(max(check_s - (time.monotonic() - started), 0.0))
            self._wake.clear()

    def check_once(self) -> None:
        """Choose the mode from the streams' health; poll REST while they are down."""
        assert self.streams is not None
        health = self.streams.health()
        if health.connected and not self._was_connected:  # its last message predates it
            self._last_reconnect = self.monotonic()  # a fresh connection gets stale_s to speak
        self._was_connected = bool(health.connected)
        looked_ms = int(self.clock() * 1000)  # a gap fill below may take tens of seconds
        age = health.last_message_age_s
        if health.connected and age is not None and age < self.stale_s:
            reconnected = health.reconnects != self._reconnects_seen
            if reconnected:
                if self.mode == "stream" and not self._gap_open:
                    self.rest.since_ms = self._gap_start()  # resubscribed before we saw it down
                    self._switch("rest", "streams reconnected: up again once the fills "
                                 "missed meanwhile are read from REST")  # as after an outage
                self._reconnects_seen = health.reconnects
                self._gap_open = True
            if self.silent is not None and (reconnected or not self._was_healthy):
                self.silent.restart()  # each symbol gets silent_s from the (first) connection
            self._was_healthy = True
            if self._gap_open and self._fill_gap():
                if self.mode == "rest":
                    self._switch("stream")
            elif not self._gap_open:
                self._recheck_gap()
            # when they were seen up, not when the gap fill returned: a socket replaced
            # during a long gap fill has its gap read from before it
            self._healthy_ms = looked_ms
            self._poll_silent()  # also while a gap fill is failing: the stream's prices flow
            return
        self._was_healthy = False
        if self.mode == "stream":
            if not self._gap_open:  # an open gap keeps its earlier start
                self.rest.since_ms = self._gap_start()
            self._switch("rest")
            self._down_since = self.monotonic()
        self._gap_open = True  # the fills of this outage are read before the streams count
        now = self.monotonic()
        if health.connected and now - self._last_reconnect >= self.stale_s:
            self._last_reconnect = now  # connected but silent: make it resubscribe
            self.streams.reconnect()
        if now - self._last_poll >= self.rest.interval_s and now - self._down_since >= REST_GRACE_S:
            self._last_poll = now
            # the REST feed's own round: a failing poll is said once per outage (with a
            # reminder), not at every poll by this thread's catch-all (a venue outage)
            self.rest.poll_round()

    def _fill_gap(self) -> bool:
        """The fills the streams may have missed, from REST (the streams count as up only
        after this). A failure is retried at a growing pace, from the same start, and logged
        once, again every REMINDER_S (it was once a minute: 60 lines an hour of REST outage),
        and when the gap is read at last; True once it succeeded."""
        now = self.monotonic()
        if now < self._gap_retry_at:
            return False
        try:
            self.rest.poll_fills()
        except Exception as exc:  # noqa: BLE001 - retried; the streams' prices keep flowing
            self._gap_failures += 1
            self._gap_retry_at = now + min(
                GAP_RETRY_MAX_S, self.rest.interval_s * 2 ** min(self._gap_failures - 1, 10))
            if self._gap_failures == 1:
                self._gap_failing_since = self._gap_logged_at = now
            if self._gap_failures == 1 or now - self._gap_logged_at >= REMINDER_S:
                self._gap_logged_at = now
                self.log.warning("stream feed: the fills missed while the streams were down "
                                 "could not be read from REST ({} tries so far): {}",
                                 self._gap_failures, describe(exc))
            return False
        if self._gap_failures:
            self.log.info("stream feed: the fills missed while the streams were down were "
                          "read from REST after {} failed tries over {:.0f} s",
                          self._gap_failures, now - self._gap_failing_since)
        self._gap_open, self._gap_failures, self._gap_retry_at = False, 0, 0.0
        self._recheck_at = now + GAP_RECHECK_S
        self.resumed += 1
        return True

    def _recheck_gap(self) -> None:
        """The gap's second read, GAP_RECHECK_S after its gap fill (once: a failure is logged,
        and left to the reconciliations)."""
        if self._recheck_at is None or self.monotonic() < self._recheck_at:
            return
        self._recheck_at = None
        try:
            self.rest.poll_fills()
        except Exception as exc:  # noqa: BLE001 - the streams' fills keep flowing
            self.log.warning("stream feed: the second read of the fills missed while the "
                             "streams were down failed: {}", describe(exc))
        self.rechecked += 1

    def _poll_silent(self) -> None:
        """Streams up: REST prices, at the poll pace, for the symbols the stream left silent."""
        now = self.monotonic()
        if self.silent is None or now - self._last_silent_poll < self.rest.interval_s:
            return
        self._last_silent_poll = now
        mark = self.marks.seq
        tickers = self.silent.poll(self.rest.exchange.fetch_tickers, self.rest.interval_s)
        sent_at = self.clock()
        self.rest.dropped += self.rest.deliver_ticks(
            [(s, Tick(price=t.last, volume=t.quote_volume, sent_at=sent_at))
             for s, t in tickers.items()
             if t.last is not None and not self.marks.newer(s, mark)],
            lambda symbol: self.marks.newer(symbol, mark))  # looked at again at the write

    def _gap_start(self) -> int:
        """Where REST starts looking for fills the streams may have missed: the last fill the
        streams delivered (a dead private socket can hide behind flowing prices) or the last
        healthy look, whichever is earlier, but at most GAP_LOOKBACK_MS back (older fills are
        reconciliation's; Bybit answers a start older than 7 days with that week only), less
        the time a dead stream takes to be seen (`stale_s`) or OVERLAP_MS."""
        healthy = self._healthy_ms
        start = max(min(healthy, self._last_fill_ms or healthy), healthy - GAP_LOOKBACK_MS)
        return start - max(OVERLAP_MS, int(self.stale_s * 1000))

    def _switch(self, mode: str, why: str = "") -> None:
        self.mode = mode
        self.switches += 1
        if why:
            self.log.warning("{}", why)
        elif mode == "rest":
            self.log.warning("streams down: prices and fills from REST until they recover")
        else:
            self.log.info("streams up: prices, orders and fills from the venue's streams")

    def status(self) -> dict[str, Any]:
        """The status dump's `streams` block."""
        h = self.streams.health() if self.streams is not None else None
        age = None if h is None or h.last_message_age_s is None else h.last_message_age_s
        return {
            "mode": self.mode,
            "connected": bool(h.connected) if h is not None else False,
            "last_message_age_s": None if age is None else round(age, 3),
            "reconnects": h.reconnects if h is not None else 0,
            "switches": self.switches,
            "fills_streamed": self.fills_streamed,
            "dropped_duplicates": self.dropped_duplicates,
            "positions_streamed": self.positions.streamed,
            "position_reconciles": self.positions.reconciles,
            "last_error": h.last_error if h is not None else "",
            "last_error_at": getattr(h, "last_error_at", None),  # when: it outlives its outage
            "refused": list(getattr(h, "refused", ())),
            **(self.silent.status() if self.silent is not None else {}),
        }
