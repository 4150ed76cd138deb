"""The streams' records and the interfaces of their receivers (exchange/ccxt/streams.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from exchange.records import VenueFill, VenueOrder, VenuePosition, VenueTicker


class StreamSink(Protocol):
    def on_tickers(self, tickers: list[VenueTicker]) -> None: ...

    def on_fills(self, fills: list[VenueFill]) -> None: ...

    def on_orders(self, orders: list[VenueOrder]) -> None: ...

    def on_connection(self, connected: bool) -> None:
        """Called on every change of `connected` (after a reconnect: True again)."""

    def on_unstreamed(self, symbols: list[str]) -> None:
        """The venue refused these symbols' price topics: their prices must come from REST."""

    def on_unreadable(self, symbol: str, client_order_id: str) -> None:
        """An order update or fill of this order could not be read: look the order up."""


class PositionSink(Protocol):
    def on_positions(self, positions: list[VenuePosition]) -> None:
        """Positions whose size changed on the stream (a flat one with contracts 0)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamHealth:
    connected: bool
    """Every watcher is subscribed and every socket open."""
    last_message_age_s: float | None
    """Seconds since the last message on any stream (None: none yet)."""
    reconnects: int
    """Sockets opened again after the streams had first been up (each look counts once)."""
    last_error: str
    """The last watcher error (for the status dump), '' if none."""
    last_error_at: float | None = None
    """When `last_error` happened (epoch seconds; None: none yet). It stays once the streams
    are up again: without its time an old error read as the cause of a later outage."""
    refused: tuple[str, ...] = ()
    """Symbols whose price topic the venue refused (their prices come from REST)."""


class LiveTickers(dict[str, Any]):
    """ccxt's ticker cache, handing each ticker on as ccxt writes it. ccxt's receive loop parses
    every buffered message before the event loop runs a watcher again, so a price taken when
    `watch_tickers` returns waited behind the whole batch (at 500 symbols, a crossing queued
    behind a background push of every symbol: ~0.3 ms of parsing each); taken here, it leaves
    as soon as it is parsed. The latest price still wins: the delivery side conflates."""

    def __init__(self, initial: dict[str, Any], on_set: Callable[[str, Any], None]) -> None:
        super().__init__(initial)
        self._on_set = on_set

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._on_set(key, value)
