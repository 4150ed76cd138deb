"""An alert raised after Telegram's sender stopped (the shutdown's own: the final status write,
an actor failing as it stops) is kept in the outbox and reaches the chat at the next start.

Mutation audit: with submit() keeping a message only while the sender runs
(notifications/sender.py, ``if not self._stopped and not self._full(item)`` before ``_kept``),
every test still passed, while such an alert was one "not sent" log line and then gone: the
next start had nothing to send. Real parts: TelegramBot with its sender thread, SQLite outbox,
a real HTTP server on 127.0.0.1 for the Bot API."""

from __future__ import annotations

from loguru import logger

from notifications.outbox import Outbox
from tests.notifications.fake_telegram import FakeTelegram
from tests.notifications.outbox_bot import outbox_bot
from tests.notifications.test_outbox_revoked_token import outbox_left_after
from tests.support.waiting import wait_until

TOKEN = "4242:outbox-after-stop-token"


def test_an_alert_raised_after_the_sender_stopped_is_sent_at_the_next_start(tmp_path, lines):
    fake = FakeTelegram(TOKEN)
    outbox = Outbox(tmp_path / "telegram_outbox.db", logger)
    try:
        old = outbox_bot(fake, outbox)
        old.start()
        old.stop(timeout_s=1)
        old.on_alert({"kind": "status_write_failed", "message": "status.json not written"})
        assert any("not sent (the sender has stopped); kept in the outbox" in line
                   for line in lines), lines
        assert fake.attempts == []
        new = outbox_bot(fake, outbox)  # the next start
        new.start()
        wait_until(lambda: fake.texts(7), timeout=10, message="the alert sent")
        new.stop()
    finally:
        fake.stop()
        outbox.close()
    assert fake.texts(7) == [t for t in fake.texts(7)
                             if "before a restart) STATUS_WRITE_FAILED" in t], fake.texts(7)
    assert len(fake.texts(7)) == 1 and outbox_left_after(tmp_path) == 0
