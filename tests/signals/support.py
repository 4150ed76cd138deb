"""Fakes and local servers for the signal receiver tests (injected through constructors)."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from typing import Any

from aiohttp import web
from loguru import logger

from actors.messages import ExternalSignal
from signals.router import SignalRouter

TOKEN = "s3cret-token"


class FakeJournal:
    def __init__(self) -> None:
        self.entries: list[tuple[str, str, dict[str, Any], str]] = []
        self._lock = threading.Lock()

    def __call__(self, symbol: str, type_: str, data: dict[str, Any], correlation_id: str) -> None:
        with self._lock:
            self.entries.append((symbol, type_, data, correlation_id))

    def of(self, type_: str) -> list[tuple[str, str, dict[str, Any], str]]:
        with self._lock:
            return [e for e in self.entries if e[1] == type_]

    def seen(self, signal_id: str) -> bool:
        """Stands in for the storage query (SignalReceived with this id: a rejected id is
        judged again). The fake deliver writes no SignalReceived, so the router's
        SignalAccepted stands for it."""
        with self._lock:
            return any(cid == signal_id and t == "SignalAccepted"
                       for _, t, _, cid in self.entries)


class FakeDeliver:
    def __init__(self, result: bool = True) -> None:
        self.result = result
        self.calls: list[tuple[str, ExternalSignal]] = []
        self._lock = threading.Lock()

    def __call__(self, symbol: str, signal: ExternalSignal) -> bool:
        with self._lock:
            self.calls.append((symbol, signal))
        return self.result


class Positions:
    """An `open_positions()` the test sets by hand."""

    def __init__(self, n: int = 0) -> None:
        self.n = n

    def __call__(self) -> int:
        return self.n


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_router(symbols=("BTC/USDT:USDT", "ETH/USDT:USDT"),
                **kwargs: Any) -> tuple[SignalRouter, FakeJournal, FakeDeliver]:
    journal = kwargs.pop("journal", None) or FakeJournal()
    deliver = kwargs.pop("deliver", None) or FakeDeliver()
    seen = kwargs.pop("seen", None) or journal.seen
    router = SignalRouter(symbols=symbols, deliver=deliver, journal=journal, seen=seen,
                          logger=logger, **kwargs)
    return router, journal, deliver


def post(url: str, body: Any, *, token: str | None = TOKEN, header: str = "bearer",
         timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    """POST JSON (or raw bytes/str) to the endpoint; returns (status, decoded JSON body)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    data = body if isinstance(body, bytes) else (
        body.encode() if isinstance(body, str) else json.dumps(body).encode())
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers.update({"Authorization": f"Bearer {token}"} if header == "bearer"
                       else {"X-Signal-Token": token})
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", parts.path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


class LocalWsServer:
    """A WebSocket signal feed on 127.0.0.1 (aiohttp on its own loop thread). The test pushes
    messages to the connected clients and can drop them."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.connections = 0
        self.refused = 0
        self._clients: set[web.WebSocketResponse] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-ws-server",
                                        daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def start(self) -> LocalWsServer:
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def send(self, obj: Any) -> int:
        """Send to every connected client; returns how many got it."""
        return self._call(self._send(json.dumps(obj)))

    def drop(self) -> None:
        """Close every client connection from the server side."""
        self._call(self._drop())

    def client_count(self) -> int:
        return len(self._clients)

    # -- on the server's loop ------------------------------------------------------------------
    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws", self._handler)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}/ws"

    async def _stop(self) -> None:
        await self._drop()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handler(self, request: web.Request) -> web.StreamResponse:
        bearer = request.headers.get("Authorization")
        if self.token is not None and bearer != f"Bearer {self.token}":
            self.refused += 1
            return web.Response(status=401)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        self._clients.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            self._clients.discard(ws)
        return ws

    async def _send(self, text: str) -> int:
        clients = list(self._clients)
        for ws in clients:
            await ws.send_str(text)
        return len(clients)

    async def _drop(self) -> None:
        for ws in list(self._clients):
            await ws.close()
