"""/status of a running bot (a real `python bot.py` subprocess, local fake Bot API) whose status
file cannot be read says so.

Found by review: the reply was built from DashboardSource.status(), which is None both before
the first status write and when status.json cannot be read; the reply said "no status yet", as
if the bot had just started, while the page answered with the problem."""

from __future__ import annotations

import pytest

from tests.dashboard.running_bot import RunningBot
from tests.notifications.fake_telegram import FakeTelegram
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
BOT_TOKEN = "4242:unreadable-status-token"
CHAT = 7


def make_status_a_directory(data) -> bool:
    path = data / "status.json"
    try:  # the bot renames a new file over it every 0.2 s: until the directory stays
        path.unlink(missing_ok=True)
        path.mkdir()
    except OSError:
        return False
    return True


def test_status_reply_says_the_status_file_cannot_be_read(tmp_path):
    fake = FakeTelegram(BOT_TOKEN)
    try:
        bot = RunningBot(tmp_path, env={"BOT_TELEGRAM_TOKEN": BOT_TOKEN},
                         ready=lambda s: True,
                         telegram={"enabled": True, "api_url": fake.url, "chat_ids": [CHAT],
                                   "poll_timeout_s": 1, "retry_initial_s": 0.1})
        try:
            wait_until(lambda: make_status_a_directory(bot.data), timeout=20,
                       message="status.json replaced by a directory")
            fake.add_update(CHAT, "/status")
            reply = wait_until(lambda: [t for t in fake.texts(CHAT) if "STATUS_WRITE" not in t],
                               timeout=20, message="the /status reply")
            assert reply[0].startswith("STATUS UNREADABLE: "), reply
            assert "status.json: cannot read the status" in reply[0], reply
        finally:
            code, err = bot.stop()
        assert code == 0, err[-2000:]
    finally:
        fake.stop()
