"""Symbols the price stream has stopped carrying while the stream as a whole is up.

The streams count as up while any message flows, so one symbol without prices goes unseen by
their health: a topic the venue stopped pushing, a symbol Binance's all-market array leaves out,
or messages for one symbol our reader skips as malformed; a topic the venue refused by name
(streams.py drops it) is marked silent at once (`unstreamed`). Its actor would then decide on
a frozen price. This tracks when the stream last carried each symbol's price; a symbol silent
for `silent_s` is polled over REST until the stream carries it again (by the caller, see
`due`), with one line when it goes silent and one when it comes back.

`silent_s` should be long enough for a quiet market: Binance's all-market mini-ticker lists only
the symbols that traded in the last second, so a thinly traded symbol can be legitimately quiet
for a while (its REST price is then the same one, at one request weight).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from observability.poll_outage import PollOutage

SINGLE_CALLS_UP_TO = 40
"""Up to this many silent symbols are polled one ticker each (Binance: weight 1, Bybit: one
request); more in one all-symbol call (Binance: the price ticker, weight 2, with the 24 h
volumes' read, weight 40, at most once a minute when strategy.min_volume uses them: never
dearer)."""
QUIET_PACE_SHARE = 1 / 6
"""A symbol that is merely silent (perhaps a quiet market) is polled every `silent_s` x this
(10 s at the default 60 s); one whose topic the venue refused, at the REST pace."""
FAILURE_LINE_EVERY_S = 60.0
"""A symbol whose REST price keeps failing (a delisted one) is logged at most this often."""


SILENCE_LINE_EVERY_S = 3600.0
"""A symbol's "no price" line (and its "prices again" line) at most once in this long: a thinly
traded Binance symbol that goes quiet every minute would otherwise log two lines a minute."""


class SilentSymbols:
    def __init__(self, symbols: Iterable[str], *, silent_s: float, logger: Any,
                 monotonic: Callable[[], float]) -> None:
        self.silent_s = silent_s
        self.log = logger
        self._now = monotonic
        self._lock = threading.Lock()
        start = monotonic()
        self._seen: dict[str, float] = dict.fromkeys(symbols, start)
        self._silent: set[str] = set()
        self._refused: set[str] = set()
        self._failure_logged: dict[str, float] = {}
        self._silence_logged: dict[str, float] = {}  # symbol -> when its last "no price" line
        self._spell_logged: set[str] = set()  # silent now, and this silence was logged
        self._polled_at: dict[str, float] = {}
        self._outage = PollOutage(logger, "stream: silent symbols' REST price poll",
                                  clock=monotonic)
        """REST not answering any of them (an outage while the stream is up): one line, a
        reminder every 5 minutes, one line with its length when it answers again. A refused
        call rose to the caller's thread: a warning at each poll of them, every 10 s."""
        self.polled = 0
        """Prices taken over REST for silent symbols."""

    def streamed(self, symbol: str, at: float) -> None:
        """The stream carried `symbol`'s price at monotonic `at` (the streams' thread)."""
        if symbol in self._seen:
            self._seen[symbol] = at  # one dict write: the hot path stays lock-free
            if symbol in self._silent:
                with self._lock:
                    if symbol in self._silent:
                        self._silent.discard(symbol)
                        self._refused.discard(symbol)
                        if symbol in self._spell_logged:
                            self._spell_logged.discard(symbol)
                            self.log.info("stream: {} has prices again on the stream", symbol)

    def took(self, tickers: Iterable[Any]) -> None:
        """One stream message's tickers (anything with a `.symbol`), stamped now."""
        at = self._now()
        for t in tickers:
            self.streamed(t.symbol, at)

    def unstreamed(self, symbols: Iterable[str]) -> None:
        """The venue refused these symbols' price topics: silent from now on, no waiting."""
        with self._lock:
            for symbol in symbols:
                if symbol in self._seen:
                    self._seen[symbol] = float("-inf")
                    self._silent.add(symbol)
                    self._refused.add(symbol)

    def restart(self) -> None:
        """The stream (re)connected: every symbol gets `silent_s` from now to show up, except
        the silent ones: they stay on REST until the stream carries them again (a dead topic
        would otherwise go `silent_s` without any price after every reconnect)."""
        now = self._now()
        with self._lock:
            for symbol in self._seen:
                if symbol not in self._silent:
                    self._seen[symbol] = max(self._seen[symbol], now)

    def silent(self) -> list[str]:
        """Symbols whose last streamed price is `silent_s` old or older (each newly silent one
        is logged once)."""
        now = self._now()
        cutoff = now - self.silent_s
        quiet = sorted(s for s, at in list(self._seen.items()) if at <= cutoff)
        with self._lock:
            for symbol in quiet:
                if symbol not in self._silent:
                    self._silent.add(symbol)
                    if now - self._silence_logged.get(symbol, -float("inf")) < SILENCE_LINE_EVERY_S:
                        continue  # a thin market going quiet every minute: one line an hour
                    self._silence_logged[symbol] = now
                    self._spell_logged.add(symbol)
                    self.log.warning("stream: no price for {} in {:.0f} s while the stream is "
                                     "up; its price comes from REST until the stream carries "
                                     "it again", symbol, self.silent_s)
        return quiet

    def due(self, pace_s: float) -> list[str]:
        """The silent symbols whose REST price is due now: a refused one every `pace_s`, any
        other every max(`pace_s`, `silent_s` x QUIET_PACE_SHARE). At Binance's weight 1 a
        symbol, 40 silent symbols cost 240 weight a minute (10 % of the IP limit), and more
        than 40 one all-symbol price call (weight 2) every 10 s, with the volumes' read
        (weight 40) at most once a minute: 52 at most."""
        now = self._now()
        quiet_s = max(pace_s, self.silent_s * QUIET_PACE_SHARE)
        out = []
        for symbol in self.silent():
            every = pace_s if symbol in self._refused else quiet_s
            if now - self._polled_at.get(symbol, -float("inf")) >= every:
                self._polled_at[symbol] = now
                out.append(symbol)
        return out

    def poll(self, fetch_tickers: Callable[[list[str]], dict[str, Any]],
             pace_s: float) -> dict[str, Any]:
        """`due(pace_s)` then `fetch`: the REST tickers of the silent symbols due now."""
        quiet = self.due(pace_s)
        return self.fetch(fetch_tickers, quiet) if quiet else {}

    def fetch(self, fetch_tickers: Callable[[list[str]], dict[str, Any]],
              symbols: list[str]) -> dict[str, Any]:
        """The REST tickers of `symbols` (see SINGLE_CALLS_UP_TO); a symbol whose call fails
        is left for the next poll with a line naming it, the others still go out. A poll that
        got no answer at all (more than one symbol asked) is REST's outage: said once
        (`_outage`), never raised to the caller."""
        if not symbols:
            return {}
        out, failed = self._asked(fetch_tickers, symbols)
        if len(symbols) == 1 and failed:
            self._symbol_failed(*failed[0])  # one symbol (a delisted one?): said by name
        elif failed and (len(failed) == len(symbols) or len(symbols) > SINGLE_CALLS_UP_TO):
            self._outage.failed(failed[0][1])  # nothing answered: REST is out
        else:
            self._outage.answered()
            for symbol, error in failed:
                self._symbol_failed(symbol, error)
        self.polled += len(out)
        return out

    @staticmethod
    def _asked(fetch_tickers: Callable[[list[str]], dict[str, Any]], symbols: list[str],
               ) -> tuple[dict[str, Any], list[tuple[str, BaseException]]]:
        """(the tickers got, [(symbol or "" for the all-symbol call, its error)])."""
        failed: list[tuple[str, BaseException]] = []
        if len(symbols) > SINGLE_CALLS_UP_TO:
            try:
                tickers = fetch_tickers(symbols)
            except Exception as exc:  # noqa: BLE001 - the next poll tries again
                return {}, [("", exc)]
            return {s: tickers[s] for s in symbols if s in tickers}, failed
        out: dict[str, Any] = {}
        for symbol in symbols:
            try:
                out.update(fetch_tickers([symbol]))
            except Exception as exc:  # noqa: BLE001 - the next poll tries again
                failed.append((symbol, exc))
        return out, failed

    def _symbol_failed(self, symbol: str, exc: BaseException) -> None:
        now = self._now()
        if now - self._failure_logged.get(symbol, -float("inf")) >= FAILURE_LINE_EVERY_S:
            self._failure_logged[symbol] = now
            self.log.warning("stream: REST price of silent {} failed: {}", symbol, exc)

    def status(self) -> dict[str, Any]:
        with self._lock:
            silent = sorted(self._silent)
        return {"silent_symbols": len(silent), "silent": silent[:20],
                "silent_polled": self.polled}
