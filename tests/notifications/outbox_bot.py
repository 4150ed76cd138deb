"""A TelegramBot with an outbox, talking to a FakeTelegram, as the outbox tests build it."""

from __future__ import annotations

from loguru import logger

from notifications.outbox import Outbox
from notifications.telegram import TelegramApi
from notifications.telegram_bot import TelegramBot
from tests.notifications.fake_telegram import FakeTelegram


def outbox_bot(fake: FakeTelegram, outbox: Outbox, chat_ids: tuple[int, ...] = (7,),
               token: str | None = None) -> TelegramBot:
    """Commands off (no poller), a short retry; not started. ``token``: the bot's (default:
    the one ``fake`` takes)."""
    return TelegramBot(api=TelegramApi(base_url=fake.url, token=token or fake.token,
                                       timeout_s=5),
                       chat_ids=chat_ids, logger=logger, status_text=lambda: "",
                       pause=lambda by: "", commands=False, retry_initial_s=0.05,
                       outbox=outbox)
