"""One row of Telegram's outbox that cannot be read must not keep the others from the chat.

Found by review: the rows a killed run left were read in one go, so one row whose text is not
UTF-8 (a damaged page of telegram_outbox.db) failed the whole read: the escalation and the
reply kept beside it were never sent, at this start or any later one (the same line each
time), and a row with a column of the wrong type (text where the time belongs) raised out of
the sender's constructor, a traceback that stopped the bot's start. Now such a row is one
ERROR line naming it and the file, dropped; every other row is sent, oldest first.

Real parts: SQLite outbox (the bad row written by a second connection, as damage would),
TelegramBot with its sender thread, a real HTTP server on 127.0.0.1 for the Bot API."""

from __future__ import annotations

import sqlite3

import pytest
from loguru import logger

from notifications.outbox import Outbox
from notifications.sender import ALERT, REPLY
from tests.notifications.fake_telegram import FakeTelegram
from tests.notifications.outbox_bot import outbox_bot
from tests.support.waiting import wait_until

TOKEN = "4242:outbox-bad-row-token"
BAD_ROWS = {
    "text not utf-8": "7, CAST(X'FF41' AS TEXT), 'escalation', 0, 1.0",
    "time not a number": "7, 'garbled', 'escalation', 0, 'yesterday'",
}


@pytest.mark.parametrize("bad", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_one_unreadable_row_is_dropped_and_the_others_are_sent(tmp_path, lines, bad):
    path = tmp_path / "telegram_outbox.db"
    earlier = Outbox(path, logger)  # what the killed run had kept
    earlier.add(7, "ESCALATION BTC/USDT:USDT: closes failed", "escalation", ALERT)
    damage = sqlite3.connect(path)
    damage.execute("INSERT INTO outbox (chat_id, text, kind, priority, queued_at) "
                   f"VALUES ({bad})")
    damage.commit()
    damage.close()
    earlier.add(7, "main: open 1 position", "reply", REPLY)
    earlier.close()
    fake = FakeTelegram(TOKEN)
    outbox = Outbox(path, logger)
    bot = outbox_bot(fake, outbox)
    bot.start()
    try:
        wait_until(lambda: len(fake.texts(7)) == 2, timeout=10, message="both good rows sent")
        wait_until(lambda: outbox.left() == [], timeout=10, message="the outbox emptied")
    finally:
        bot.stop()
        fake.stop()
        outbox.close()
    sent = fake.texts(7)
    assert "ESCALATION BTC/USDT:USDT" in sent[0] and "main: open 1 position" in sent[1], sent
    said = [line for line in lines if "outbox row 2 " in line]
    assert len(said) == 1 and str(path) in said[0] and "dropped" in said[0], said
    assert not any("Traceback" in line for line in lines)
