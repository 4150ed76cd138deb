"""The WebSocket client: connects to a signal feed, hands every text/binary message (one JSON
signal each) to the router, and reconnects with exponential backoff and jitter when the
connection fails or the server drops it. One asyncio loop on its own thread; `stop()` cancels
it and returns within its bound.

Each message is handled (the router journals it: blocking database I/O) on one worker thread of
the client's own, one at a time and in order, while the loop keeps the connection's heartbeat
running; a message being handled when the client stops is finished before its thread ends. The
loop keeps reading meanwhile and notes when each message arrived, which the router judges its
age by (signals.max_age_s): found by review, the next message was read only once the last was
handled, so one queued behind a slow one (a database stall) counted its age from its turn and
was traded however late.

A provider key may sit in the URL (query string or userinfo): log lines name only
scheme://host:port/path, and exception texts (aiohttp's handshake error repeats the URL) are
scrubbed of the query, the userinfo and the token.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import aiohttp

from signals.backoff import Backoff

Handle = Callable[[str | bytes, str, float], Any]
Sleep = Callable[[float], Awaitable[None]]

MAX_WAITING = 1000
"""Messages read and waiting for their turn at most; past it reading pauses (the connection's
own flow control holds the feed), so a flood during a stall cannot fill the memory."""
FRAME_LIMIT_BYTES = 4 << 20
"""What the connection itself accepts (a larger message closes it with 1009, logged). A message
over `max_message_bytes` but within this is ignored with one line and the connection goes on:
closing it lost the signals the feed had already sent behind the big one."""


class SignalWebSocketClient:
    def __init__(
        self,
        *,
        url: str,
        handle: Handle,
        logger: Any,
        token: str | None = None,
        backoff: Backoff | None = None,
        sleep: Sleep | None = None,
        connect_timeout_s: float = 10.0,
        heartbeat_s: float = 20.0,
        stable_after_s: float = 30.0,
        max_message_bytes: int = 65536,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock`: the router's, to note when each message arrived."""
        self.url = url
        self.safe_url = safe_url(url)
        """The URL as logged: scheme://host:port/path, no query, no userinfo."""
        self._secrets = _secrets_of(url, token)
        self._handle = handle
        self.log = logger
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.backoff = backoff or Backoff()
        self._sleep = sleep or asyncio.sleep
        self.connect_timeout_s = connect_timeout_s
        self.heartbeat_s = heartbeat_s
        self.stable_after_s = stable_after_s
        self.max_message_bytes = max_message_bytes
        self.monotonic = monotonic
        self.clock = clock
        self.connected = threading.Event()
        self.connections = 0
        self.messages = 0
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, name="signal-ws", daemon=True)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="signal-ws-handle")
        """Where messages are handled: one thread, so in the order they came, off the loop."""

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Cancel the connection loop; True when its thread ended within `timeout_s`."""
        self._stopping.set()
        if not self._thread.is_alive():
            return True
        self._ready.wait(timeout_s)
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop already closed
                pass
        self._thread.join(timeout=timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(self._main())
            self._ready.set()
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 - logged; trading goes on without the feed
            self.log.error("signal websocket client stopped: {}", self._scrub(exc))
        finally:
            self._ready.set()
            self._worker.shutdown(wait=True)  # a message being handled is finished
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self.connected.clear()

    # -- connection loop ------------------------------------------------------------------------
    async def _main(self) -> None:
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self.connect_timeout_s, sock_connect=self.connect_timeout_s
        )
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not self._stopping.is_set():
                reason, up_s = await self._connect_once(session)
                if self._stopping.is_set():
                    break
                if up_s is not None and up_s >= self.stable_after_s:
                    self.backoff.reset()
                delay = self.backoff.next_delay()
                self.log.warning(
                    "signal websocket {}: {}; reconnecting in {:.2f}s", self.safe_url, reason,
                    delay,
                )
                await self._sleep(delay)

    async def _connect_once(self, session: aiohttp.ClientSession) -> tuple[str, float | None]:
        """One connection, until it ends; returns why it ended and how long it was up."""
        started: float | None = None
        try:
            async with await self._handshake(session) as ws:
                started = self.monotonic()
                self.connections += 1
                self.connected.set()
                self.log.info(
                    "signal websocket connected to {} (connection #{})", self.safe_url,
                    self.connections,
                )
                await self._receive(ws)
                reason = f"connection closed (code {ws.close_code})"
        except Exception as exc:  # noqa: BLE001 - any failure is a reconnect, never the end
            reason = f"{type(exc).__name__}: {self._scrub(exc)}"
        finally:
            self.connected.clear()
        return reason, None if started is None else self.monotonic() - started

    async def _handshake(self, session: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
        """Connect and upgrade, all within `connect_timeout_s`: a server that accepts the TCP
        connection but never answers the upgrade is a failed attempt (logged, retried), not a
        client waiting forever (heartbeats only start after the handshake)."""
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                return await session.ws_connect(
                    self.url,
                    headers=self._headers,
                    heartbeat=self.heartbeat_s,
                    max_msg_size=max(self.max_message_bytes, FRAME_LIMIT_BYTES),
                )
        except TimeoutError:
            raise TimeoutError(
                f"no handshake answer within {self.connect_timeout_s:g}s"
            ) from None

    async def _receive(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Read the messages, each noted with when it arrived, while `_handle_arrived` handles
        them in order; once the connection ends, what arrived is still handled."""
        arrived: asyncio.Queue[tuple[float, str | bytes] | None] = asyncio.Queue(MAX_WAITING)
        handling = asyncio.ensure_future(self._handle_arrived(arrived))
        try:
            try:
                await self._read(ws, arrived)
            except asyncio.CancelledError:
                raise  # a stop: the message being handled is finished (shielded), no other
            except Exception:
                await arrived.put(None)  # a failed connection: what arrived is still handled
                await handling
                raise
            await arrived.put(None)
            await handling
        finally:
            handling.cancel()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse,
                    arrived: asyncio.Queue[tuple[float, str | bytes] | None]) -> None:
        async for msg in ws:
            if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                data = msg.data
                size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
                if size > self.max_message_bytes:
                    self.log.warning("signal websocket {}: a message of {} bytes ignored: over "
                                     "{} bytes (one JSON signal per message)", self.safe_url,
                                     size, self.max_message_bytes)
                    continue
                await arrived.put((self.clock(), data))
            elif msg.type is aiohttp.WSMsgType.ERROR:
                # aiohttp hands a protocol error in the message (ws.exception() is None)
                error = ws.exception() or msg.data
                self.log.warning("signal websocket error: {}", self._scrub(error))
                return

    async def _handle_arrived(
            self, arrived: asyncio.Queue[tuple[float, str | bytes] | None]) -> None:
        loop = asyncio.get_running_loop()
        while (item := await arrived.get()) is not None:
            # shielded: a stop while it is handled cancels the wait, never the handling
            await asyncio.shield(loop.run_in_executor(self._worker, self._dispatch, *item))
            self.messages += 1

    def _dispatch(self, received: float, data: str | bytes) -> None:
        try:
            outcome = self._handle(data, "websocket", received)
            self.log.debug("websocket signal: {}", getattr(outcome, "status", outcome))
        except Exception as exc:  # noqa: BLE001 - the router answers everything; belt and braces
            self.log.opt(exception=exc).error("websocket signal handling failed: {}", exc)

    def _scrub(self, exc: object) -> str:
        return scrub_url_text(str(exc), self._secrets)[:500]


def safe_url(url: str) -> str:
    """scheme://host:port/path of ``url`` (what may be logged)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "<unparsable websocket url>"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _secrets_of(url: str, token: str | None) -> list[str]:
    """Every piece of ``url`` that may hold a secret, raw and decoded, longest first."""
    found = [token or ""]
    try:
        parts = urlsplit(url)
        found += [parts.query, unquote(parts.query), parts.fragment, parts.username or "",
                  parts.password or "", unquote(parts.password or "")]
        found += [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
    except ValueError:
        found.append(url)
    return sorted({f for f in found if len(f) >= 3}, key=len, reverse=True)


_QUERY = re.compile(r"(\w+://[^\s'\"?#]*)[?#][^\s'\"]*")
_USERINFO = re.compile(r"(\w+://)[^\s'\"/@]*@")


def scrub_url_text(text: str, secrets: list[str]) -> str:
    """``text`` without the secrets, and without any URL's query string or userinfo."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return _USERINFO.sub(r"\1***@", _QUERY.sub(r"\1?***", text))
