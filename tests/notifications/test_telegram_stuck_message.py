"""A message that keeps failing in a way that is not permanent (a proxy answering HTTP 413 to a
long text) was retried at the head of its class for good: every later alert waited behind it and
none went out, nor any reply or trade notice (found by review). After ``set_aside_after`` failed
attempts it goes behind every other message, still retried (an outage loses nothing), and
logged once. Real HTTP server on 127.0.0.1."""

from __future__ import annotations

from loguru import logger

from notifications.sender import ALERT, NOTICE, BackgroundSender, Outgoing
from notifications.telegram import TelegramApi
from tests.notifications.scripted_http import ScriptedHttp
from tests.support.waiting import wait_until

TOKEN = "987654:stuck-message-token-0123456789abcdef"


def _proxy(path: str, body: object) -> tuple[int, dict[str, object]]:
    if isinstance(body, dict) and "HUGE" in str(body.get("text")):
        return 413, {"ok": False, "description": "Request Entity Too Large"}
    return 200, {"ok": True, "result": {"message_id": 1}}


def test_a_message_that_keeps_failing_does_not_block_later_ones(lines):
    server = ScriptedHttp(_proxy)
    api = TelegramApi(base_url=server.url, token=TOKEN, timeout_s=5)
    sender = BackgroundSender(send=api.send_message, logger=logger,
                              retry_initial_s=0.01, retry_max_s=0.02)
    sender.start()
    try:
        sender.submit(Outgoing(chat_id=7, text="HUGE status", kind="escalation", priority=ALERT))
        sender.submit(Outgoing(chat_id=7, text="KILL SWITCH on", kind="kill_switch",
                               priority=ALERT))
        sender.submit(Outgoing(chat_id=7, text="closed BTC", kind="trade", priority=NOTICE))
        wait_until(lambda: sender.sent == 2, timeout=10, message="the later messages sent")
        texts = [body.get("text") for body in server.bodies() if isinstance(body, dict)]
        assert texts.index("KILL SWITCH on") < texts.index("closed BTC")
        assert any("set aside" in line and "escalation" in line for line in lines)
        wait_until(lambda: server.count > len(texts), timeout=10,
                   message="the failing one still retried")
    finally:
        sender.stop(0.1)
        server.stop()
