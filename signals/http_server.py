"""The HTTP endpoint: POST a JSON signal to `path` with the shared token.

`Authorization: Bearer <token>` or `X-Signal-Token: <token>`, compared in constant time. Answers
are JSON: 202 accepted, 200 duplicate, 4xx {"status": "rejected", "reason": ...}, 401 without a
valid token (not journaled: the sender is not known). One `ThreadingHTTPServer` on its own
thread, a thread per request; `stop()` returns within its bound.

A slow or greedy client cannot take the process's file descriptors nor lock senders out: at
most `max_connections` are handled at once and `max_connections_per_ip` from one address; the
request line and headers must arrive within `head_timeout_s`, the whole request within
`request_timeout_s` (a byte-by-byte trickle is cut off at that deadline, not kept alive by it).
Over a cap, the oldest connection still waiting for its head after `evict_idle_after_s` makes
room (answered 503); when there is none the new connection is answered a one-line JSON 503.
Refusals are logged at most once a second. http.server's own errors (400, 414, 431, 501) are
answered in the same one-line JSON as every other error.
"""

from __future__ import annotations

import hmac
import io
import json
import re
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from dashboard.auth import http_url
from notifications.secret import one_line
from signals.http_listener import SignalServer, SignalServer6, evict_idle
from signals.limits import ConnectionCaps
from signals.model import Outcome, Rejected
from signals.parsing import decode
from signals.reject_throttle import RejectionThrottle
from signals.router import SignalRouter

_QUERY = re.compile(r"\?[^\s\"]*")
"""A request line's query string (up to the space before the protocol, or a closing quote)."""


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
        head_timeout_s: float = 2.0,
        max_connections_per_ip: int | None = None,
        evict_idle_after_s: float = 0.5,
    ) -> None:
        if not token:
            raise ValueError("the signal endpoint needs a non-empty token")
        per_ip = max(1, max_connections // 2) if max_connections_per_ip is None else (
            max_connections_per_ip)
        if max_connections < 1 or per_ip < 1 or min(request_timeout_s, head_timeout_s) <= 0:
            raise ValueError("connection caps must be >= 1 and timeouts > 0")
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
                "head_timeout": min(head_timeout_s, request_timeout_s),
            },
        )
        # "::1" was a gaierror at start
        server_class = SignalServer6 if ":" in host else SignalServer
        self._server = server_class((host, port), handler, bind_and_activate=True)
        self._server.owner = self
        self._server.conns = ConnectionCaps(max_connections, per_ip, evict_idle_after_s,
                                            evict=evict_idle)
        self.max_connections = max_connections
        self._thread = threading.Thread(target=self._serve, name="signal-http", daemon=True)
        self._started = False
        self._busy = threading.Condition()
        self._in_flight = 0
        self._closed = False
        """Set by stop(): a body still arriving then is answered 503, not routed (found by
        review: it was journaled and delivered after stop() returned, once the bot had closed
        its repository and stopped its actors)."""
        self._unauthorized = RejectionThrottle(1.0)
        """Requests without a valid token are logged at most once a second, with a count."""
        self._refused = RejectionThrottle(1.0)
        """Connections over the cap and failed requests: at most one line a second."""

    def log_unauthorized(self, client: str) -> None:
        record, held = self._unauthorized.admit("missing or bad token", time.monotonic())
        self._log_held(held, None)
        if record:
            self.log.warning("signal endpoint: request from {} without a valid token", client)

    def log_refused(self, reason: str, message: str, *args: Any) -> None:
        record, held = self._refused.admit(reason, time.monotonic())
        self._log_held(None, held)
        if record:
            self.log.warning(message, *args)

    def log_held(self, now: float | None = None) -> None:
        """The counts held back, logged (from the serving loop once their interval is over,
        and at stop): found by review, a burst of wrong tokens showed as one line and its
        count was never logged unless another such request came."""
        self._log_held(self._unauthorized.flush(now), self._refused.flush(now))

    def _log_held(self, unauthorized: Any, refused: Any) -> None:
        if unauthorized is not None:
            self.log.warning("signal endpoint: {} more requests without a valid token",
                             unauthorized.count)
        if refused is not None:
            self.log.warning("signal endpoint: {} more connections refused or failed ({})",
                             refused.count, _reasons(refused.reasons))

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        return http_url(*self.address, self.path)

    def start(self) -> None:
        self._started = True
        self._thread.start()
        self.log.info("signal endpoint listening on {}", self.url)

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop accepting, then wait for signals being handled (so none is journaled after the
        repository closes). True when all of it ended within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self._busy:
            self._closed = True
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
        self.log_held()
        return idle and not self._thread.is_alive()

    def _handle(self, body: bytes | dict[str, Any]) -> Any:
        with self._busy:
            if self._closed:
                self.log_refused("stopping", "signal endpoint: a request completed while the "
                                 "bot stops: answered 503, not routed")
                return Outcome(status="rejected", http_status=503,
                               reason="the bot is stopping: not received; send it again once "
                                      "it runs")
            self._in_flight += 1
        try:
            if isinstance(body, dict):  # decoded already (its token field taken out)
                return self.router.handle(body, "http")
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


