"""The alert webhook honours a 429's (or 503's) ``Retry-After``: Slack and Discord answer a
burst of alerts with 429 and the wait they need; the fixed 2 s / 8 s retries came inside it,
were refused again and the alert was given up (found by review). A 429 without one, a 408 and
a 401 (a key the user can fix) are retried after the own backoff. Real HTTP server on
127.0.0.1; the retry wait is recorded, not slept."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from loguru import logger

from supervision.alerts import Alerts


def serve(first: tuple[int, str]) -> tuple[ThreadingHTTPServer, list[bytes]]:
    got: list[bytes] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            got.append(self.rfile.read(int(self.headers["Content-Length"])))
            code, retry_after = first if len(got) == 1 else (200, "")
            self.send_response(code)
            if retry_after:
                self.send_header("Retry-After", retry_after)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, got


@pytest.mark.parametrize(("first", "wait"), [
    ((429, "5"), 5.0),
    ((503, "7.5"), 7.5),
    ((429, "100000"), 600.0),  # bounded: the longest backoff
    ((429, ""), 0.25),
    ((408, ""), 0.25),
    ((401, ""), 0.25),
    ((429, "soon"), 0.25),  # unreadable: the own wait
    ((500, "30"), 0.25),  # a 500's Retry-After is no promise
])
def test_the_retry_waits_out_the_servers_retry_after(lines, first, wait):
    server, got = serve(first)
    waits: list[float] = []
    alerts = Alerts(logger=logger, webhook=f"http://127.0.0.1:{server.server_address[1]}/hook",
                    timeout_s=5, retry_s=(0.25, 600.0), sleep=waits.append)
    try:
        alerts.alert("BTC/USDT:USDT", "escalation", "close failed 5 times")
        alerts.wait(10)
    finally:
        server.shutdown()
        server.server_close()
    assert waits == [wait] and len(got) == 2
    assert len([line for line in lines if "failing" in line]) == 1
    assert len([line for line in lines if "delivers again" in line]) == 1
