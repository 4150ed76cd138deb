"""Telegram against a real local HTTP server: alerts reach every allow-listed chat without
blocking the caller, failed sends are retried and logged, commands come only from allowed chats."""

from __future__ import annotations

import threading

import pytest
from loguru import logger

from notifications.telegram import TelegramApi
from notifications.telegram_bot import TelegramBot
from tests.notifications.fake_telegram import FakeTelegram
from tests.support.waiting import wait_until

TOKEN = "123456:secret-bot-token"


@pytest.fixture
def fake():
    server = FakeTelegram(TOKEN)
    yield server
    server.stop()


def make_bot(fake: FakeTelegram, **kw) -> TelegramBot:
    state = {"paused_by": []}

    def pause(by: str) -> str:
        state["paused_by"].append(by)
        return "pausing"

    bot = TelegramBot(api=TelegramApi(base_url=fake.url, token=TOKEN, timeout_s=5),
                      chat_ids=(11, 22), logger=logger, status_text=lambda: "open 2, today -3.5",
                      pause=pause, poll_timeout_s=1, retry_initial_s=0.05, retry_max_s=0.2, **kw)
    bot.paused_by = state["paused_by"]  # type: ignore[attr-defined]
    return bot


def test_alert_goes_to_every_chat_without_blocking_and_trade_notices_are_filtered(fake):
    bot = make_bot(fake, commands=False)
    bot.start()
    try:
        fake.hold = threading.Event()  # the server answers nothing until released
        fake.fail_next = [500] * 3  # ... and then fails: the caller must never wait for either
        caller = threading.Thread(target=lambda: (
            bot.on_alert({"kind": "escalation", "symbol": "BTC/USDT:USDT",
                          "message": "quarantined", "account": "alpha"}),
            bot.on_alert({"kind": "trade", "symbol": "BTC/USDT:USDT", "message": "closed"})))
        caller.start()
        caller.join(10)
        assert not caller.is_alive() and fake.messages == []  # returned before anything was sent
        fake.hold.set()
        wait_until(lambda: len(fake.messages) == 2, timeout=10, message="both chats notified")
        assert sorted(m["chat_id"] for m in fake.messages) == [11, 22]
        assert fake.texts(11) == ["ESCALATION alpha BTC/USDT:USDT: quarantined"]
    finally:
        bot.stop()


def test_failed_sends_are_retried_and_logged_and_permanent_refusals_logged(fake, lines):
    bot = make_bot(fake, commands=False)
    bot.start()
    try:
        fake.fail_next = [502, 429]
        bot.broadcast("kill switch on", "kill_switch")
        wait_until(lambda: len(fake.messages) == 2, timeout=10, message="delivered after retries")
        assert fake.texts() == ["kill switch on", "kill switch on"]  # once per chat, no duplicate
        retries = [line for line in lines if "telegram: sending kill_switch" in line]
        # the first failure is logged; the second falls within the minute: counted, not logged
        assert len(retries) == 1 and "retrying" in retries[0]
        assert any("sending works again after 2 failed attempts" in line for line in lines)
        fake.fail_next = [400]
        bot.broadcast("protection tripped", "protection")
        wait_until(lambda: any("refused, not retried" in line for line in lines), timeout=10,
                   message="permanent refusal logged")
        wait_until(lambda: len(fake.messages) == 3, timeout=10, message="second chat still gets it")
    finally:
        bot.stop()
    assert not any(TOKEN in line for line in lines), "the bot token reached a log line"


def test_unsent_messages_are_logged_at_shutdown(lines):
    # nothing listens on this port: every attempt fails, the message is never dropped silently
    api = TelegramApi(base_url="http://127.0.0.1:9", token=TOKEN, timeout_s=0.2)
    bot = TelegramBot(api=api, chat_ids=(11,), logger=logger, status_text=lambda: "",
                      pause=lambda by: "", commands=False, retry_initial_s=0.05, retry_max_s=0.1)
    bot.start()
    bot.broadcast("escalation X\nBTC: closing failed 5 times", "escalation")
    wait_until(lambda: bot.sender.failed_attempts >= 2, timeout=10, message="retrying")
    bot.stop(timeout_s=0.3)
    unsent = [line for line in lines if "not sent before shutdown" in line]
    # the whole message in one line (a multi-line text must not read as several log lines)
    assert len(unsent) == 1 and "escalation X\\nBTC: closing failed 5 times" in unsent[0]
    assert unsent[0].count("\n") <= 1
    assert not any(TOKEN in line for line in lines)