class _DeadlineReader(io.RawIOBase):
    """The connection's reads, all before one deadline (a socket timeout bounds one read only,
    so a client sending a byte every few seconds would hold it forever)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock, self.deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request did not arrive in time")
        self._sock.settimeout(left)
        return self._sock.recv_into(buffer)


class _Handler(BaseHTTPRequestHandler):
    owner: SignalHttpServer
    token: bytes
    max_body: int
    head_timeout: float
    server: SignalServer
    server_version = "actorbot-signals"

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the socket stays open: it is closed by the server after finish()
        self._opened = time.monotonic()
        self._reader = _DeadlineReader(self.connection, self._opened + self.head_timeout)
        self.rfile = io.BufferedReader(self._reader)

    def parse_request(self) -> bool:
        """The request line and headers arrived within the head deadline: the body may take
        until the request's deadline. False (nothing more sent) when the connection was closed
        meanwhile to make room for another."""
        if not super().parse_request():
            return False
        if not self.server.conns.head_done(self.connection):
            self.close_connection = True
            return False
        self._reader.deadline = self._opened + float(self.timeout or 10.0)
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, line too long, too many headers,
        unsupported method) in the one-line JSON every other answer uses, not its HTML page."""
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        if getattr(self, "request_version", "") in ("", "HTTP/0.9"):
            self.request_version = "HTTP/1.0"  # a status line and headers, whatever was sent
        self.close_connection = True
        reason = (message or phrase)[:200]
        self._send(code, {"status": "rejected", "reason": reason}, {"Connection": "close"})

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != self.owner.path:
            self._send(HTTPStatus.NOT_FOUND, {"status": "rejected", "reason": "not found"})
            return
        header_ok = self._authorized()
        body = self._body()
        if body is None:
            return
        signal, body_ok = self._body_token(body)
        if not (header_ok or body_ok):
            self.owner.log_unauthorized(self.client_address[0])
            self._send(
                HTTPStatus.UNAUTHORIZED,
                {"status": "unauthorized", "reason": "missing or bad token"},
                {"WWW-Authenticate": "Bearer"},
            )
            return
        outcome = self.owner._handle(body if signal is None else signal)
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
        # an empty X-Signal-Token (a client template's blank) does not hide a valid Bearer
        if not given and auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        if not given:
            return False
        return hmac.compare_digest(given.encode("utf-8"), self.token)

    def _body_token(self, body: bytes) -> tuple[Any, bool]:
        """The signal without its `"token"` field, and whether that field holds the token.
        TradingView's alert webhooks (named in config.toml) send no header of the user's
        choosing, only the alert's message: the token goes in the JSON there (found by review:
        such a sender could not be let in at all). The field is taken out before anything
        reads, journals or echoes the signal. (None, False): not a JSON object with a token
        field (the signal goes on as it came, its errors judged as before)."""
        try:
            signal = decode(body)
        except Rejected:
            return None, False
        if not isinstance(signal, dict) or "token" not in signal:
            return None, False
        given = signal.pop("token")
        ok = isinstance(given, str) and bool(given) and hmac.compare_digest(
            given.encode("utf-8"), self.token)
        return signal, ok

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.owner.log_refused("no Content-Length", "signal endpoint: request from {} "
                                   "refused: no Content-Length", self.client_address[0])
            self._send(
                HTTPStatus.LENGTH_REQUIRED,
                {"status": "rejected", "reason": "Content-Length required"},
            )
            return None
        if length < 0 or length > self.max_body:
            self.owner.log_refused("body too large", "signal endpoint: request from {} refused: "
                                   "a body of {} bytes (over {} bytes)", self.client_address[0],
                                   length, self.max_body)
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
        """http.server's request log, control characters escaped (the request line is the
        client's, also one without a token: a terminal escape must not reach the log raw), its
        query left out (found by review: a token someone put in the URL, `?token=...`, reached
        bot.log at DEBUG)."""
        text = _QUERY.sub("?(query not logged)", format % args)
        self.owner.log.debug("signal endpoint: {}", one_line(text, 500))
