"""The alert webhook against broken and hung servers (real sockets on 127.0.0.1): any failure is
one WARNING line without the URL, finished hook threads are forgotten, and ``wait`` keeps one
deadline however many hooks hang."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from loguru import logger

from supervision.alerts import HOOK_THREADS, Alerts
from tests.support.waiting import wait_until

KEY = "hook-key-3f2e1d"


def _hook_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("alert-hook")]


class RawServer:
    """Accepts connections; ``answer`` bytes are sent back (None: hold the connection)."""

    def __init__(self, answer: bytes | None) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.accepted = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.recv(65536)
            if self.answer is None:
                self.held.append(conn)
                continue
            conn.sendall(self.answer)
            conn.close()

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.sock.close()
        for conn in self.held:
            conn.close()
        self.thread.join(5)


@pytest.mark.parametrize("answer", [b"garbage that is no status line\r\n\r\n",
                                    b"HTTP/1.1 999999999999999999999 Odd\r\n\r\n"])
def test_a_broken_webhook_reply_is_one_line_without_the_url(lines, answer):
    server = RawServer(answer)
    url = f"http://127.0.0.1:{server.port}/hook/{KEY}?token={KEY}"
    alerts = Alerts(logger=logger, webhook=url, timeout_s=5)
    try:
        alerts.alert("BTC/USDT:USDT", "escalation", "stop missing")
        wait_until(lambda: any("failing" in line for line in lines), timeout=10,
                   message="the failure logged")
        alerts.wait(0.2)  # the bot stops while the retry waits
    finally:
        server.close()
    failed = [line for line in lines if "failing" in line]
    assert len(failed) == 1 and "\n" not in failed[0].rstrip("\n")
    assert not any(KEY in line for line in lines)


def test_finished_hooks_are_forgotten_and_wait_keeps_one_deadline(lines):
    quick = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    alerts = Alerts(logger=logger, webhook=f"http://127.0.0.1:{quick.port}/", timeout_s=5)
    before = len(_hook_threads())  # other tests' idle hook threads
    try:
        for i in range(20):
            alerts.alert(None, "escalation", f"alert {i}")
        alerts.wait(10)
        alerts.alert(None, "escalation", "one more")
        assert len(_hook_threads()) - before <= HOOK_THREADS  # not one per alert ever raised
        alerts.wait(10)
    finally:
        quick.close()
    hung = RawServer(None)  # accepts and never answers
    # 10 threads, so 10 hooks hang at once and a deadline per hook would take 10 x the
    # wait's timeout (the bound below: 10x slack); the wait stops their retries
    alerts = Alerts(logger=logger, webhook=f"http://127.0.0.1:{hung.port}/", timeout_s=30,
                    hook_threads=10)
    try:
        for i in range(10):
            alerts.alert(None, "escalation", f"hung {i}")
        wait_until(lambda: hung.accepted == 10, timeout=10, message="ten hooks in flight")
        started = time.monotonic()
        alerts.wait(timeout=0.5)
        assert time.monotonic() - started < 5.0  # one shared deadline, not 0.5 s per hook
    finally:
        hung.close()
    alerts.wait(10)  # each kept (the bot stopped): no hook outlives the test


class HoldingServer:
    """An HTTP server on 127.0.0.1 that holds every POST until ``release`` is set, and records
    each body in the order the requests came."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.bodies.append(body)
                outer.release.wait(30)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def messages(self) -> list[str]:
        with self.lock:
            return [json.loads(body)["message"] for body in self.bodies]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_burst_of_alerts_uses_a_small_pool_of_threads_and_loses_none(lines):
    """Found by review: every alert started a thread of its own for its hooks, so a burst (an
    exchange outage escalating hundreds of symbols) against a webhook that hangs was hundreds
    of threads, each holding a connection until its timeout. The hooks now run on at most
    HOOK_THREADS threads fed by one queue in the order the alerts were raised: the first ones
    raised are the ones in flight, the others wait, and every alert is delivered once."""
    server = HoldingServer()
    alerts = Alerts(logger=logger, webhook=server.url, timeout_s=30)
    before = len(_hook_threads())
    try:
        for i in range(40):
            alerts.alert(f"BURST{i}/USDT:USDT", "escalation", f"alert {i}")
        assert len(_hook_threads()) - before <= HOOK_THREADS
        wait_until(lambda: len(server.messages()) == HOOK_THREADS, timeout=10,
                   message="the first alerts in flight")
        assert sorted(server.messages()) == sorted(f"alert {i}" for i in range(HOOK_THREADS))
        server.release.set()
        wait_until(lambda: len(server.messages()) == 40, timeout=20,
                   message="every alert delivered")
        alerts.wait(10)
    finally:
        server.close()
    assert sorted(server.messages()) == sorted(f"alert {i}" for i in range(40))
    assert not [line for line in lines if "alert for BURST" in line]  # none failed or late
