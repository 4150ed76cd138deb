"""Trade notices wait in a bounded queue while Telegram does not take them.

Found by review: the sender's queue had no bound. With `notify_trades` and Telegram unreachable
for hours (an outage, a firewall), every position opened and closed queued a notice per chat for
as long as the bot ran, and once Telegram answered again the chats got hours of stale notices
(at Telegram's pace, one a second per chat). Now at most `MAX_NOTICES` notices wait; a newer one
is dropped with a log line (then one a minute with the count), and alerts are never dropped.

A real HTTP server on 127.0.0.1 stands in for Telegram: it answers 502 until the test lets it
work."""

from __future__ import annotations

from loguru import logger

from notifications.sender import ALERT, NOTICE, BackgroundSender, Outgoing
from notifications.telegram import TelegramApi
from tests.notifications.scripted_http import ScriptedHttp
from tests.support.waiting import wait_until

TOKEN = "987654:queue-bound-test-token-0123456789"
DOWN = (502, {"ok": False, "description": "Bad Gateway"})
UP = (200, {"ok": True, "result": {}})
MAX_NOTICES = 1000
"""The bound the README gives (notifications/sender.py ``MAX_NOTICES``)."""


def test_notices_over_the_bound_are_dropped_with_a_line_and_alerts_still_queue(lines):
    server = ScriptedHttp(lambda path, body: DOWN)
    api = TelegramApi(base_url=server.url, token=TOKEN, timeout_s=5)
    sender = BackgroundSender(send=api.send_message, logger=logger, retry_initial_s=0.2,
                              retry_max_s=0.2)
    sender.start()
    try:
        sender.submit(Outgoing(chat_id=7, text="ESCALATION BTC", kind="escalation",
                               priority=ALERT))
        wait_until(lambda: server.count >= 1, timeout=10, message="the first attempt")
        for i in range(MAX_NOTICES + 5):
            sender.submit(Outgoing(chat_id=7, text=f"closed BTC #{i}", kind="trade",
                                   priority=NOTICE))
        assert sender.pending <= MAX_NOTICES + 1, sender.pending  # the notices and the alert
        dropped = [x for x in lines if "trade notice(s) dropped" in x]
        assert len(dropped) == 1, dropped  # one line for the run, not one per notice
        assert f"{MAX_NOTICES} notices already wait" in dropped[0]
        assert TOKEN not in dropped[0]

        sender.submit(Outgoing(chat_id=7, text="KILL_SWITCH on", kind="kill_switch",
                               priority=ALERT))
        assert sender.notices_dropped == 5  # an alert is never dropped (it is sent below)
        assert len([x for x in lines if "dropped" in x]) == 1

        server.answer = lambda path, body: UP  # Telegram answers again: the queue drains
        wait_until(lambda: sender.pending == 0 and sender.sent == MAX_NOTICES + 2, timeout=60,
                   message="the queue sent")
        sender.submit(Outgoing(chat_id=7, text="opened ETH", kind="trade", priority=NOTICE))
        wait_until(lambda: sender.sent == MAX_NOTICES + 3, timeout=10,
                   message="a notice queued again once there is room")
        texts = [body["text"] for body in server.bodies() if isinstance(body, dict)]
        assert "KILL_SWITCH on" in texts and "opened ETH" in texts
        assert f"closed BTC #{MAX_NOTICES}" not in texts  # the dropped ones never went
        assert sender.notices_dropped == 5
    finally:
        sender.stop(1)
        server.stop()
