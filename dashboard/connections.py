"""Connection limits of the dashboard's aiohttp server, so a slow or greedy client (slowloris)
cannot take the trading process's file descriptors:

- at most ``max_connections`` open at once; one over the cap is closed at once (the caller's
  ``on_refused`` logs it, throttled);
- a deadline per request: its head and body must have arrived within ``request_timeout_s`` of
  the connection (or of the previous answer on a kept-alive connection), else the connection is
  dropped. Time spent in a handler (an open event stream) does not count;
- a connection that becomes a live event stream leaves the count (``uncount``): streams have
  caps of their own (dashboard/streams.py), so they never take plain requests' slots.

aiohttp has neither (its keep-alive timer is an hour and a request head may trickle in forever),
so the site wraps each connection's protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web


class ConnectionGate:
    """The protocol factory: counts open connections and arms each one's deadline."""

    def __init__(self, factory: Callable[[], Any], *, max_connections: int,
                 request_timeout_s: float, on_refused: Callable[[int], None]) -> None:
        if max_connections < 1 or request_timeout_s <= 0:
            raise ValueError("max_connections must be >= 1 and request_timeout_s > 0")
        self._factory = factory
        self.max_connections, self.request_timeout_s = max_connections, request_timeout_s
        self.on_refused = on_refused
        self.open = 0

    def __call__(self) -> asyncio.Protocol:
        if self.open >= self.max_connections:
            self.on_refused(self.open)
            return _Refused()
        self.open += 1
        return _Counted(self._factory(), self)


def connection_of(request: web.Request) -> _Counted | None:
    """The counted connection a request came on (None when served some other way)."""
    transport = request.transport
    protocol = transport.get_protocol() if transport is not None else None
    return protocol if isinstance(protocol, _Counted) else None


class _Refused(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.abort()  # type: ignore[attr-defined]


class _Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, with the count and the request deadline."""

    def __init__(self, inner: Any, gate: ConnectionGate) -> None:
        self._inner, self._gate = inner, gate
        self._transport: Any = None
        self._timer: asyncio.TimerHandle | None = None
        self._counted = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self.arm()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.uncount()
        self.disarm()
        self._inner.connection_lost(exc)

    def uncount(self) -> None:
        """Leave the count: the connection is gone, or it became a live stream, which is
        capped on its own (dashboard/streams.py) and must not take plain requests' slots."""
        if self._counted:
            self._counted = False
            self._gate.open -= 1

    def arm(self) -> None:
        """A new deadline: the next request must have arrived whole within the timeout."""
        self.disarm()
        if self._transport is not None and not self._transport.is_closing():
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._gate.request_timeout_s, self._expire)

    def disarm(self) -> None:
        """The request has arrived whole (its handler runs): no deadline while it does."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self._transport is not None:
            self._transport.abort()


class CappedSite(web.BaseSite):
    """A TCP site whose connections go through a :class:`ConnectionGate`."""

    __slots__ = ("_host", "_port", "_gate")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *,
                 gate: ConnectionGate) -> None:
        super().__init__(runner, backlog=128)
        self._host, self._port, self._gate = host, port, gate

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def sockets(self) -> list[Any]:
        return list(getattr(self._server, "sockets", None) or [])

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._gate, self._host, self._port,
                                                backlog=128)
