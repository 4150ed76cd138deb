"""The signal endpoint's listening server: the connection caps and what happens over them.

A connection over `max_connections` (or over the per-address cap) makes room by evicting the
oldest one still waiting for its head, or is answered a one-line JSON 503 and closed once the
client has read it; a request that fails is logged as one line, never a traceback. Split out
of signals/http_server.py, which builds it and owns its logging.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections import deque
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from signals.limits import ConnectionCaps

if TYPE_CHECKING:
    from signals.http_server import SignalHttpServer


class SignalServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    """listen() backlog: a wave of signals arrives at once (the default 5 drops connections)."""
    owner: SignalHttpServer
    conns: ConnectionCaps

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.closing: deque[tuple[socket.socket, float]] = deque()
        """Refused connections, answered and half-closed, until the client hangs up (or 1 s)."""
        self.next_log_held = 0.0
        """When the serving loop next logs the counts held back (once a second)."""
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread for the connection if the caps allow it (evicting an idle one if need be);
        else a one-line JSON 503."""
        ip = str(client_address[0]) if client_address else "?"
        refused, evicted = self.conns.admit(request, ip, time.monotonic())
        for victim_ip, idle_s in evicted:
            self.owner.log_refused(
                "idle connection closed", "signal endpoint: closed a connection from {} with no "
                "request after {:.1f}s to make room", victim_ip, idle_s)
        if refused is not None:
            self.owner.log_refused("connection cap", "signal endpoint: connection from {} "
                                   "refused: {}", ip, refused)
            _answer_busy(request, refused)
            self._linger(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.conns.leave(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.conns.leave(request)

    def _linger(self, sock: socket.socket) -> None:
        """Close once the client has read the answer: closing with its request unread would
        reset the connection and lose the answer."""
        if len(self.closing) >= 256:
            self.closing.popleft()[0].close()
        self.closing.append((sock, time.monotonic() + 1.0))

    def service_actions(self) -> None:
        now, keep = time.monotonic(), deque[tuple[socket.socket, float]]()
        if now >= self.next_log_held:
            self.next_log_held = now + 0.25
            self.owner.log_held(now)
        while self.closing:
            sock, until = self.closing.popleft()
            if _drained(sock) or now >= until:
                sock.close()
            else:
                keep.append((sock, until))
        self.closing = keep

    def server_close(self) -> None:
        super().server_close()
        while self.closing:
            self.closing.popleft()[0].close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, never a traceback on stderr (a client that hung up mid-answer)."""
        exc = sys.exc_info()[1]
        self.owner.log_refused(
            "request failed", "signal endpoint: request from {} failed: {}",
            client_address[0] if client_address else "?", type(exc).__name__)


def _answer_busy(sock: socket.socket, reason: str) -> None:
    """A one-line JSON 503, sent without waiting (the send buffer of a new connection is empty)."""
    body = json.dumps({"status": "rejected", "reason": reason}).encode("utf-8")
    head = (f"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n")
    try:
        sock.send(head.encode("ascii") + body, socket.MSG_DONTWAIT)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def evict_idle(sock: socket.socket) -> None:
    """Answer an idle connection 503 and wake its thread from its read (it sees the end of
    the stream, sends nothing more and ends)."""
    _answer_busy(sock, "closed: no request in time, room made for another")
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _drained(sock: socket.socket) -> bool:
    """Read what the client sent without waiting; True once it hung up (or failed)."""
    try:
        while sock.recv(65536, socket.MSG_DONTWAIT):
            pass
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True


class SignalServer6(SignalServer):
    address_family = socket.AF_INET6
