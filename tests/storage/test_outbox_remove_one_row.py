"""An outbox removes only the row of the message its receiver took: the messages queued after
it stay in the file, so a bot killed before they were sent sends them at its next start.

Found by the incident-rule mutation audit (helper s): with `OutboxFile.remove` deleting every
row from the delivered one on (storage/outbox_file.py:71, `id >= ?`), no test failed (the
kill tests kill before the first delivery). Then the first alert Telegram took erased the
alerts queued behind it, and a kill -9 before their turn lost them. Real outbox files (the
Telegram outbox and the alert hooks' share OutboxFile), closed and opened again as a restart
opens them."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from notifications.outbox import Outbox


def test_a_delivered_message_takes_only_its_own_row_out(tmp_path: Path) -> None:
    path = tmp_path / "telegram_outbox.db"
    outbox = Outbox(path, logger)
    rows = [outbox.add(42, f"alert {n}", "alert", 1) for n in (1, 2, 3)]
    assert None not in rows
    outbox.remove(rows[0])  # alert 1 delivered
    outbox.close()  # killed before the turn of alerts 2 and 3

    restarted = Outbox(path, logger)
    try:
        assert [(row[0], row[2]) for row in restarted.left()] == [
            (rows[1], "alert 2"), (rows[2], "alert 3")]
    finally:
        restarted.close()
