"""Fakes and local servers for the signal receiver tests (injected through constructors)."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web
from loguru import logger

from actors.messages import ExternalSignal, Reconcile
from signals.http_server import SignalHttpServer
from signals.router import SignalRouter
from signals.wiring import repository_journal
from storage import queries
from tests.support.faulty_exchange import FaultyExchange, params_of
from tests.support.harness import Harness
from tests.support.waiting import wait_until

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


class HeldJournal(FakeJournal):
    """The router's journal, held on its first SignalAccepted write (a busy, slow or stalled
    database) until the test sets `release`; `entered` is set once the write began."""

    def __init__(self, hold_s: float = 30.0) -> None:
        super().__init__()
        self.hold_s = hold_s
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, symbol: str, type_: str, data: dict[str, Any], cid: str) -> None:
        if type_ == "SignalAccepted" and not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(self.hold_s), "never released"
        super().__call__(symbol, type_, data, cid)


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


def signal_events(h: Harness, symbol: str, type_: str, sid: str) -> list[dict[str, Any]]:
    """The journal rows of `type_` on `symbol` that belong to the signal `sid`."""
    return [e for e in h.repo.read(queries.events, symbol, type_) if e["correlation_id"] == sid]


def signal_to_a_busy_actor(tmp_path: Any, symbol: str,
                           signal: Callable[[Harness], dict[str, Any]], *,
                           wait_s: float, heartbeat_timeout_s: float,
                           before_hold: Callable[[Harness, str], None] | None = None,
                           ) -> tuple[Harness, list[dict[str, Any]]]:
    """Post `signal(h)` through the real receiver (HTTP on 127.0.0.1, the router on the harness's
    manual clock) while `symbol`'s actor is held inside a real exchange call (a
    reconciliation's fetch_positions); the clock moves `wait_s` before the actor is released.
    The signal is valid when it arrives: answered 202, routed into the mailbox, where it waits.
    `before_hold(h, url)` runs once the actor has a price, before it is held. Returns the
    harness (stopped by the caller) and the params of the orders sent from the hold on, stops
    left out (the entries or closes)."""
    box: dict[str, FaultyExchange] = {}

    def wrap(paper: Any) -> FaultyExchange:
        box["fx"] = FaultyExchange(paper)
        return box["fx"]

    h = Harness(tmp_path, [symbol], wrap=wrap, heartbeat_timeout_s=heartbeat_timeout_s).start()
    fx = box["fx"]
    router = SignalRouter(symbols=[symbol], deliver=h.sup.deliver_signal,
                          journal=repository_journal(h.repo),
                          seen=lambda sid: h.repo.read(queries.signal_received, sid),
                          logger=logger, clock=h.clock)  # the default signals.max_age_s
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0)
    server.start()
    h.poll()  # the actor has a price: an entry signal would open a position
    h.idle(symbol)
    if before_hold is not None:
        before_hold(h, server.url)
    entered, release = threading.Event(), threading.Event()
    sent: list[dict[str, Any]] = []

    def hold(name: str, args: Any, kwargs: Any) -> None:
        if not release.is_set():
            entered.set()
            release.wait(30)

    def record(name: str, args: Any, kwargs: Any) -> None:
        if "stopLossPrice" not in params_of(args, kwargs):
            sent.append(params_of(args, kwargs))

    fx.before["fetch_positions"] = hold
    fx.before["create_order"] = record
    try:
        assert h.sup.tell(symbol, Reconcile(reason="test: busy"))
        wait_until(entered.is_set, message="the actor is inside fetch_positions")
        status, body = post(server.url, signal(h))
        assert status == 202, body  # valid when it arrived: routed into the mailbox
        h.clock.advance(wait_s)
    finally:
        release.set()
        server.stop()
    h.idle(symbol)  # the reconciliation, then the queued signal
    return h, sent


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


@contextmanager
def stalled_receiver(tmp_path: Any, symbol: str) -> Iterator[str]:
    """The HTTP receiver's URL, its router with the bot's bound on writes (max_age_s 0.5,
    storage.writer.writes_within) journaling into a real repository whose one writer thread
    is held inside a unit for the whole block (a stalling database)."""
    from storage.writer import writes_within
    from tests.protections.test_guard_writes_bounded import HeldWriter

    h = Harness(tmp_path, [symbol], heartbeat_timeout_s=600).start()
    router = SignalRouter(symbols=[symbol], deliver=h.sup.deliver_signal,
                          journal=repository_journal(h.repo),
                          seen=lambda sid: h.repo.read(queries.signal_received, sid),
                          logger=logger, max_age_s=0.5, bounded=writes_within)
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0)
    server.start()
    held = HeldWriter(h.repo)
    try:
        yield server.url
    finally:
        held.release()
        server.stop()
        h.stop()
