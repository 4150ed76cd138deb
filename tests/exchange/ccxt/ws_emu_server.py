"""A WebSocket exchange emulator on 127.0.0.1 (port 0), sharing its `Book` with the HTTP
emulator of the same venue: every change of the book (an order placed over REST, a fill, a
cancel, a price move) becomes the venue's stream messages (ws_emu_bybit.py, ws_emu_binance.py).

It runs aiohttp in its own thread with its own event loop. Each connection subscribes to
topics; a message goes to every connection subscribed to its topic. A ticker push repeats all
prices every `ticker_interval_s`, as a live market would, so a silent stream means a fault.

Faults, for the tests:
  drop_all()            close every connection (the client sees a disconnect)
  refuse(True|False)    answer new connections with HTTP 503 (the stream stays down);
                        `refused` counts the connections so answered
  silence(True|False)   keep connections open but send nothing (a stale stream); what would
                        have been sent is lost, as on a venue whose stream stalls
  send_raw(topic, msg)  send a hand-made message (duplicates, out-of-order updates)
  end_topic(topic, last, path) send a last message, then no more of topic (socket stays open)
  lose_replies(n, path) the next n answers to client messages at path are lost
  stall(path)           the connections open at path die silently (a half-open TCP path):
                        nothing reaches them, nothing of theirs is answered, not even a ping
                        frame; they are not closed. New connections work
  subscribed(topic)    whether a connection has taken `topic` (wait on it before send_raw)
`sent` records (topic, message) of everything sent but the periodic ticker push, in order.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from tests.exchange.ccxt.emu_book import Book


@dataclass(eq=False)
class Conn:
    ws: web.WebSocketResponse
    path: str
    query: dict[str, str]
    topics: set[str] = field(default_factory=set)
    authed: bool = False
    stalled: bool = False


class WsProtocol(Protocol):
    def accept(self, path: str, query: dict[str, str]) -> str | None:
        """None to accept the connection, else the reason to refuse it (HTTP 401)."""

    def on_open(self, conn: Conn) -> list[tuple[str, Any]]:
        """Topics the connection gets without asking (Binance's user data stream)."""

    def on_message(self, conn: Conn, msg: Any) -> list[Any]:
        """Replies to a client message (subscribe, auth, ping); may add topics to `conn`."""

    def snapshot(self, topic: str) -> Any | None:
        """What a new subscriber to `topic` gets at once (Bybit's ticker snapshot)."""

    def events(self, kind: str, obj: Any) -> list[tuple[str, Any]]:
        """(topic, message) pairs for one change of the book."""

    def ticker_push(self) -> list[tuple[str, Any]]:
        """The periodic ticker messages."""


class WsEmulator:
    def __init__(self, book: Book, protocol: WsProtocol, ticker_interval_s: float = 0.2) -> None:
        self.book = book
        self.protocol = protocol
        self.ticker_interval_s = ticker_interval_s
        self.sent: list[tuple[str, Any]] = []
        self.connects = 0
        self.refused = 0
        self._conns: set[Conn] = set()
        self._refuse = False
        self._silent = False
        self._lose: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ws-emulator", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._port}"

    def start(self) -> WsEmulator:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("ws emulator did not start")
        self.book.listeners.append(self._on_book)
        return self

    def stop(self) -> None:
        if self._on_book in self.book.listeners:
            self.book.listeners.remove(self._on_book)
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> WsEmulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self._pusher = self._loop.create_task(self._push_tickers())

    async def _shutdown(self) -> None:
        self._pusher.cancel()
        for conn in list(self._conns):
            await conn.ws.close()
        assert self._runner is not None
        await self._runner.cleanup()

    # -- faults ------------------------------------------------------------------------------
    def drop_all(self) -> None:
        async def drop() -> None:
            for conn in list(self._conns):
                await conn.ws.close(code=1006)
        asyncio.run_coroutine_threadsafe(drop(), self._loop).result(5)

    def refuse(self, on: bool) -> None:
        self._refuse = on

    def silence(self, on: bool) -> None:
        self._silent = on

    def end_topic(self, topic: str, last: Callable[[Conn], Any], path: str) -> int:
        """Each open connection at `path` with `topic` gets `last(conn)`, then nothing more of
        that topic; the connection stays open (Binance's listenKeyExpired). Returns how many."""
        async def end() -> int:
            ended = 0
            for conn in [c for c in list(self._conns) if c.path.startswith(path)
                         and topic in c.topics and not c.ws.closed]:
                conn.topics.discard(topic)
                await conn.ws.send_str(json.dumps(last(conn)))
                ended += 1
            return ended
        return asyncio.run_coroutine_threadsafe(end(), self._loop).result(5)

    def lose_replies(self, count: int, path: str) -> None:
        """The next `count` answers to client messages on sockets at `path` are lost (Bybit's
        auth or subscribe answer that never comes)."""
        self._lose[path] = count

    def stall(self, path: str) -> int:
        """The open connections at `path` go dead without closing; returns how many."""
        dead = [c for c in list(self._conns) if c.path.startswith(path) and not c.ws.closed]
        for conn in dead:
            conn.stalled = True
        return len(dead)

    def send_raw(self, topic: str, msg: Any) -> None:
        self._loop.call_soon_threadsafe(self._broadcast, topic, json.dumps(msg), msg)

    def send_text(self, topic: str, text: str) -> None:
        """`text` as it is (not JSON-encoded) to the connections with `topic`: a frame the
        venue garbled."""
        self._loop.call_soon_threadsafe(self._broadcast, topic, text, text)

    @property
    def connections(self) -> int:
        return len(self._conns)

    def subscribed(self, topic: str) -> bool:
        """Whether an open connection has `topic`: ccxt.pro's watch returns before the venue
        has taken the subscription, so a test sends its hand-made message only after this."""
        return any(topic in conn.topics for conn in list(self._conns))

    # -- serving -----------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self._refuse:
            self.refused += 1
            return web.Response(status=503, text="emulator: refusing connections")
        query = dict(request.query)
        reason = self.protocol.accept(request.path, query)
        if reason is not None:
            return web.Response(status=401, text=reason)
        ws = web.WebSocketResponse(autoping=False)  # pongs below: a stalled one sends none
        await ws.prepare(request)
        conn = Conn(ws=ws, path=request.path, query=query)
        self._conns.add(conn)
        self.connects += 1
        for topic, _ in self.protocol.on_open(conn):
            conn.topics.add(topic)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.PING and not conn.stalled:
                    await ws.pong(msg.data)
                if msg.type != WSMsgType.TEXT or conn.stalled:
                    continue
                await self._on_client(conn, json.loads(msg.data))
        finally:
            self._conns.discard(conn)
        return ws

    async def _on_client(self, conn: Conn, msg: Any) -> None:
        before = set(conn.topics)
        for reply in self.protocol.on_message(conn, msg):
            if self._lose.get(conn.path, 0) > 0:
                self._lose[conn.path] -= 1
                continue
            await self._send(conn, "", reply)
        for topic in conn.topics - before:
            snap = self.protocol.snapshot(topic)
            if snap is not None:
                await self._send(conn, topic, snap)

    async def _send(self, conn: Conn, topic: str, msg: Any) -> None:
        if self._silent or conn.ws.closed or conn.stalled:
            return
        self.sent.append((topic, msg))
        await conn.ws.send_str(json.dumps(msg))

    def _on_book(self, kind: str, obj: Any) -> None:
        # called under the book's lock on the REST handler's thread: build the messages now
        # (the order may change later), send them on the emulator's loop
        for topic, msg in self.protocol.events(kind, obj):
            self._loop.call_soon_threadsafe(self._broadcast, topic, json.dumps(msg), msg)

    def _broadcast(self, topic: str, text: str, msg: Any, record: bool = True) -> None:
        if self._silent:
            return
        targets = [c for c in self._conns
                   if topic in c.topics and not c.ws.closed and not c.stalled]
        if targets and record:
            self.sent.append((topic, msg))
        for conn in targets:
            # a client killed (kill -9 in the chaos runs) leaves its socket closing: the send
            # fails and the connection's handler drops it; the failure is taken here, or asyncio
            # prints "Task exception was never retrieved" with a traceback for each
            self._loop.create_task(conn.ws.send_str(text)).add_done_callback(_gone)

    async def _push_tickers(self) -> None:
        while True:
            await asyncio.sleep(self.ticker_interval_s)
            with self.book.lock:
                pushes = self.protocol.ticker_push()
            for topic, msg in pushes:
                self._broadcast(topic, json.dumps(msg), msg, record=False)


def _gone(task: asyncio.Task) -> None:
    """A push to a connection that was closing: nothing to send it to any more. Any other
    failure of a push is raised again (the loop's handler prints it)."""
    error = None if task.cancelled() else task.exception()
    if error is not None and not isinstance(error, ConnectionError):
        raise error
