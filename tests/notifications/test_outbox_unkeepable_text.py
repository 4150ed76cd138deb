"""An alert whose text the outbox cannot keep still reaches Telegram, its loss said in one line.

Found by review: a path that is not UTF-8 (a data dir named with a Latin-1 byte, which Python
hands on as a lone surrogate: os.fsdecode) in an alert's text, e.g. ``status_write_failed``
naming its file, made the outbox's INSERT raise UnicodeEncodeError, not sqlite3.Error. It went
out of the sender's submit into the Alerts listener: an ``alert listener failed`` traceback,
and the alert never reached the chat, though the Bot API takes that text (JSON escapes it).
Now the outbox says in one line that the message is not kept, and it is sent. (Since, such a
text is kept with its byte escaped: test_outbox_keeps_unencodable_text.py.)

Real parts: Alerts, TelegramBot with its sender thread, SQLite outbox, a real HTTP server on
127.0.0.1 for the Bot API."""

from __future__ import annotations

import os

from loguru import logger

from notifications.outbox import Outbox
from supervision.alerts import Alerts
from tests.notifications.fake_telegram import FakeTelegram
from tests.notifications.outbox_bot import outbox_bot
from tests.support.waiting import wait_until

TOKEN = "4242:outbox-unkeepable-token"


def test_an_alert_the_outbox_cannot_keep_is_still_sent(tmp_path, lines):
    fake = FakeTelegram(TOKEN)
    outbox = Outbox(tmp_path / "telegram_outbox.db", logger)
    bot = outbox_bot(fake, outbox)
    alerts = Alerts(logger=logger)
    alerts.listen(bot.on_alert)
    bot.start()
    path = os.fsdecode(b"/srv/bot-\xe9t\xe9/status.json")  # '\udce9': a lone surrogate
    try:
        alerts.alert(None, "status_write_failed", f"cannot write {path}", file=path)
        wait_until(lambda: fake.texts(7), timeout=10, message="the alert sent")
    finally:
        bot.stop()
        fake.stop()
        outbox.close()
    assert fake.texts(7)[0].startswith("STATUS_WRITE_FAILED: cannot write /srv/bot-")
    assert not [line for line in lines if "not kept in" in line]  # kept, escaped
    assert not any("alert listener failed" in line for line in lines), lines
