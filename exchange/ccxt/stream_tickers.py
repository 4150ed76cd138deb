"""Dry-run prices from the venue's public ticker stream, REST polling while it is down.

A LiveTickerSource (the paper exchange's price source in dry-run) whose prices come from a
public-only `VenueStreams` (no keys: prices only). Its polling thread keeps running but polls
REST only while the stream is disconnected or silent for `stale_s` (a silent connection is
dropped so it subscribes again), so a stream outage never freezes the simulated market;
while it is up, only the symbols it has not carried for `silent_s` (silent_symbols.py). A REST
price asked before the stream delivered a newer one (the stream often still flows while it
counts as down) does not replace it, as in the live feed (exchange/price_marks.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loguru import logger as _logger

from exchange.ccxt.silent_symbols import SilentSymbols
from exchange.ccxt.streams import StreamSink
from exchange.ccxt.tickers import LiveTickerSource, TickerFetcher
from exchange.price_marks import PriceMarks
from exchange.records import VenueFill, VenueOrder, VenueTicker


class StreamedTickerSource(LiveTickerSource):
    def __init__(self, fetcher: TickerFetcher, symbols: list[str], *, interval_s: float,
                 stale_s: float, streams_for: Callable[[StreamSink], Any],
                 silent_s: float | None = None, logger: Any = None,
                 stale_after_s: float | None = None) -> None:
        super().__init__(fetcher, symbols, interval_s=interval_s, stale_after_s=stale_after_s)
        self.stale_s = stale_s
        self._wanted = set(symbols)
        self._log = logger or _logger
        self.silent = (SilentSymbols(symbols, silent_s=silent_s, logger=self._log,
                                     monotonic=time.monotonic) if silent_s else None)
        """Symbols the stream stopped carrying while it is up (None: not watched)."""
        self._was_healthy = False
        self._last_reconnect = time.monotonic()  # a fresh connection gets stale_s to speak
        self._was_connected = False  # the last look found it connected
        self.streams = streams_for(self)
        self.streamed = 0
        """Tickers taken from the stream (for tests and the log)."""
        self._marks = PriceMarks()
        """Which symbols the stream priced after a REST call's mark (under `_lock`)."""

    # -- the sink the streams call (their thread) --------------------------------------------
    def on_tickers(self, tickers: list[VenueTicker]) -> None:
        if self.silent is not None:
            self.silent.took(tickers)
        self._take(tickers)
        self.streamed += len(tickers)

    def _take(self, tickers: Any, asked_at: int | None = None) -> None:
        """Prices from the stream, or (`asked_at`: the mark when the call was made) from REST:
        a symbol the stream priced since then keeps the stream's price."""
        # stamped on receipt, stream and REST alike: the venue's stamps of the two differ (a
        # REST 24h ticker carries its window's close time)
        received = self._clock_ms()
        with self._lock:
            tickers = [t for t in tickers if t.last is not None]
            if asked_at is None:
                self._marks.took(t.symbol for t in tickers)
            for t in tickers:
                if asked_at is not None and self._marks.newer(t.symbol, asked_at):
                    continue  # the stream's price came during the REST call: it is newer
                self._last[t.symbol] = (received, t.last)
                self._heard[t.symbol] = received
            self._keep_volumes(tickers)

    def _mark(self) -> int:
        with self._lock:
            return self._marks.seq

    def on_fills(self, fills: list[VenueFill]) -> None:
        pass  # public stream only: the paper exchange makes the fills

    def on_orders(self, orders: list[VenueOrder]) -> None:
        pass

    def on_unreadable(self, symbol: str, client_order_id: str) -> None:
        pass  # no private streams here

    def on_connection(self, connected: bool) -> None:
        pass

    def on_unstreamed(self, symbols: list[str]) -> None:
        if self.silent is not None:
            self.silent.unstreamed(symbols)

    # -- polling only while the stream is down -----------------------------------------------
    def _health(self) -> Any:
        h = self.streams.health()
        if h.connected and not self._was_connected:  # its last message predates it
            self._last_reconnect = time.monotonic()  # a fresh connection gets stale_s to speak
        self._was_connected = bool(h.connected)
        return h

    def stream_healthy(self) -> bool:
        h = self._health()
        age = h.last_message_age_s
        return bool(h.connected) and age is not None and age < self.stale_s

    def poll_once(self) -> None:
        healthy = bool(self._last) and self.stream_healthy()
        if healthy and self.silent is not None and not self._was_healthy:
            self.silent.restart()  # (re)connected: each symbol gets silent_s to show up
        if healthy != self._was_healthy:
            self._say_switch(healthy)
        self._was_healthy = healthy
        if healthy:  # the stream carries the prices, but perhaps not every symbol's
            if self.silent is not None:
                mark = self._mark()
                self._take(self.silent.poll(self._fetcher.fetch_tickers, self.interval_s).values(),
                           mark)
            return
        self._resubscribe_if_silent()
        mark = self._mark()
        tickers = self._fetcher.fetch_tickers(self.symbols)
        self._take((t for t in tickers.values() if t.symbol in self._wanted), mark)
        with self._lock:
            self.polls += 1

    def _say_switch(self, healthy: bool) -> None:
        """One line each way, as the live feed says its switches (actors/stream_feed.py): the
        dry run's status has no streams block, and its switches were said nowhere (only the
        first failed dial, and nothing at all for a connected stream gone silent)."""
        if healthy:
            self._log.info("dry-run prices: from the venue's ticker stream")
        else:  # it was up
            self._log.warning("dry-run prices: the venue's ticker stream is down or silent "
                              "(stale after {:g} s); prices from REST until it recovers",
                              self.stale_s)

    def _resubscribe_if_silent(self) -> None:
        """Connected but silent for `stale_s`: drop the sockets so the streams subscribe again,
        at most once per `stale_s` (as the live feed does, actors/stream_feed.py). A venue that
        stops pushing on a socket it keeps open (pings answered) left dry-run on the REST
        fallback for as long as that socket lived."""
        h = self._health()
        age = h.last_message_age_s
        now = time.monotonic()
        if (h.connected and (age is None or age >= self.stale_s)
                and now - self._last_reconnect >= self.stale_s):
            self._last_reconnect = now
            self.streams.reconnect()

    def start(self) -> StreamedTickerSource:
        self.streams.start()
        super().start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        super().stop(timeout_s)
        self.streams.stop()