def test_an_alert_raised_after_the_sender_stopped_is_logged_as_not_sent(fake, lines):
    # the bot stops its operator services before its accounts: an alert raised while the
    # actors finish their last message (or by the final status write) was queued to a sender
    # that had stopped, and no line said it never reached Telegram
    bot = make_bot(fake, commands=False)
    bot.start()
    bot.stop()
    bot.on_alert({"kind": "escalation", "symbol": "BTC/USDT:USDT",
                  "message": "close failed 5 times\nquarantined"})
    unsent = [line for line in lines if "not sent" in line and "escalation" in line]
    assert len(unsent) == 2, lines  # one per chat
    assert all("ESCALATION BTC/USDT:USDT: close failed 5 times\\nquarantined" in line
               for line in unsent), unsent
    assert fake.messages == []


def test_a_message_whose_send_fails_after_the_stop_gave_up_waiting_is_logged(fake, lines):
    # found by review: stop() waits a few seconds for the sender, then logs what is still
    # queued; a message whose request was still in flight then (Telegram slow to answer) was
    # put back in the queue when the request failed, after that look, and no line said it was
    # never sent
    api = TelegramApi(base_url=fake.url, token=TOKEN, timeout_s=10)
    bot = TelegramBot(api=api, chat_ids=(11,), logger=logger, status_text=lambda: "",
                      pause=lambda by: "", commands=False, retry_initial_s=0.05)
    bot.start()
    fake.hold = threading.Event()  # the server answers nothing until released ...
    fake.fail_next = [502]  # ... and then fails
    bot.broadcast("escalation BTC: close failed 5 times", "escalation")
    wait_until(lambda: fake.sends >= 1, timeout=10, message="the send in flight")
    bot.stop(timeout_s=0.2)  # gives up waiting while the request is still in flight
    fake.hold.set()
    wait_until(lambda: [line for line in lines if "not sent" in line], timeout=10,
               message="the message logged as not sent")
    unsent = [line for line in lines if "not sent" in line]
    assert len(unsent) == 1 and "escalation BTC: close failed 5 times" in unsent[0], unsent


def test_commands_only_from_allow_listed_chats(fake, lines):
    bot = make_bot(fake)
    bot.start()
    try:
        fake.add_update(99, "/pause")  # a stranger
        fake.add_update(11, "/status")
        fake.add_update(22, "/pause@Fake_Bot")  # this bot's username (getMe), any case
        wait_until(lambda: len(fake.messages) == 2, timeout=15, message="two replies")
        assert fake.texts(11) == ["open 2, today -3.5"]
        assert fake.texts(22) == ["pausing"]
        assert fake.texts(99) == []
        assert bot.paused_by == ["telegram chat 22"]  # type: ignore[attr-defined]
        assert any("command from chat 99 ignored" in line for line in lines)
    finally:
        bot.stop()


def test_a_command_addressed_to_another_bot_is_ignored(fake):
    """In a group where the bot sees every message, `/pause@other_bot` paused this bot too."""
    bot = make_bot(fake)
    bot.start()
    try:
        fake.add_update(11, "/pause@other_bot")
        fake.add_update(11, "/status@other_bot")
        fake.add_update(22, "/status@fake_bot")  # answered after the two above: they are done
        wait_until(lambda: fake.texts(22), timeout=15, message="the /status reply")
        assert fake.texts(22) == ["open 2, today -3.5"]
        assert fake.texts(11) == []
        assert bot.paused_by == []  # type: ignore[attr-defined]
    finally:
        bot.stop()


def test_a_position_left_without_its_stop_is_always_sent(fake):
    """The `unprotected` alert (supervision/coverage.py) goes out like an escalation, with trade
    notices off."""
    bot = make_bot(fake, commands=False)
    bot.start()
    try:
        bot.on_alert({"kind": "unprotected", "symbol": "BTC/USDT:USDT", "account": "alpha",
                      "message": "stop coverage 0%: BTC/USDT:USDT long without an exchange stop"})
        wait_until(lambda: len(fake.messages) == 2, timeout=10, message="both chats notified")
        assert all("BTC/USDT:USDT long without an exchange stop" in t for t in fake.texts())
    finally:
        bot.stop()


