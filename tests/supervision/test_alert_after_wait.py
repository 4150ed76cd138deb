"""An alert raised after ``Alerts.wait`` (the bot is stopping: e.g. the final status write
failing after the accounts stopped) is delivered before ``alert`` returns, within wait's
bound: before, its hook ran on a daemon thread nobody waited for, and the process exit killed
it between its tries without a line (real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loguru import logger

from supervision.alerts import Alerts


class _Hook(BaseHTTPRequestHandler):
    answers: list[int]
    got: list[bytes]

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.got.append(self.rfile.read(int(self.headers["Content-Length"])))
        code = self.answers.pop(0) if self.answers else 200
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_an_alert_after_wait_is_delivered_before_alert_returns():
    got: list[bytes] = []
    handler = type("Hook", (_Hook,), {"answers": [503], "got": got})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    gate = threading.Event()  # the retry wait: set only once alert() returned
    alerts = Alerts(logger=logger, webhook=f"http://127.0.0.1:{server.server_address[1]}/hook",
                    timeout_s=5, retry_s=(0.0, 0.0), sleep=lambda s: gate.wait(1.0))
    try:
        alerts.wait(10)  # the accounts stopped
        alerts.alert(None, "status_write_failed", "status snapshot cannot be written")
        delivered = len(got)
        gate.set()
        assert delivered == 2, "the retry after the 503 had not been made when alert returned"
        assert b"status_write_failed" in got[-1]
    finally:
        gate.set()
        alerts.wait(10)
        server.shutdown()
        server.server_close()
