"""An alert whose webhook had not taken it when the bot was killed reaches the webhook after
the restart.

Found by review: the alert hooks (`alert_command`, `alert_webhook`) were fed from an in-memory
queue. An alert raised while the webhook was slow or refusing (a 503 with Retry-After, a relay
restarting) died with a killed bot (kill -9, OOM, a crash): the kill switch or an escalation
never reached the person's Slack/Discord/pager, and nothing at the next start said so. Now each
alert is kept in the data dir's outbox until its hooks ran, and the next start runs what is
left. Found by review too: a 401 (a rotated webhook key) dropped the alert's row at once, so
the restart with the key fixed had nothing to deliver; now it is kept like an outage.

Real parts: `python bot.py run` subprocesses (the first killed with SIGKILL), the dashboard's
HTTP control, a real HTTP server on 127.0.0.1 as the webhook."""

from __future__ import annotations

import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.dashboard.running_bot import TOKEN, RunningBot
from tests.notifications.test_alert_survives_kill import kill_switch_done
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


class Webhook:
    """Records every POST; answers `status` (Retry-After: 60) while `refusing`, else 200."""

    def __init__(self, status: int = 503) -> None:
        self.bodies: list[dict] = []
        self.refusing = True
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.bodies.append({**body, "refused": hook.refusing})
                self.send_response(status if hook.refusing else 200)
                self.send_header("Retry-After", "60")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def kill_switch(self, *, refused: bool) -> list[dict]:
        return [b for b in list(self.bodies)
                if b.get("kind") == "kill_switch" and b["refused"] is refused]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _bot(tmp_path, hook: Webhook) -> RunningBot:
    return RunningBot(tmp_path, ready=lambda s: True,
                      supervision={"alert_webhook": hook.url})


@pytest.mark.parametrize("status", [503, 401])
def test_a_hook_alert_unsent_at_a_kill_reaches_the_webhook_after_the_restart(tmp_path, status):
    hook = Webhook(status)
    try:
        bot = _bot(tmp_path, hook)
        try:
            code, _, _ = bot.request("/api/control", body={"command": "kill_switch"},
                                     headers={"Authorization": f"Bearer {TOKEN}"})
            assert code == 202
            wait_until(lambda: hook.kill_switch(refused=True), timeout=30,
                       message="the kill switch alert refused once (its retry waits)")
            wait_until(lambda: kill_switch_done(bot.data), timeout=30,
                       message="the kill switch control marked done (not applied again)")
        finally:
            bot.proc.send_signal(signal.SIGKILL)
            bot.proc.communicate(timeout=30)
        hook.refusing = False  # the webhook takes alerts again
        again = _bot(tmp_path, hook)
        try:
            wait_until(lambda: hook.kill_switch(refused=False), timeout=30,
                       message="the killed bot's kill switch alert delivered after the restart")
        finally:
            code, err = again.stop()
        assert code == 0, err[-2000:]
    finally:
        hook.stop()
    delivered = hook.kill_switch(refused=False)
    assert len(delivered) == 1, delivered
    assert delivered[0].get("queued_at") is not None, delivered  # says it is from before
