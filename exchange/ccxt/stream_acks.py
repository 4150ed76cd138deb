"""Whether the venue has taken the private subscriptions of the socket that is open now.

ccxt.pro's `watch_orders()` sends its subscription and waits for the first order message; it
never says whether the venue answered. An open socket is therefore not proof of a working
private stream: on Bybit the socket must authenticate (`op: auth`) and then subscribe to each
topic (`op: subscribe`), and when an answer is lost (the venue drops it, a reconnect races a
silent connection) ccxt waits on it forever while the socket stays open and the public prices
keep coming. Counted as up, that stream would switch REST polling off while no order or fill
could arrive (seen in tests/exchange/ccxt/test_stream_feed.py: a private socket with no topic,
reported connected for good).

This counts the venue's successful subscription answers on each private socket. Bybit answers
each subscribe with {"op": "subscribe", "success": true, ...} (v5 WebSocket docs, "How to
Subscribe to Topics"); a private socket is confirmed once it has as many as the private watchers
subscribe to. Binance's user-data stream needs no subscription (the listen key in the URL is
it), so an open socket there is confirmed. A private socket still unconfirmed `confirm_s` after
it was first seen is overdue: the streams close it and subscribe again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_BYBIT_PRIVATE = "/v5/private"


class SubscriptionAcks:
    def __init__(self, venue_id: str, expected: int, confirm_s: float,
                 now: Callable[[], float]) -> None:
        self.venue_id = venue_id
        self.expected = expected
        """Private subscriptions a socket must have had answered."""
        self.confirm_s = confirm_s
        self._now = now

    def install(self, ex: Any) -> SubscriptionAcks:
        """Count answers in front of ccxt's handler (before the first socket opens: ccxt's
        client keeps the handler it was created with)."""
        if self.venue_id != "bybit":
            return self
        inner = ex.handle_message

        def handle_message(client: Any, message: Any) -> Any:
            if (isinstance(message, dict) and message.get("op") == "subscribe"
                    and message.get("success") is True):
                client._stream_acks = getattr(client, "_stream_acks", 0) + 1
            return inner(client, message)

        ex.handle_message = handle_message
        return self

    def confirmed(self, sockets: list[Any]) -> bool:
        return all(self._answered(c) for c in self._private(sockets))

    def overdue(self, sockets: list[Any]) -> list[Any]:
        """Open private sockets still unconfirmed `confirm_s` after they were first looked at."""
        now = self._now()
        late = []
        for client in self._private(sockets):
            if self._answered(client) or client.closed():
                continue
            since = getattr(client, "_stream_acks_since", None)
            if since is None:
                client._stream_acks_since = now
            elif now - since >= self.confirm_s:
                late.append(client)
        return late

    def _private(self, sockets: list[Any]) -> list[Any]:
        if self.venue_id != "bybit":
            return []
        return [c for c in sockets if _BYBIT_PRIVATE in str(c.url)]

    def _answered(self, client: Any) -> bool:
        return int(getattr(client, "_stream_acks", 0)) >= self.expected
