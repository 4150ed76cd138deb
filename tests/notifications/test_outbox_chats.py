"""What a killed run left in Telegram's outbox goes only to chats still listed.

A chat taken out of telegram.chat_ids between two runs (a group the bot should no longer talk
to) must not receive the alerts and /status replies (positions, P&L) the earlier run had
queued for it: they are dropped, said in one line; a listed chat's are sent. Real SQLite
outbox, real HTTP server on 127.0.0.1 standing in for the Bot API."""

from __future__ import annotations

from loguru import logger

from notifications.outbox import Outbox
from notifications.sender import ALERT, REPLY
from tests.notifications.fake_telegram import FakeTelegram
from tests.notifications.outbox_bot import outbox_bot
from tests.support.waiting import wait_until

TOKEN = "4242:outbox-chats-token"


def test_a_left_message_for_a_chat_no_longer_listed_is_dropped(tmp_path, lines):
    path = tmp_path / "telegram_outbox.db"
    earlier = Outbox(path, logger)  # what the killed run had kept
    earlier.add(99, "main: open 1 position ...", "reply", REPLY)
    earlier.add(7, "ESCALATION BTC/USDT:USDT: closes failed", "escalation", ALERT)
    earlier.close()
    fake = FakeTelegram(TOKEN)
    outbox = Outbox(path, logger)
    bot = outbox_bot(fake, outbox)
    bot.start()
    try:
        wait_until(lambda: fake.texts(7), timeout=10, message="the listed chat's alert")
        wait_until(lambda: outbox.left() == [], timeout=10, message="the outbox emptied")
    finally:
        bot.stop()
        fake.stop()
        outbox.close()
    assert fake.texts(99) == [] and fake.attempts == fake.texts(7), fake.attempts
    assert any("chat 99" in line and "no longer in telegram.chat_ids" in line
               for line in lines)
