"""The command poller (getUpdates) logs its failures as the sender does: the first one, then
at most one line a minute with the count of failed polls, and one line when it answers again.

Found by review: it logged a WARNING at every failed poll (1, 2, 4, ... 60 s backoff, then one
a minute for as long as Telegram was away), while the README promised the first failure and
then at most one line a minute. A real TelegramBot polls a local fake Bot API on 127.0.0.1
whose getUpdates keeps failing; the minute is crossed by the bot's injected clock, never by
sleeping."""

from __future__ import annotations

import threading
import time

from loguru import logger

from notifications.telegram import TelegramApi
from notifications.telegram_bot import TelegramBot
from tests.notifications.fake_telegram import FakeTelegram
from tests.notifications.scripted_http import ScriptedHttp
from tests.support.waiting import wait_until

TOKEN = "123:poller"


def test_failed_polls_are_one_line_then_one_a_minute_then_one_when_answered():
    fake = FakeTelegram(TOKEN)
    fake.fail_updates = 502
    now = [1000.0]
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="INFO",
                      filter=lambda r: "getUpdates" in r["message"])
    bot = TelegramBot(api=TelegramApi(base_url=fake.url, token=TOKEN, timeout_s=5),
                      chat_ids=(7,), logger=logger, status_text=lambda: "",
                      pause=lambda by: "", poll_timeout_s=0, retry_initial_s=0.01,
                      retry_max_s=0.02, log_every_s=60.0, clock=lambda: now[0])
    bot.start()
    try:
        wait_until(lambda: fake.update_calls >= 12, timeout=30, message="12 failed polls")
        # before the fix: a WARNING line per failed poll
        assert len(lines) == 1, lines
        assert "getUpdates failed" in lines[0] and "one line per 60s at most" in lines[0]
        now[0] += 61  # a minute on: the next failure is one line with the count
        calls = fake.update_calls
        wait_until(lambda: fake.update_calls >= calls + 3, timeout=30, message="3 more polls")
        assert len(lines) == 2, lines
        assert "failed polls since the last line" in lines[1], lines[1]
        fake.fail_updates = None
        wait_until(lambda: len(lines) == 3, timeout=30, message="the poller answered again")
        assert "getUpdates works again after" in lines[2], lines[2]
        calls = fake.update_calls
        wait_until(lambda: fake.update_calls >= calls + 3, timeout=30, message="3 good polls")
        assert len(lines) == 3, lines
    finally:
        bot.stop()
        fake.stop()
        logger.remove(sink)


def test_a_reply_the_poller_cannot_move_past_is_polled_again_with_backoff():
    """getUpdates answering the same unusable update again and again (not an object: no
    update_id to move the offset past) is polled again after the backoff, not at once (mutation
    audit: with that wait dropped every test still passed, while the poller asked Telegram as
    fast as the network answered, a WARNING line per request)."""
    server = ScriptedHttp(lambda path, body: (200, {
        "ok": True, "result": ["not an update"] if path.endswith("/getUpdates") else {}}))
    bot = TelegramBot(api=TelegramApi(base_url=server.url, token=TOKEN, timeout_s=5),
                      chat_ids=(7,), logger=logger, status_text=lambda: "",
                      pause=lambda by: "", poll_timeout_s=0, retry_initial_s=0.2,
                      retry_max_s=0.4)
    start = time.monotonic()
    bot.start()
    try:
        wait_until(lambda: server.count >= 1, timeout=10, message="the first poll")
        threading.Event().wait(1.5)  # the bounded window whose requests are counted
        polls = server.count
        lasted = time.monotonic() - start  # a loaded machine wakes the test late
    finally:
        bot.stop()
        server.stop()
    most = int(lasted / 0.2) + 1  # polls at least 0.2 s apart
    assert polls <= most, f"{polls} polls in {lasted:.2f} s with a 0.2 s backoff floor"
