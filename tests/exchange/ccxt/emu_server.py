"""A tiny threaded HTTP exchange emulator on 127.0.0.1 (port 0) for offline ccxt tests.

It records every request (method, path, merged query+body params, headers), refuses what the
venue would refuse for its signing (the venue's `authenticate`, emu_auth.py), lets a venue
module (`emu_bybit`, `emu_binance`) answer, and supports scripted faults per path:
  fail_next(path, n, status=..., body=...)   answer the next n requests with that error (a str
                                              body as text, anything else as JSON)
  fail_next(path, n, hold="after")            process the request (the order lands), then hold
                                              the connection until the client times out
  fail_next(path, n, hold="before")           hold without processing (the order never lands)
  fail_next(path, n, hold="drop")             process the request, then close the connection
                                              without an answer (the client: NetworkError)
  fail_next(path, n, status=..., body=..., land=True)
                                              process the request (the order lands), then
                                              answer the error; body None and status 200: the
                                              venue's own answer (with the fault's headers)
Held connections are released (and closed) by `stop()`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from exchange.ccxt.factory import point_api_at


class Venue(Protocol):
    def route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any]: ...


class Limiter(Protocol):
    """The venue's rate limits (emu_limits.py): a refusal (status, body, headers) or None, and
    the usage headers every answer carries."""

    def admit(self, method: str, path: str, params: dict[str, Any]
              ) -> tuple[tuple[int, Any, dict[str, str]] | None, dict[str, str]]: ...


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)
    """When the request arrived (monotonic clock)."""


@dataclass
class Fault:
    status: int = 200
    body: Any = None
    hold: str | None = None  # None | "before" | "after" | "drop"
    headers: dict[str, str] = field(default_factory=dict)
    land: bool = False  # the venue processes the request before the fault answers


@dataclass
class _State:
    venue: Venue
    requests: list[Recorded] = field(default_factory=list)
    faults: dict[str, deque[Fault]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)
    limiter: Limiter | None = None


def _parse_body(raw: bytes) -> dict[str, Any]:
    text = raw.decode("utf-8") if raw else ""
    if not text:
        return {}
    if text.lstrip().startswith("{"):
        return json.loads(text)
    return dict(parse_qsl(text, keep_blank_values=True))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        params.update(_parse_body(raw))
        state = self.server.state
        rec = Recorded(method, parts.path, params, dict(self.headers.items()))
        with state.lock:
            state.requests.append(rec)
            queue = state.faults.get(parts.path)
            fault = queue.popleft() if queue else None
        if fault is not None and fault.hold:
            if fault.hold in ("after", "drop"):
                state.venue.route(method, parts.path, params)
            if fault.hold != "drop":
                state.release.wait(30)
            self.close_connection = True
            return
        landed = state.venue.route(method, parts.path, params) if fault and fault.land else None
        refusal, extra = None, {}
        if state.limiter is not None and fault is None:
            refusal, extra = state.limiter.admit(method, parts.path, params)
        # signed as the venue checks it (emu_auth.py); the message object: case-insensitive
        authenticate = getattr(state.venue, "authenticate", None)
        denied = None if authenticate is None else authenticate(
            method, parts.path, parts.query, raw.decode("utf-8"), self.headers)
        if fault is not None:
            status, body, extra = fault.status, fault.body, fault.headers
            if landed is not None and body is None and status == 200:
                status, body = landed
        elif refusal is not None:
            status, body, extra = refusal
        elif denied is not None:
            status, body = denied
        else:
            status, body = state.venue.route(method, parts.path, params)
        # a str body goes out as text (a CDN's or a ban's page), anything else as JSON
        text = isinstance(body, str)
        payload = (body if text else json.dumps(body)).encode("utf-8")
        self.send_response(status)
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "text/plain" if text else "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # broken pipes from clients that timed out are expected


class EmulatorServer:
    def __init__(self, venue: Venue, limiter: Limiter | None = None) -> None:
        self.venue = venue
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = _State(venue, limiter=limiter)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> EmulatorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.state.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def fail_next(self, path: str, n: int = 1, *, status: int = 200, body: Any = None,
                  hold: str | None = None, headers: dict[str, str] | None = None,
                  land: bool = False) -> None:
        with self._server.state.lock:
            queue = self._server.state.faults.setdefault(path, deque())
            queue.extend(Fault(status, body, hold, dict(headers or {}), land) for _ in range(n))

    def clear_faults(self, path: str) -> None:
        """Drop the faults still scripted for `path` (the venue answers normally again)."""
        with self._server.state.lock:
            self._server.state.faults.pop(path, None)

    @property
    def requests(self) -> list[Recorded]:
        with self._server.state.lock:
            return list(self._server.state.requests)

    def hits(self, path: str, method: str | None = None) -> list[Recorded]:
        return [r for r in self.requests
                if r.path == path and (method is None or r.method == method)]

    def clear(self) -> None:
        with self._server.state.lock:
            self._server.state.requests.clear()


def point_at(exchange: Any, base_url: str) -> Any:
    """Rewrite every URL in `exchange.urls['api']` to the emulator, keeping the path (the same
    function the bot uses for `exchange.api_url`)."""
    return point_api_at(exchange, base_url)
