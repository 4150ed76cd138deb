"""/pause sent twice from Telegram (a person tapping twice, an update handed again) while the
first pause is still pending: one control row, the second answered "already queued" with its
control id.

Found by review: every /pause queued a new row, so two pauses were journaled for one. Real
parts: a real HTTP server on 127.0.0.1 standing in for the Bot API, the real TelegramBot
poller, dashboard/wiring.py `pause_accounts` (what the bot wires to /pause), real SQLite."""

from __future__ import annotations

import time
from types import SimpleNamespace

from loguru import logger

from dashboard.wiring import pause_accounts
from notifications.telegram import TelegramApi
from notifications.telegram_bot import TelegramBot
from storage.models import ControlRow
from storage.repository import Repository
from tests.notifications.fake_telegram import FakeTelegram
from tests.support.waiting import wait_until

TOKEN = "4242:pause-twice-token"
CHAT = 7


def test_a_second_pause_while_the_first_is_pending_is_answered_already_queued(tmp_path):
    fake = FakeTelegram(TOKEN)
    repo = Repository(tmp_path / "bot.sqlite")
    accounts = [SimpleNamespace(name="main", repo=repo)]
    bot = TelegramBot(api=TelegramApi(base_url=fake.url, token=TOKEN, timeout_s=5),
                      chat_ids=(CHAT,), logger=logger, status_text=lambda: "",
                      pause=lambda by: pause_accounts(accounts, by, logger), poll_timeout_s=1,
                      retry_initial_s=0.05, retry_max_s=0.2, started_at=time.time() - 5)
    bot.start()
    try:
        fake.add_update(CHAT, "/pause", date=int(time.time()))
        fake.add_update(CHAT, "/pause", date=int(time.time()))
        wait_until(lambda: len(fake.texts(CHAT)) == 2, timeout=15, message="both answered")
    finally:
        bot.stop()
        fake.stop()
    try:
        rows = repo.read(lambda: [(r.id, r.command) for r in ControlRow.select()])
    finally:
        repo.close()
    assert [c for _, c in rows] == ["pause"], rows
    ((cid, _),) = rows
    first, second = fake.texts(CHAT)
    assert first == "pausing new entries on 1 account(s); positions stay protected", first
    assert second == ("pausing new entries on 1 account(s); positions stay protected; already "
                      f"queued, not queued again: main (control {cid})"), second
