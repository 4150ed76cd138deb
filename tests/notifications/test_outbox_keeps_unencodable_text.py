"""A message whose text holds a lone surrogate (a path that is not UTF-8, handed on by Python
as os.fsdecode does) is kept in Telegram's outbox like any other, so a bot killed before it was
sent sends it at the next start. Found by review: SQLite refused the text (UnicodeEncodeError)
and the outbox only said 'not kept': a status_write_failed alert naming such a path was lost
with a kill -9 while Telegram was away. The kept text shows the byte escaped (``\\udce9``).
Real BackgroundSender (not started: Telegram away, then the process gone), real SQLite file."""

from __future__ import annotations

import os

from loguru import logger

from notifications.outbox import Outbox
from notifications.sender import ALERT, BackgroundSender, Outgoing


def _unsendable(chat_id: int, text: str) -> None:
    raise AssertionError("nothing is sent: the sender never starts")


def test_a_text_with_a_lone_surrogate_is_kept_across_a_kill(tmp_path, lines):
    path = tmp_path / "telegram_outbox.db"
    outbox = Outbox(path, logger)
    sender = BackgroundSender(send=_unsendable, logger=logger, outbox=outbox)
    file = os.fsdecode(b"/srv/bot-\xe9t\xe9/status.json")  # '\udce9': a lone surrogate
    sender.submit(Outgoing(chat_id=7, text=f"STATUS_WRITE_FAILED: cannot write {file}",
                           kind="status_write_failed", priority=ALERT))
    outbox.close()  # the process is gone before Telegram answered

    again = Outbox(path, logger)
    try:
        left = again.left()
    finally:
        again.close()
    assert [row[1:4] for row in left] == [
        (7, "STATUS_WRITE_FAILED: cannot write /srv/bot-\\udce9t\\udce9/status.json",
         "status_write_failed")], "the alert was not kept"
    assert not [line for line in lines if "not kept in" in line]
