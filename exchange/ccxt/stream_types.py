"""The streams' records and the interfaces of their receivers (exchange/ccxt/streams.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from exchange.records import VenueFill, VenueOrder, VenuePosition, VenueTicker


class StreamSink(Protocol):
    def on_tickers(self, tickers: list[VenueTicker]) -> None: ...

    def on_fills(self, fills: list[VenueFill]) -> None: ...

    def on_orders(self, orders: list[VenueOrder]) -> None: ...

    def on_connection(self, connected: bool) -> None:
        """Called on every change of `connected` (after a reconnect: True again)."""

    def on_unstreamed(self, symbols: list[str]) -> None:
        """The venue refused these symbols' price topics: their prices must come from REST."""


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
    refused: tuple[str, ...] = ()
    """Symbols whose price topic the venue refused (their prices come from REST)."""
