"""LiveTickerSource: real prices for dry runs, polled on its own thread.

One `fetch_tickers(symbols)` call per interval for ALL symbols (public data: give it a gateway
built without credentials). Implements the paper exchange's price-source protocol:
`initial_price(symbol) -> Decimal` and `path(symbol, from_ms, to_ms) -> [(ts_ms, Decimal)]`
(the latest polled price if its timestamp is in (from_ms, to_ms], else []).
A ticker without an exchange timestamp is stamped with the local clock at receipt.
`stale_after_s`: a symbol whose price has not been heard from the venue for this long is
`stale` (the paper exchange then leaves it out of its tickers, so the feed stops ticking it and
`risk.max_price_age_s` applies as in live: the paper book kept answering the last price as
fresh, and a dry run went on opening positions at a price minutes old through a venue outage).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Protocol

from loguru import logger

from exchange.records import VenueTicker
from observability.poll_outage import PollOutage


class TickerFetcher(Protocol):
    def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, VenueTicker]: ...


class LiveTickerSource:
    def __init__(
        self,
        fetcher: TickerFetcher,
        symbols: list[str],
        *,
        interval_s: float = 2.0,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        stale_after_s: float | None = None,
    ) -> None:
        if not symbols:
            raise ValueError("LiveTickerSource needs at least one symbol")
        self._fetcher = fetcher
        self.symbols = list(symbols)
        self.interval_s = interval_s
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._last: dict[str, tuple[int, Decimal]] = {}
        self.stale_after_s = stale_after_s
        self._heard: dict[str, int] = {}
        """When each symbol's price last came from the venue (local clock, ms)."""
        self._volume: dict[str, Decimal] = {}
        """The last 24 h quote volume each symbol's tickers told (`volume_24h`)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.polls = 0
        self.errors = 0
        self._outage = PollOutage(logger, "ticker poll")
        """A venue outage is one warning, a reminder every 5 minutes, one line when the polls
        answer again (observability/poll_outage.py): it was a warning at every poll."""

    def poll_once(self) -> None:
        """One fetch for all symbols; keeps the previous price of any symbol missing/bad."""
        tickers = self._fetcher.fetch_tickers(self.symbols)
        received = self._clock_ms()
        fresh: dict[str, tuple[int, Decimal]] = {}
        for symbol in self.symbols:
            ticker = tickers.get(symbol)
            if ticker is None or ticker.last is None:
                continue
            ts = ticker.timestamp
            fresh[symbol] = (ts if ts is not None else received, ticker.last)
        with self._lock:
            self._heard.update((symbol, received) for symbol in fresh)
            for symbol, (ts, price) in fresh.items():
                previous = self._last.get(symbol)
                if previous is None or ts >= previous[0]:
                    self._last[symbol] = (ts, price)
            self._keep_volumes(tickers.values())
            self.polls += 1

    def _keep_volumes(self, tickers: Iterable[VenueTicker]) -> None:
        """The volumes `tickers` tell (under `_lock`); one that tells none keeps the last."""
        for t in tickers:
            if t.quote_volume is not None and t.symbol in self.symbols:
                self._volume[t.symbol] = t.quote_volume

    def volume_24h(self, symbol: str, at_ms: int) -> tuple[None, Decimal] | None:
        """The paper exchange's ticker volumes (exchange/paper/queries.py): the last quote
        volume the venue told for `symbol` (None: none yet). Found by review: the dry run's
        paper tickers carried none, so strategy.min_volume was never applied in dry-run."""
        with self._lock:
            volume = self._volume.get(symbol)
        return None if volume is None else (None, volume)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # noqa: BLE001 - keep polling through outages; never crash the thread
                self.errors += 1
                self._outage.failed(exc)  # once per outage, not at every poll
            else:
                self._outage.answered()
            self._stop.wait(self.interval_s)

    def start(self) -> LiveTickerSource:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="live-tickers", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def stale(self, symbol: str) -> bool:
        """Whether `symbol`'s price is older than `stale_after_s` (never without one)."""
        if self.stale_after_s is None:
            return False
        with self._lock:
            heard = self._heard.get(symbol)
        return heard is not None and self._clock_ms() - heard > self.stale_after_s * 1000

    def last(self, symbol: str) -> tuple[int, Decimal] | None:
        with self._lock:
            return self._last.get(symbol)

    # --- paper exchange price-source protocol
    def initial_price(self, symbol: str) -> Decimal:
        latest = self.last(symbol)
        if latest is None:
            self.poll_once()
            latest = self.last(symbol)
        if latest is None:
            raise KeyError(f"no live price for {symbol}")
        return latest[1]

    def path(self, symbol: str, from_ms: int, to_ms: int) -> list[tuple[int, Decimal]]:
        latest = self.last(symbol)
        if latest is None or not (from_ms < latest[0] <= to_ms):
            return []
        return [latest]
