"""The HTTP endpoint: POST a JSON signal to `path` with the shared token.

`Authorization: Bearer <token>` or `X-Signal-Token: <token>`, compared in constant time. Answers
are JSON: 202 accepted, 200 duplicate, 4xx {"status": "rejected", "reason": ...}, 401 without a
valid token (not journaled: the sender is not known). One `ThreadingHTTPServer` on its own
thread, a thread per request; `stop()` returns within its bound.

A slow or greedy client cannot take the process's file descriptors: at most `max_connections`
are handled at once (one over the cap is closed at once, logged at most once a second), and a
request's head and body must arrive within `request_timeout_s` in total (a byte-by-byte trickle
is cut off at that deadline, not kept alive by it).
"""

from __future__ import annotations

import hmac
import io
import json
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from signals.reject_throttle import RejectionThrottle
from signals.router import SignalRouter


class SignalHttpServer:
    def __init__(
        self,
        *,
        router: SignalRouter,
        token: str,
        logger: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/signals",
        max_body_bytes: int = 65536,
        request_timeout_s: float = 10.0,
        max_connections: int = 128,
    ) -> None:
        if not token:
            raise ValueError("the signal endpoint needs a non-empty token")
        if max_connections < 1 or request_timeout_s <= 0:
            raise ValueError("max_connections must be >= 1 and request_timeout_s > 0")
        self.router = router
        self.log = logger
        self.path = path
        handler = type(
            "SignalRequestHandler",
            (_Handler,),
            {
                "owner": self,
                "token": token.encode("utf-8"),
                "max_body": max_body_bytes,
                "timeout": request_timeout_s,
            },
        )
        self._server = _Server((host, port), handler, bind_and_activate=True)
        self._server.owner = self
        self._server.slots = threading.BoundedSemaphore(max_connections)
        self.max_connections = max_connections
        self._thread = threading.Thread(target=self._serve, name="signal-http", daemon=True)
        self._started = False
        self._busy = threading.Condition()
        self._in_flight = 0
        self._unauthorized = RejectionThrottle(1.0)
        """Requests without a valid token are logged at most once a second, with a count."""
        self._refused = RejectionThrottle(1.0)
        """Connections over the cap and failed requests: at most one line a second."""

    def log_unauthorized(self, client: str) -> None:
        record, held = self._unauthorized.admit("missing or bad token", time.monotonic())
        if held is not None:
            self.log.warning("signal endpoint: {} more requests without a valid token", held.count)
        if record:
            self.log.warning("signal endpoint: request from {} without a valid token", client)

    def log_refused(self, reason: str, message: str, *args: Any) -> None:
        record, held = self._refused.admit(reason, time.monotonic())
        if held is not None:
            self.log.warning("signal endpoint: {} more connections refused or failed ({})",
                             held.count, _reasons(held.reasons))
        if record:
            self.log.warning(message, *args)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}{self.path}"

    def start(self) -> None:
        self._started = True
        self._thread.start()
        self.log.info("signal endpoint listening on {}", self.url)

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop accepting, then wait for signals being handled (so none is journaled after the
        repository closes). True when all of it ended within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        if self._started:
            self._server.shutdown()
        self._server.server_close()
        if self._started:
            self._thread.join(timeout=max(deadline - time.monotonic(), 0.0))
        with self._busy:
            self._busy.wait_for(
                lambda: self._in_flight == 0, timeout=max(deadline - time.monotonic(), 0.0)
            )
            idle = self._in_flight == 0
        held = self._refused.flush()
        if held is not None:
            self.log.warning("signal endpoint: {} more connections refused or failed ({})",
                             held.count, _reasons(held.reasons))
        return idle and not self._thread.is_alive()

    def _handle(self, body: bytes) -> Any:
        with self._busy:
            self._in_flight += 1
        try:
            return self.router.handle_raw(body, "http")
        finally:
            with self._busy:
                self._in_flight -= 1
                self._busy.notify_all()

    def _serve(self) -> None:
        try:
            self._server.serve_forever(poll_interval=0.05)
        except Exception as exc:  # noqa: BLE001 - logged; the bot keeps trading without it
            self.log.opt(exception=exc).error("signal endpoint stopped: {}", exc)


def _reasons(reasons: dict[str, int]) -> str:
    return ", ".join(f"{why} x{n}" for why, n in reasons.items())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    """listen() backlog: a wave of signals arrives at once (the default 5 drops connections)."""
    owner: SignalHttpServer
    slots: threading.BoundedSemaphore

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread for the connection if one of ``max_connections`` slots is free; else the
        connection is closed at once."""
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            self.owner.log_refused(
                "connection cap", "signal endpoint: {} connections open, refusing more",
                self.owner.max_connections)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, never a traceback on stderr (a client that hung up mid-answer)."""
        exc = sys.exc_info()[1]
        self.owner.log_refused(
            "request failed", "signal endpoint: request from {} failed: {}",
            client_address[0] if client_address else "?", type(exc).__name__)


class _DeadlineReader(io.RawIOBase):
    """The connection's reads, all before one deadline (a socket timeout bounds one read only,
    so a client sending a byte every few seconds would hold it forever)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock, self._deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request did not arrive in time")
        self._sock.settimeout(left)
        return self._sock.recv_into(buffer)


class _Handler(BaseHTTPRequestHandler):
    owner: SignalHttpServer
    token: bytes
    max_body: int
    server_version = "actorbot-signals"

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the socket stays open: it is closed by the server after finish()
        deadline = time.monotonic() + float(self.timeout or 10.0)
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, deadline))

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != self.owner.path:
            self._send(HTTPStatus.NOT_FOUND, {"status": "rejected", "reason": "not found"})
            return
        if not self._authorized():
            self.owner.log_unauthorized(self.client_address[0])
            self._send(
                HTTPStatus.UNAUTHORIZED,
                {"status": "unauthorized", "reason": "missing or bad token"},
                {"WWW-Authenticate": "Bearer"},
            )
            return
        body = self._body()
        if body is None:
            return
        outcome = self.owner._handle(body)
        self._send(outcome.http_status, outcome.body())

    def do_GET(self) -> None:
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED,
            {"status": "rejected", "reason": "POST a JSON signal"},
            {"Allow": "POST"},
        )

    def _authorized(self) -> bool:
        given = self.headers.get("X-Signal-Token")
        auth = self.headers.get("Authorization", "")
        if given is None and auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        if not given:
            return False
        return hmac.compare_digest(given.encode("utf-8"), self.token)

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(
                HTTPStatus.LENGTH_REQUIRED,
                {"status": "rejected", "reason": "Content-Length required"},
            )
            return None
        if length < 0 or length > self.max_body:
            self._send(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {"status": "rejected", "reason": f"body must be 0..{self.max_body} bytes"},
            )
            return None
        return self.rfile.read(length)

    def _send(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode("utf-8")
        self.connection.settimeout(self.timeout)  # the answer: one write with its own timeout
        self.send_response(int(status))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        self.owner.log.debug("signal endpoint: {}", format % args)
