"""The venue's WebSocket streams through ccxt.pro: one asyncio loop in one thread per account.

Four watchers run on that loop: prices (`watch_tickers`: Bybit's `tickers.<SYMBOL>` topics,
Binance's all-market `!miniTicker@arr`), own orders (`watch_orders`), own fills
(`watch_my_trades`) and positions (`watch_positions`: Bybit's `position` topic, Binance's
`ACCOUNT_UPDATE`; only when the sink takes them). Each converts what ccxt parsed into the
port's records (convert.py) and hands them to a `StreamSink` on this thread; the sink must not
block (the delivery side, actors/stream_feed.py, only writes price slots and tells mailboxes).

A watcher that fails (the connection dropped, a refused reconnect) marks the streams down and
calls again after `retry_s`; ccxt.pro opens a new connection and resubscribes on that call.
A subscription the venue keeps refusing is asked again later each time (stream_retry.py).
`health()` is read from any thread: connected (every watcher subscribed, every socket open),
the age of the last message, reconnects. `reconnect()` closes the sockets so every watcher
resubscribes (used when a connected stream has gone silent).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import ccxt

from exchange.ccxt import convert, raw_tickers, stream_guard
from exchange.ccxt.errors import scrub
from exchange.ccxt.stream_acks import SubscriptionAcks, refused_tickers
from exchange.ccxt.stream_retry import RetryPacing
from exchange.ccxt.stream_types import LiveTickers, StreamHealth, StreamSink
from exchange.records import PositionSide, VenuePosition
from observability.error_text import describe

PING_S = 10.0
"""Each socket is pinged this often and replaced once two pings went unanswered (ccxt.pro's
keepAlive x maxPingPongMisses): a private socket that died silently hides behind the public
one's prices. ccxt's own pace, Binance 180 s (user data fills unseen for 6 minutes), Bybit 18 s."""


class VenueStreams:
    def __init__(self, *, build: Callable[[], Any], symbols: list[str], sink: StreamSink,
                 logger: Any, private: bool = True, retry_s: float = 1.0,
                 markets: Callable[[], dict[str, Any] | None] | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 confirm_s: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        self._build = build
        self.symbols = list(symbols)
        self._wanted = set(symbols)
        self.sink = sink
        self.log = logger
        self.private = private
        self.retry_s = retry_s
        self._markets = markets
        on_positions = getattr(sink, "on_positions", None)
        self._on_positions: Callable[[list[VenuePosition]], None] | None = (
            on_positions if private else None)
        self._position_sizes: dict[tuple[str, PositionSide], tuple[str, Decimal]] = {}
        self._bad_positions: dict[int, Any] = {}  # cached rows already said unreadable
        self._now, self._clock = monotonic, clock
        self._loop = asyncio.new_event_loop()
        self._stop_requested = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="venue-streams", daemon=True)
        self._ex: Any = None
        self._stopping = False
        self._failed: dict[str, bool] = {}
        self._pacing = RetryPacing(retry_s, monotonic)
        self._subscribed: set[str] = set()
        self._last_message: float | None = None
        self._was_connected = False
        self._ever_connected = False
        self.reconnects = 0
        """Sockets opened again after the streams had first been up."""
        self.last_error = ""
        self.last_error_at: float | None = None  # when it happened (`_failed_with`)
        self.raw_tickers: raw_tickers.RawTickers | None = None
        """The raw ticker reader, on venues it knows (raw_tickers.py)."""
        self._acks: SubscriptionAcks | None = None
        """The venue's answers to the private subscriptions (stream_acks.py)."""
        self.confirm_s = confirm_s
        self.resubscribed = 0
        """Private sockets closed because the venue never confirmed their subscriptions."""
        self.refused: dict[str, str] = {}
        """Symbol -> the venue's answer, for price topics it refused (never asked again)."""

    # -- lifecycle (any thread) --------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop_requested.set)
            self._thread.join(10)

    def reconnect(self) -> None:
        """Close every socket: the watchers resubscribe on fresh connections."""
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._drop_clients(), self._loop)

    def health(self) -> StreamHealth:
        last = self._last_message
        return StreamHealth(connected=self._connected(),
                            last_message_age_s=None if last is None else self._now() - last,
                            reconnects=self.reconnects, last_error=self.last_error,
                            last_error_at=self.last_error_at, refused=tuple(sorted(self.refused)))

    def _connected(self) -> bool:
        ex = self._ex
        if ex is None or any(self._failed.values()) or len(self._subscribed) < self._expected():
            return False
        sockets = self._sockets()
        if len(sockets) < (2 if self.private else 1) or any(c.closed() for c in sockets):
            return False
        return self._acks is None or self._acks.confirmed(sockets)

    def _expected(self) -> int:
        return (3 + (self._on_positions is not None)) if self.private else 1

    # -- the loop thread ---------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._starts())
        finally:
            self._loop.close()

    async def _starts(self) -> None:
        """`_main` until stopped. A start that fails (the instance cannot be built or set up)
        is tried again at the refusal backoff (RetryPacing: at most 60 s), said once an outage;
        REST carries the account meanwhile. The thread ended at the first failure: REST for
        good, also once the cause was gone."""
        while not self._stopping:
            try:
                return await self._main()
            except Exception as exc:  # noqa: BLE001 - tried again; the feed stays on REST
                self._failed_with(f"start: {type(exc).__name__}: {self._scrubbed(exc)}")
                if self._stopping:  # (the instance's close at stop)
                    self.log.error("streams stopped ({})", self.last_error)
                    return
                delay, streak = self._pacing.failed("start")
                (self.log.error if streak == 1 else self.log.debug)(
                    "streams could not start ({}); prices and fills come from REST, trying "
                    "again in {:g} s{}", self.last_error, delay,
                    " (further failures at debug level)" if streak == 1 else "")
                ex, self._ex = self._ex, None
                if ex is not None:
                    await asyncio.gather(ex.close(), return_exceptions=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_requested.wait(), delay)

    async def _main(self) -> None:
        self._ex = self._build()
        self._share_markets()
        # no REST position snapshot on each (re)subscription: reconciliation reads positions
        # over REST already; the stream is only for changes
        self._ex.options["watchPositions"] = {**self._ex.options.get("watchPositions", {}),
                                              "fetchPositionsSnapshot": False,
                                              "awaitPositionsSnapshot": False}
        # no permessage-deflate: inflating each frame cost ~11-16 us of the stream thread's
        # ~40 us a message (cProfile, bench_stream_close.py), and a crossing price waits behind
        # every message of a venue push queued before it; the venue sends more bytes instead
        ws = dict(self._ex.options.get("ws") or {})
        ws["options"] = {**(ws.get("options") or {}), "compress": 0}
        streaming = getattr(self._ex, "streaming", None) or {}  # a test's fake may have none
        ws["keepAlive"] = min(int(streaming.get("keepAlive") or 10**9),
                              int(PING_S * 1000))
        self._ex.options["ws"] = ws
        if raw_tickers.handles(self._ex.id):  # prices from the raw messages (raw_tickers.py)
            self.raw_tickers = raw_tickers.RawTickers(
                self._ex, self._wanted, self.sink.on_tickers, self._seen, self.log).install()
        if self.private:
            self._acks = SubscriptionAcks(self._ex.id, self._expected() - 1, self.confirm_s,
                                          self._now).install(self._ex)
        stream_guard.install(self._ex, self.log, self._wanted, lambda s, c: self._unreadable(
            {"symbol": s, "clientOrderId": c}))  # outermost: a parser error skips one message
        stream_guard.guard_frames(self._ex, self.log, stream_guard.masked)  # frames not JSON
        watchers = [self._watch("tickers", self._tickers_once)]
        if self.private:
            watchers += [self._watch("orders", self._orders_once),
                         self._watch("fills", self._fills_once)]
        if self._on_positions is not None:
            watchers.append(self._watch("positions", self._positions_once))
        tasks = [asyncio.ensure_future(w) for w in watchers]
        tasks.append(asyncio.ensure_future(self._watch_connection()))
        await self._stop_requested.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._ex.close()

    def _share_markets(self) -> None:
        """The REST gateway's loaded markets, so the streams do not load them again over REST
        (one markets call at startup); unavailable: ccxt.pro loads its own on first watch."""
        if self._markets is None:
            return
        try:
            markets = self._markets()
        except Exception as exc:  # noqa: BLE001 - the streams still work, at one more call
            self.log.warning("streams: the gateway's markets unavailable ({}); loading "
                             "them over REST", exc)
            return
        if markets:
            self._ex.set_markets(markets)

    async def _drop_clients(self) -> None:
        for client in list(self._ex.clients.values()) if self._ex is not None else []:
            await client.close()

    async def _watch(self, name: str, once: Callable[[], Any]) -> None:
        while not self._stopping:
            try:
                self._subscribed.add(name)
                await once()
                self._failed[name] = False
            except asyncio.CancelledError as exc:
                task = asyncio.current_task()
                if self._stopping or (task is not None and task.cancelling()):
                    raise
                await self._failed_once(name, exc)  # ccxt canceled the watch: socket closed
            except Exception as exc:  # noqa: BLE001 - any failure means "down, retry"
                await self._failed_once(name, exc)

    async def _failed_once(self, name: str, exc: BaseException) -> None:
        self._subscribed.discard(name)
        self._failed[name] = True
        error = f"{name}: {type(exc).__name__}: {self._scrubbed(exc)}"
        delay, streak = self._pacing.failed(name, refused=isinstance(exc, ccxt.ExchangeError))
        # a dropped or refused dial once an outage; a refusal at 1, 2, 4, 8 ... in a row; a
        # socket we closed (CancelledError: an expired key, unconfirmed, silent) or a refused
        # login is said by the line that closed it (and is its last_error), not by each watcher
        own = isinstance(exc, asyncio.CancelledError)
        first = not own and self._pacing.first_in_outage(name)
        if not own:
            self._failed_with(error)
        login = own or self._acks is not None and self._acks.login_refusal(exc)
        (self.log.warning if not login and (streak & (streak - 1) == 0 if streak else first)
         else self.log.debug)("stream {} failed{}, retrying in {:g} s{}: {}", name,
                              f" ({streak} times in a row)" if streak > 1 else "", delay,
                              f" (next said at {2 * streak} in a row)" if streak else
                              " (until it connects, further failures at debug level)" * first,
                              error)
        self._note_connection()
        await asyncio.sleep(delay)
        self._failed[name] = False

    def _failed_with(self, error: str) -> None:  # (dated: it outlives its outage)
        self.last_error, self.last_error_at = error[:200], self._clock()

    def _scrubbed(self, exc: BaseException) -> str:
        """`exc`'s text without the keys, signatures or a Binance listen key (a stream URL's
        last segment: it lets anyone read the account's private stream)."""
        ex = self._ex
        keys = (getattr(ex, "apiKey", ""), getattr(ex, "secret", "")) if ex is not None else ()
        return stream_guard.masked(scrub(str(exc), tuple(k for k in keys if k)))

    async def _watch_connection(self) -> None:
        while not self._stopping:
            self._note_connection()
            await self._close_unconfirmed()
            await asyncio.sleep(0.02)

    async def _close_unconfirmed(self) -> None:
        """A private socket the venue has not confirmed in `confirm_s`, or whose listen key it
        expired, is closed, so the watchers subscribe again on a fresh one (stream_acks.py)."""
        if self._acks is None:
            return
        for client, why in self._acks.overdue(self._sockets()):
            self.resubscribed += 1
            self._failed_with(why := self._scrubbed(RuntimeError(why)))
            n = self._acks.login_refusals if hasattr(client, "_stream_login_refused") else 0
            first = self._pacing.first_in_outage(why)  # once until connected, not each socket
            (self.log.warning if (n & (n - 1) == 0 if n else first) else self.log.debug)(
                "streams: {}; {}", why, f"orders and fills from REST, logging in again on a new"
                f" connection ({n} in a row, next said at {2 * n})" if n else "subscribing "
                "again on a new connection" + " (until it connects, again at debug level)" * first)
            await client.close()

    def _note_connection(self) -> None:
        """Count reconnects and tell the sink about every change of `connected`. A socket
        replaced between two looks (ccxt reconnects on the next watch call) counts too, so a
        blip too short to be seen as "down" is still a reconnect (the sink fills the gap).
        A socket counts once it is open: each dial refused during an outage is a new client
        that never opened (counted, the status read 6 reconnects after one 12 s outage)."""
        now = self._connected()
        if now:
            self._pacing.up()
        fresh = [c for c in self._sockets()
                 if not c.closed() and not getattr(c, "_seen_by_streams", False)]
        for client in fresh:
            client._seen_by_streams = True
        if self._ever_connected and fresh:
            self.reconnects += 1
        self._ever_connected = self._ever_connected or now
        if now == self._was_connected and not (fresh and self._ever_connected):
            return
        self._was_connected = now
        self.sink.on_connection(now)

    def _sockets(self) -> list[Any]:
        ex = self._ex
        return [] if ex is None else [c for c in list(ex.clients.values())
                                      if str(c.url).startswith("ws")]

    def _seen(self) -> None:
        self._last_message = self._now()

    async def _tickers_once(self) -> None:
        ex = self._ex
        if not isinstance(ex.tickers, LiveTickers):
            ex.tickers = LiveTickers(ex.tickers or {}, self._ticker_written)
        # the prices themselves go out as they arrive (raw_tickers.py; other venues: as ccxt
        # parses them, LiveTickers); this call keeps the subscription and notices a dropped
        # socket (with raw tickers it returns only then: ccxt never sees a ticker message)
        if ex.id == "bybit" and not self.symbols:  # every topic refused: REST has the prices
            await asyncio.sleep(60)
        elif ex.id == "bybit":
            try:
                await ex.watch_tickers(self.symbols)
            except Exception as exc:
                refused = self._refused_in(exc)
                if not refused:
                    raise
                await self._drop_clients()  # subscribe again, on a clean socket, without them
                self._drop_refused(refused, exc)  # the sink hears of it once they are closed
                return
        else:  # Binance: the all-market stream, one message a second for every symbol
            await ex.watch_tickers()
        self._seen()

    def _refused_in(self, error: BaseException) -> list[str]:
        """Our symbols whose price topic the venue refused by name (stream_acks.py)."""
        ids = {self._ex.market(s)["id"]: s for s in self.symbols if s in self._ex.markets}
        return refused_tickers(error, ids)

    def _drop_refused(self, refused: list[str], error: BaseException) -> None:
        """Stop asking for those topics; their symbols get their prices from REST (the sink
        is told)."""
        for symbol in refused:
            self.refused[symbol] = str(error)[:200]
        self.symbols = [s for s in self.symbols if s not in self.refused]
        self.log.error("streams: the venue refused the price topic of {} ({}); their prices "
                       "come from REST", ", ".join(refused), str(error)[:200])
        on_unstreamed = getattr(self.sink, "on_unstreamed", None)
        if on_unstreamed is not None:
            on_unstreamed(refused)

    def _ticker_written(self, symbol: str, raw: Any) -> None:
        """Inside ccxt's message handler: one parsed ticker, delivered at once."""
        self._seen()
        if symbol not in self._wanted:
            return
        tickers = self._each([raw], convert.ticker, "ticker")
        if not tickers:
            return
        try:
            self.sink.on_tickers(tickers)
        except Exception as exc:  # noqa: BLE001 - never into ccxt's handler: the next price
            self.log.warning("stream: delivering the price of {} failed: {}", symbol,
                             describe(exc))

    async def _orders_once(self) -> None:
        raw = await self._ex.watch_orders()
        self._seen()
        orders = self._each(raw, lambda o: convert.order(o, settle=self._settle(o),
                                                         exchange_id=self._ex.id),
                            "order update", self._unreadable)
        self.sink.on_orders([o for o in orders if o.symbol in self._wanted])

    async def _fills_once(self) -> None:
        raw = await self._ex.watch_my_trades()
        self._seen()
        fills = self._each(raw, lambda t: convert.fill(t, client_order_id=_client_id(t),
                                                       settle=self._settle(t)), "fill",
                           self._unreadable)
        self.sink.on_fills([f for f in fills if f.symbol in self._wanted])

    def _settle(self, raw: dict[str, Any]) -> str | None:
        """The settle currency of `raw`'s market (fees in another asset stay unknown here: the
        streams' fees are never booked, the gateway's order lookup converts them, fees.py)."""
        market = (self._ex.markets or {}).get(raw.get("symbol")) or {}
        return market.get("settle")

    async def _positions_once(self) -> None:
        await self._ex.watch_positions()
        self._seen()
        # ccxt resolves a watch once per wake: a second position message parsed before this
        # coroutine runs again is only in its cache, so read the cache (the newest entry of
        # each symbol and position side) and pass on the sizes that changed
        cache = self._ex.positions
        raw = [p for c in cache.values() for p in c] if isinstance(cache, dict) else list(cache)
        # an unreadable row stays cached until its symbol's next good one: said once, not at
        # every later message (kept by identity while cached, so an id is never reused)
        bad = self._bad_positions
        fresh = {id(r): r for r in raw if bad.get(id(r)) is not r}
        self._bad_positions = {id(r): r for r in raw if bad.get(id(r)) is r}
        latest: dict[tuple[str, PositionSide], VenuePosition] = {}
        for p in self._each(list(fresh.values()), lambda r: convert.position(r, self._ex.id),
                            "position", lambda r: self._bad_positions.update({id(r): r})):
            if p.symbol not in self._wanted:
                continue
            key = (p.symbol, p.position_side)
            seen = latest.get(key)
            if seen is None or (p.timestamp or 0) >= (seen.timestamp or 0):
                latest[key] = p
        changed = []
        for key, p in latest.items():
            size = (p.side if p.contracts else "", p.contracts)
            if self._position_sizes.get(key) != size:
                self._position_sizes[key] = size
                changed.append(p)
        if changed and self._on_positions is not None:
            self._on_positions(changed)

    def _each(self, raw: Any, convert_one: Callable[[Any], Any], what: str,
              on_bad: Callable[[dict[str, Any]], None] | None = None) -> list[Any]:
        """Each item converted; a bad one is skipped with a line naming it, so one symbol's
        bad data never takes the stream down (`on_bad` hears of it)."""
        out = []
        for item in raw:
            try:
                out.append(convert_one(item))
            except Exception as exc:  # noqa: BLE001 - skip this item, keep the stream
                symbol = item.get("symbol") if isinstance(item, dict) else None
                self.log.warning("stream: skipped a bad {} for {}: {}", what, symbol,
                                 describe(exc))
                if on_bad is not None and isinstance(item, dict):
                    on_bad(item)
        return out

    def _unreadable(self, item: dict[str, Any]) -> None:
        """An order update or fill that could not be read still names its order: the sink is
        told, so the order is looked up over REST now (skipped alone, a fill of ours waited
        for the next reconcile, up to 5 minutes without a position stream)."""
        symbol, cid = item.get("symbol"), _client_id(item)
        tell = getattr(self.sink, "on_unreadable", None)
        if tell is not None and symbol in self._wanted and cid:
            tell(str(symbol), str(cid))


def _client_id(trade: dict[str, Any]) -> str | None:
    """Bybit's execution carries orderLinkId, Binance's ORDER_TRADE_UPDATE its `c`."""
    info = trade.get("info") or {}
    return trade.get("clientOrderId") or info.get("orderLinkId") or info.get("c") or None
