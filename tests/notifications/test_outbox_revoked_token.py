"""An alert Telegram answered 401 (the bot token revoked while the bot runs) stays in the
outbox and reaches the chat once the bot runs with the new token.

Found by review: a 401 was a permanent refusal of the message, so the sender dropped it and
removed its outbox row, though Telegram had not taken it and it says nothing about the
message. A person who revoked a leaked token in @BotFather lost every escalation raised until
the restart with the new token (each one ERROR line, none ever sent). Now a 401 is a failure
every message meets (retried, kept in the outbox, its place kept), and the start check still
refuses a token Telegram refuses (dashboard/wiring.py).

Real parts: TelegramBot with its sender thread, SQLite outbox, a real HTTP server on 127.0.0.1
for the Bot API (it answers 401 to any token but its own)."""

from __future__ import annotations

from loguru import logger

from notifications.outbox import Outbox
from notifications.sender import ALERT
from tests.notifications.fake_telegram import FakeTelegram
from tests.notifications.outbox_bot import outbox_bot
from tests.support.waiting import wait_until

NEW_TOKEN = "4242:the-new-token"


def test_an_alert_refused_401_is_kept_and_sent_with_the_new_token(tmp_path, lines):
    fake = FakeTelegram(NEW_TOKEN)  # the old token was revoked: Telegram answers it 401
    outbox = Outbox(tmp_path / "telegram_outbox.db", logger)
    try:
        old = outbox_bot(fake, outbox, token="4242:the-revoked-token")
        old.start()
        old.broadcast("ESCALATION BTC/USDT:USDT: closes failed", "escalation", priority=ALERT)
        wait_until(lambda: fake.bad_token_calls >= 1, timeout=10, message="the 401 answer")
        old.stop(timeout_s=1)
        assert [row[2] for row in outbox.left()] == ["ESCALATION BTC/USDT:USDT: closes failed"]
        new = outbox_bot(fake, outbox)  # the restart with the new token
        new.start()
        wait_until(lambda: fake.texts(7), timeout=10, message="the alert sent")
        new.stop()
    finally:
        fake.stop()
        outbox.close()
    assert fake.texts(7) == [t for t in fake.texts(7) if "before a restart) ESCALATION" in t]
    assert len(fake.texts(7)) == 1 and outbox_left_after(tmp_path) == 0


def outbox_left_after(tmp_path) -> int:  # noqa: ANN001
    again = Outbox(tmp_path / "telegram_outbox.db", logger)
    try:
        return len(again.left())
    finally:
        again.close()
