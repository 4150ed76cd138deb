"""Found by review: an escalation waited behind 133 queued trade notices, and a chat id holding a
newline forged a second log line. Alerts go before queued trade notices (each class in its
order); values from Telegram updates are logged escaped, one update one line."""

from __future__ import annotations

import threading

import pytest
from loguru import logger

from notifications.telegram import TelegramApi
from notifications.telegram_bot import TelegramBot
from tests.notifications.fake_telegram import FakeTelegram
from tests.support.waiting import wait_until

TOKEN = "123456:order-and-input-token"


@pytest.fixture
def fake():
    server = FakeTelegram(TOKEN)
    yield server
    server.stop()


def _bot(fake: FakeTelegram, **kw) -> TelegramBot:  # noqa: ANN003
    # timeout 60 s: the tests hold the first notice in flight until the rest is queued (seconds
    # on a loaded machine); at 5 s it timed out once in CI and was sent again after the reply,
    # which is the retry working, not the order under test
    return TelegramBot(api=TelegramApi(base_url=fake.url, token=TOKEN, timeout_s=60),
                       chat_ids=(11,), logger=logger, status_text=lambda: "all fine",
                       pause=lambda by: "pausing", notify_trades=True, poll_timeout_s=1,
                       retry_initial_s=0.05, retry_max_s=0.2, **kw)


def test_an_escalation_goes_before_queued_trade_notices(fake):
    bot = _bot(fake, commands=False)
    bot.start()
    try:
        fake.hold = threading.Event()  # the first notice is in flight and held there
        bot.broadcast("trade 0", "trade")
        wait_until(lambda: fake.sends >= 1, timeout=10, message="the first notice in flight")
        for i in range(1, 41):
            bot.broadcast(f"trade {i}", "trade")
        bot.on_alert({"kind": "escalation", "symbol": "BTC/USDT:USDT", "message": "quarantined"})
        bot.on_alert({"kind": "kill_switch", "symbol": None, "message": "no new entries"})
        fake.hold.set()
        wait_until(lambda: len(fake.messages) == 43, timeout=20, message="every message sent")
    finally:
        bot.stop()
    texts = fake.texts(11)
    assert texts[:3] == ["trade 0", "ESCALATION BTC/USDT:USDT: quarantined",
                         "KILL_SWITCH: no new entries"]
    assert texts[3:] == [f"trade {i}" for i in range(1, 41)]  # their order kept


def test_a_command_reply_goes_before_queued_trade_notices(fake):
    bot = _bot(fake)
    bot.start()
    try:
        fake.hold = threading.Event()
        bot.broadcast("trade 0", "trade")
        wait_until(lambda: fake.sends >= 1, timeout=10, message="the first notice in flight")
        for i in range(1, 11):
            bot.broadcast(f"trade {i}", "trade")
        fake.add_update(11, "/status")
        wait_until(lambda: bot.sender.pending >= 11, timeout=10, message="the reply queued")
        fake.hold.set()
        wait_until(lambda: len(fake.messages) == 12, timeout=20, message="every message sent")
    finally:
        bot.stop()
    assert fake.texts(11)[:2] == ["trade 0", "all fine"]


def test_a_chat_id_with_a_newline_is_one_log_line(fake, lines):
    bot = _bot(fake)
    bot.start()
    try:
        fake.add_update("1\n2026-01-01 | CRITICAL | - | FORGED", "/pause")  # type: ignore[arg-type]
        wait_until(lambda: any("ignored (not in telegram.chat_ids)" in x for x in lines),
                   timeout=15, message="the stranger's command logged")
    finally:
        bot.stop()
    ignored = [x for x in lines if "ignored (not in telegram.chat_ids)" in x]
    assert len(ignored) == 1
    assert "\n" not in ignored[0].rstrip("\n"), ignored[0]
    assert "FORGED" in ignored[0]  # shown, escaped, on the one line
    assert not any(x.startswith("2026-01-01 | CRITICAL") for x in lines)