def test_a_message_longer_than_telegram_takes_is_cut_and_says_so(fake):
    """Messages were cut at 4,000 characters with no mark, so a long /status or alert (many
    symbols) read as if it were whole."""
    api = TelegramApi(base_url=fake.url, token=TOKEN, timeout_s=5)
    api.send_message(11, "x" * 3990)  # short enough: as it is
    api.send_message(11, "y" * 10_000)
    short, long = fake.texts(11)
    assert short == "x" * 3990
    assert len(long) <= 4000 and long.startswith("y" * 3000)
    kept = long.index("\n…")
    assert long.endswith(f"(cut: {10_000 - kept} more characters; the dashboard or "
                         "`bot.py status` has the rest)")


def test_a_message_still_in_flight_when_stop_returns_is_logged_at_once(fake, lines):
    # found by review: stop() gave up waiting while Telegram had not answered the request of
    # an escalation; nothing was logged about it until that request ended, and the bot process
    # exits right after stop(): the alert was lost with no line at all
    api = TelegramApi(base_url=fake.url, token=TOKEN, timeout_s=10)
    bot = TelegramBot(api=api, chat_ids=(11,), logger=logger, status_text=lambda: "",
                      pause=lambda by: "", commands=False, retry_initial_s=0.05)
    bot.start()
    fake.hold = threading.Event()  # the server answers nothing until released
    try:
        bot.broadcast("escalation BTC: close failed 5 times", "escalation")
        wait_until(lambda: fake.sends >= 1, timeout=10, message="the send in flight")
        bot.stop(timeout_s=0.2)  # returns while the request is still unanswered
        told = [line for line in lines if "still in flight at shutdown" in line]
        assert len(told) == 1 and "escalation BTC: close failed 5 times" in told[0], lines
        assert TOKEN not in told[0]
    finally:
        fake.hold.set()


def test_stop_gives_a_message_waiting_out_its_backoff_one_more_attempt(fake, lines):
    # found by review: a message whose send failed waits its backoff (up to retry_max_s, 60 s
    # by default) before the next attempt; stop() waited only timeout_s for the sender and
    # then logged it "not sent before shutdown", though Telegram answered again meanwhile
    api = TelegramApi(base_url=fake.url, token=TOKEN, timeout_s=5)
    bot = TelegramBot(api=api, chat_ids=(11,), logger=logger, status_text=lambda: "",
                      pause=lambda by: "", commands=False, retry_initial_s=30, retry_max_s=60)
    bot.start()
    fake.fail_next = [502]  # the first attempt fails, Telegram answers again after it
    bot.broadcast("escalation BTC: close failed 5 times", "escalation")
    wait_until(lambda: bot.sender.failed_attempts == 1, timeout=10, message="the failed attempt")
    bot.stop(timeout_s=5)
    assert fake.texts(11) == ["escalation BTC: close failed 5 times"], lines
    assert not [line for line in lines if "not sent" in line], lines


def test_a_stranger_sending_commands_in_a_loop_is_one_log_line(fake, lines):
    # found by review: every command from a chat not allowed was a WARNING line; a stranger
    # who found the bot's public username could fill the log as fast as they typed
    bot = make_bot(fake)
    bot.start()
    try:
        for _ in range(20):
            fake.add_update(99, "/pause")
        fake.add_update(11, "/status")  # handled after the 20: its reply says they were
        wait_until(lambda: fake.texts(11), timeout=15, message="the /status reply")
        ignored = [line for line in lines if "command from chat 99 ignored" in line]
        assert len(ignored) == 1, ignored
        assert fake.texts(99) == [] and bot.paused_by == []  # type: ignore[attr-defined]
    finally:
        bot.stop()


def test_an_alert_is_sent_as_plain_text_its_markup_characters_as_they_are(fake):
    """README (Telegram): "Messages are sent as plain text (no `parse_mode`): a symbol or reason
    is never read as markup". With a `parse_mode` Telegram would render `*`, `_`, `<b>` and
    `[..](..)` (or refuse the message as unparsable markup: a lost alert); no test held it."""
    bot = make_bot(fake, commands=False)
    bot.start()
    try:
        reason = "close failed: <b>-2019</b> *Margin_is_insufficient* [see](http://x.invalid/_a_)"
        bot.on_alert({"kind": "escalation", "symbol": "1000PEPE/USDT:USDT", "message": reason,
                      "account": "alpha"})
        wait_until(lambda: len(fake.messages) == 2, timeout=10, message="both chats notified")
        for body in fake.messages:
            assert "parse_mode" not in body, body
            assert body["text"] == f"ESCALATION alpha 1000PEPE/USDT:USDT: {reason}", body
    finally:
        bot.stop()
