"""A bot-wide alert (runtime/runner.py `_alert_all`: every account's Alerts hears it with one
``bot_alert`` number) runs the command/webhook hooks once, under no account, as Telegram sends
it once. Found by review: with several accounts sharing the hooks, a failing status write was
one webhook POST (and one alert_command run) per account, each naming an account it was not
about. Real HTTP webhook on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loguru import logger

from supervision.alerts import Alerts


def test_a_bot_wide_alert_is_posted_once_and_an_accounts_alert_per_account():
    got: list[dict] = []
    lock = threading.Lock()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                got.append(body)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    accounts = [Alerts(logger=logger, webhook=url, account=name)
                for name in ("alpha", "beta", "gamma")]
    once = f"test-{uuid.uuid4().hex}"  # the runner's numbers are per process
    try:
        for alerts in accounts:  # what runner._alert_all does
            alerts.alert(None, "status_write_failed", "status.json cannot be written",
                         bot_alert=once)
        accounts[1].alert("ETH/USDT:USDT", "escalation", "close failed 5 times")
        for alerts in accounts:
            alerts.wait(10)
    finally:
        server.shutdown()
        server.server_close()
    bot_wide = [b for b in got if b["kind"] == "status_write_failed"]
    assert len(bot_wide) == 1, got
    assert "account" not in bot_wide[0], bot_wide
    assert [b.get("account") for b in got if b["kind"] == "escalation"] == ["beta"]
    # each account still logs and keeps it (its own log and status)
    assert all(a.sent[0]["kind"] == "status_write_failed" for a in accounts)
